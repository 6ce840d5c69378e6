"""Profile merges move everything (orders, events, loyalty points) and can be undone; erasure
and export reach the orders too (each context's lifecycle participant)."""

from __future__ import annotations

import pytest


@pytest.fixture
def shop(client, admin, db):  # type: ignore[no-untyped-def]
    from merx.catalog import service as catalog
    from merx.catalog.schemas import ProductCreate
    from merx.core.uow import UnitOfWork

    r = client.post("/api/v1/locations", json={"code": "wh", "name": "Warehouse", "kind": "warehouse"}, headers=admin)
    assert r.status_code == 201, r.text
    with UnitOfWork(db) as uow:
        catalog.create_product(uow, ProductCreate(sku="MUG-1", name="Mug", price={"currency": "EUR", "amount": "12.50"}))
    r = client.post("/api/v1/inventory/adjustments", json={"sku": "MUG-1", "location": "wh", "delta": 100,
                                                           "reason": "receipt"}, headers=admin)
    assert r.status_code == 200, r.text

    def order(customer_id: int, quantity: int = 1, **body: object) -> dict:
        r = client.post("/api/v1/orders", headers=admin, json={
            "channel": "web", "customer": {"id": customer_id}, "lines": [{"sku": "MUG-1", "quantity": quantity}],
            "payment": {"provider": "test", "behaviour": "succeed"}, **body})
        assert r.status_code == 201, r.text
        return r.json()

    return order


def _balance(client, headers, customer_id):  # type: ignore[no-untyped-def]
    accounts = client.get(f"/api/v1/customers/{customer_id}/loyalty", headers=headers).json()["accounts"]
    return sum(a["balance"] for a in accounts)


def _purchases(db):  # type: ignore[no-untyped-def]
    """Orders per customer as analytics counts them (what RFM and value tiers score)."""
    from merx.analytics import public as analytics
    from merx.core.uow import UnitOfWork

    with UnitOfWork(db, readonly=True) as uow:
        return {s.customer_id: s.orders_count for s in analytics.customer_purchase_summary(uow)}


@pytest.mark.backends("sqlite", "postgresql")
def test_merging_two_profiles_keeps_the_sum_of_points_and_moves_every_order(client, staff, admin, new_customer, shop,
                                                                             db):
    r = client.post("/api/v1/loyalty/programs", headers=staff, json={
        "code": "club", "name": "Club", "currency": "EUR", "points_per_unit": "2", "point_value": "0.01",
        "tiers": [{"name": "silver", "threshold": 0}, {"name": "gold", "threshold": 60, "benefits": ["free shipping"]}]})
    assert r.status_code == 201, r.text
    keep = new_customer(email="keep@example.com")
    dupe = new_customer(phone="+48600100300")
    client.post("/api/v1/events", json={"events": [{"type": "page_view", "anonymous_id": "dev-d",
                                                    "properties": {"url": "https://shop/"}}]})
    client.post("/api/v1/identify", json={"anonymous_id": "dev-d", "phone": "+48600100300"}, headers=staff)
    keep_orders = [shop(keep["id"]) for _ in range(2)]
    dupe_orders = [shop(dupe["id"], quantity=3)]
    client.post("/api/v1/loyalty/adjust", headers=staff, json={"customer_id": dupe["id"], "points": 7,
                                                               "reason": "goodwill"})
    before = {c: _balance(client, staff, c) for c in (keep["id"], dupe["id"])}
    assert before == {keep["id"]: 2 * 25, dupe["id"]: 75 + 7}  # 2 points per EUR

    r = client.post(f"/api/v1/customers/{keep['id']}/merge", json={"duplicate_id": dupe["id"]}, headers=staff)
    assert r.status_code == 200, r.text
    assert r.json()["moved"]["orders"]["orders"] == [o["id"] for o in dupe_orders]

    assert _balance(client, staff, keep["id"]) == sum(before.values())
    assert _balance(client, staff, dupe["id"]) == 0
    listed = client.get(f"/api/v1/orders?customer_id={keep['id']}", headers=admin).json()["items"]
    assert sorted(o["id"] for o in listed) == sorted(o["id"] for o in keep_orders + dupe_orders)
    assert client.get(f"/api/v1/orders?customer_id={dupe['id']}", headers=admin).json()["items"] == []
    view = client.get(f"/api/v1/customers/{keep['id']}/overview", headers=staff).json()
    assert view["orders_count"] == 3
    assert view["lifetime_value"] == [{"amount": "62.50", "currency": "EUR"}]
    assert view["loyalty"][0]["tier"] == "gold" and view["loyalty"][0]["benefits"] == ["free shipping"]
    assert {"page_view", "order_placed", "order_paid"} <= {e["type"] for e in view["timeline"]}
    assert ("phone", "+48600100300") in {(i["kind"], i["value"]) for i in view["identifiers"]}
    assert view["merged_from"] == [dupe["id"]]
    assert _purchases(db) == {keep["id"]: 3}
    # The duplicate is hidden, not deleted, and the trail names who did what.
    assert client.get(f"/api/v1/customers/{dupe['id']}", headers=staff).json()["merged_into_id"] == keep["id"]
    audit = client.get(f"/api/v1/audit-log?entity_type=customer&entity_id={keep['id']}", headers=admin).json()["items"]
    assert any(a["action"] == "merge" and a["after"]["moved"]["loyalty_points"] == before[dupe["id"]] for a in audit)
    # Lookup by the duplicate's identifiers finds the survivor.
    assert client.get("/api/v1/crm/lookup?anonymous_id=dev-d", headers=staff).json()["id"] == keep["id"]

    # Un-merge gives the duplicate its points, events, identifiers and orders back.
    r = client.post(f"/api/v1/customers/{dupe['id']}/unmerge", headers=staff)
    assert r.status_code == 200, r.text
    assert {c: _balance(client, staff, c) for c in before} == before
    listed = {c: sorted(o["id"] for o in client.get(f"/api/v1/orders?customer_id={c}", headers=admin).json()["items"])
              for c in (keep["id"], dupe["id"])}
    assert listed == {keep["id"]: sorted(o["id"] for o in keep_orders), dupe["id"]: [o["id"] for o in dupe_orders]}
    assert client.get(f"/api/v1/customers/{dupe['id']}/overview", headers=staff).json()["orders_count"] == 1
    assert _purchases(db) == {keep["id"]: 2, dupe["id"]: 1}
    back = client.get(f"/api/v1/customers/{dupe['id']}/overview", headers=staff).json()
    assert [e["type"] for e in back["timeline"] if e["type"] == "page_view"] == ["page_view"]
    assert client.get(f"/api/v1/customers/{dupe['id']}", headers=staff).json()["merged_into_id"] is None
    assert client.post(f"/api/v1/customers/{dupe['id']}/unmerge", headers=staff).status_code == 404


