"""A dealer's staff read their own B2B account's orders through the API, and nothing else: not
another dealer's order (404), not the list of all orders, not another customer's by filter."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sales_helpers import person, product, warehouse_with_stock


def _place(db, rep, customer_id, qty):
    from merx.core.auth import Principal, Role
    from merx.core.uow import UnitOfWork
    from merx.orders import public as orders

    who = Principal(user_id=rep.user_id, role=Role.sales_rep)
    with UnitOfWork(db, who) as uow:
        return orders.place_order_at_prices(uow, customer_id=customer_id, currency="EUR", placed_by=who,
                                            lines=[orders.PricedLine("DL-1", qty, Decimal("19.90"))])


def _dealer_user(db, name, customer_id):
    from sales_helpers import Person

    from merx.core import accounts
    from merx.core.auth import Role
    from merx.core.uow import UnitOfWork

    with UnitOfWork(db) as uow:
        issued = accounts.create_user_with_key(uow, name=name, role=Role.dealer, customer_id=customer_id)
    return Person(issued.user_id, {"Authorization": f"Bearer {issued.key}"})


@pytest.mark.backends("sqlite", "postgresql")
def test_a_dealer_lists_and_reads_only_its_own_accounts_orders(client, db, admin):
    manager = person(db, "staff", "Mia Manager")
    rep = person(db, "sales_rep", "Ann Rep")
    product(db, "DL-1", "19.90")
    warehouse_with_stock(client, admin, {"DL-1": 100})
    accs, dealers = [], []
    for name, territory in (("North Tools", "north"), ("South Tools", "south")):
        acc = client.post("/api/v1/accounts", headers=rep.headers, json={
            "name": name, "contacts": [{"name": f"{name} buyer", "email": f"buy@{territory}.example"}]}).json()
        r = client.post("/api/v1/sales/dealers", headers=manager.headers, json={
            "account_id": acc["id"], "tier": "gold", "territory": territory})
        assert r.status_code == 201, r.text
        accs.append(acc)
        dealers.append(r.json())
    north = [_place(db, rep, accs[0]["customer_id"], q) for q in (2, 3)]
    south = [_place(db, rep, accs[1]["customer_id"], 4)]

    north_user = _dealer_user(db, "North Tools clerk", accs[0]["customer_id"])
    # the orders API: only the dealer's own account's orders, whatever filter it asks for
    r = client.get("/api/v1/orders", headers=north_user.headers)
    assert r.status_code == 200, r.text
    assert sorted(o["id"] for o in r.json()["items"]) == sorted(o["id"] for o in north)
    r = client.get("/api/v1/orders", headers=north_user.headers, params={"customer_id": accs[1]["customer_id"]})
    assert r.status_code == 200 and r.json()["items"] == []
    got = client.get(f"/api/v1/orders/{north[0]['id']}", headers=north_user.headers)
    assert got.status_code == 200 and got.json()["number"] == north[0]["number"]
    assert "unit_cost" not in got.json()["lines"][0] or got.json()["lines"][0]["unit_cost"] is None  # our costs stay ours
    assert client.get(f"/api/v1/orders/{south[0]['id']}", headers=north_user.headers).status_code == 404
    # a dealer reads, it does not cancel
    assert client.post(f"/api/v1/orders/{north[0]['id']}/cancel", headers=north_user.headers).status_code == 403

    # the dealer's orders under sales: its own dealer's, 404 for the other dealer
    r = client.get(f"/api/v1/sales/dealers/{dealers[0]['id']}/orders", headers=north_user.headers)
    assert r.status_code == 200, r.text
    assert [o["id"] for o in r.json()["items"]] == sorted((o["id"] for o in north), reverse=True)
    assert client.get(f"/api/v1/sales/dealers/{dealers[1]['id']}/orders", headers=north_user.headers).status_code == 404
    assert client.get(f"/api/v1/sales/dealers/{dealers[0]['id']}/orders", headers=north_user.headers,
                      params={"limit": 0}).status_code == 422
    # staff see each dealer's own orders there
    r = client.get(f"/api/v1/sales/dealers/{dealers[1]['id']}/orders", headers=manager.headers)
    assert [o["id"] for o in r.json()["items"]] == [south[0]["id"]]