def test_merge_needs_profile_admin_and_two_live_profiles(client, make_key, staff, new_customer):
    a = new_customer(email="a@example.com")
    b = new_customer(email="b@example.com")
    rep = make_key("sales_rep")
    assert client.post(f"/api/v1/customers/{a['id']}/merge", json={"duplicate_id": b["id"]}, headers=rep).status_code == 403
    assert client.post(f"/api/v1/customers/{a['id']}/merge", json={"duplicate_id": a["id"]}, headers=staff).status_code == 422
    assert client.post(f"/api/v1/customers/{a['id']}/merge", json={"duplicate_id": 999}, headers=staff).status_code == 404
    assert client.post(f"/api/v1/customers/{a['id']}/merge", json={"duplicate_id": b["id"]}, headers=staff).status_code == 200
    again = client.post(f"/api/v1/customers/{a['id']}/merge", json={"duplicate_id": b["id"]}, headers=staff)
    assert again.status_code == 404


def test_redeem_points_at_checkout_is_a_discount_first_in_first_out(db, client, staff, new_customer, emit_order):
    import datetime as dt

    from merx.core.uow import UnitOfWork
    from merx.crm import loyalty

    client.post("/api/v1/loyalty/programs", headers=staff, json={
        "code": "club", "name": "Club", "currency": "EUR", "points_per_unit": "1", "point_value": "0.05",
        "expiry_days": 30, "category_multipliers": {"toys": "3"}})
    c = new_customer(email="r@example.com")
    emit_order(c["id"], "30.00", lines=[
        {"sku": "T", "quantity": 1, "unit_price": "10.00", "line_total": "10.00", "category": "toys"},
        {"sku": "B", "quantity": 1, "unit_price": "20.00", "line_total": "20.00", "category": "books"}])
    assert _balance(client, staff, c["id"]) == 50  # 10 x 3 + 20 x 1
    with UnitOfWork(db) as uow:
        discount = loyalty.redeem_points(uow, c["id"], 40, "M-9")
        uow.commit()
    assert (str(discount.amount), discount.currency) == ("2.00", "EUR")
    r = client.post("/api/v1/loyalty/redeem", headers=staff, json={"customer_id": c["id"], "points": 11, "order_ref": "M-10"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "points"
    # The remaining 10 points expire after 30 days; the ledger keeps every step.
    with UnitOfWork(db) as uow:
        assert loyalty.expire_points(uow, dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=31)) == 10
        uow.commit()
    ledger = client.get(f"/api/v1/customers/{c['id']}/loyalty", headers=staff).json()["ledger"]
    assert [(e["kind"], e["points"]) for e in ledger] == [("earn", 50), ("redeem", -40), ("expire", -10)]
    assert _balance(client, staff, c["id"]) == 0


@pytest.mark.backends("sqlite", "postgresql")
def test_erase_strips_contact_details_from_orders_and_keeps_amounts_and_export_lists_orders(
        client, staff, admin, new_customer, shop, db):
    import sqlalchemy as sa

    eve = new_customer(email="eve@example.com", first_name="Eve")
    address = {"name": "Eve Doe", "line1": "Main 1", "city": "Poznan", "postal_code": "60-001", "country": "PL"}
    placed = shop(eve["id"], quantity=2, fulfilment={"type": "ship", "address": address})
    other = shop(new_customer(email="other@example.com")["id"])

    export = client.get(f"/api/v1/customers/{eve['id']}/export", headers=staff)
    assert export.status_code == 200, export.text
    orders = export.json()["orders"]
    assert [(o["id"], o["email"], o["totals"]["total"]) for o in orders] == [
        (placed["id"], "eve@example.com", placed["totals"]["total"])]

    r = client.post(f"/api/v1/customers/{eve['id']}/erase", headers=staff)
    assert r.status_code == 200, r.text
    assert r.json()["erased"]["orders"] == 1
    with db.engine.connect() as conn:
        rows = {row.id: row for row in conn.execute(sa.text(
            "SELECT id, email, shipping_address, total_minor, currency FROM orders WHERE id IN (:a, :b)"),
            {"a": placed["id"], "b": other["id"]})}
    assert (rows[placed["id"]].email, rows[placed["id"]].shipping_address) == (None, None)
    assert (rows[placed["id"]].total_minor, rows[placed["id"]].currency) == (2500, "EUR")  # kept for the books
    assert rows[other["id"]].email == "other@example.com"  # nobody else's order is touched
