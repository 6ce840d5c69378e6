"""Carts: anonymous (token) and customer carts, price snapshots, checkout holds with a time
to live, lapsed holds released by the scheduled job, ordering a cart once."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

API = "/api/v1"


def _setup(shop):  # type: ignore[no-untyped-def]
    shop.location("WH")
    shop.product("CAP", price="15.00")
    shop.stock("CAP", "WH", 3)


def test_anonymous_cart_checkout_holds_stock_and_orders_once(shop, db):
    _setup(shop)
    r = shop.client.post(f"{API}/carts", json={"email": "guest@example.com", "lines": [{"sku": "CAP", "quantity": 2}]})
    assert r.status_code == 201, r.text
    cart = r.json()
    token = {"X-Cart-Token": cart["token"]}
    assert cart["totals"]["total"] == "30.00" and cart["status"] == "open"
    # nobody else sees it: no token, wrong token
    assert shop.client.get(f"{API}/carts/{cart['id']}").status_code == 404
    assert shop.client.get(f"{API}/carts/{cart['id']}", headers={"X-Cart-Token": "guess"}).status_code == 404
    held = shop.client.post(f"{API}/carts/{cart['id']}/checkout", headers=token).json()
    assert held["status"] == "checkout" and held["holds"][0]["quantity"] == 2
    assert shop.levels("CAP")["WH"]["reserved"] == 2
    # another shopper cannot take the held units
    other = shop.order([("CAP", 2)])
    assert other.status_code == 409 and other.json()["shortages"][0]["available"] == 1
    # the price snapshot is honoured while the hold is live, even if the catalog price moved
    from merx.core.uow import UnitOfWork

    with UnitOfWork(db) as uow:
        uow.session.execute(sa.text("UPDATE catalog_variant_prices SET amount_minor = 2000"))
        uow.commit()
    order = shop.client.post(f"{API}/carts/{cart['id']}/order", json={"payment": {"provider": "manual"}},
                             headers=token)
    assert order.status_code == 201, order.text
    assert order.json()["totals"]["total"] == "30.00" and order.json()["email"] == "guest@example.com"
    levels = shop.levels("CAP")["WH"]
    assert levels["reserved"] == 2  # the cart's hold became the order's, not doubled
    assert shop.client.post(f"{API}/carts/{cart['id']}/order", headers=token).status_code == 409


def test_lapsed_hold_is_released_by_the_scheduled_job_and_the_cart_reopens(shop, db):
    _setup(shop)
    cart = shop.client.post(f"{API}/carts", json={"email": "late@example.com",
                                                  "lines": [{"sku": "CAP", "quantity": 3}]}).json()
    token = {"X-Cart-Token": cart["token"]}
    shop.client.post(f"{API}/carts/{cart['id']}/checkout", headers=token)
    assert shop.levels("CAP")["WH"]["available"] == 0
    from merx.core.jobs import run_due_jobs

    scheduler = shop.client.app.state.scheduler
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=14)
    run_due_jobs(db, scheduler, now=soon)  # the hold is still live: nothing changes
    assert shop.levels("CAP")["WH"]["available"] == 0
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=16)  # default time to live: 15 minutes
    runs = {r.name: r for r in run_due_jobs(db, scheduler, now=later)}
    assert runs["orders.expire_checkouts"].result == "reopened 1 carts"
    assert shop.levels("CAP")["WH"]["available"] == 3
    reopened = shop.client.get(f"{API}/carts/{cart['id']}", headers=token).json()
    assert reopened["status"] == "open" and reopened["holds"] == []
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM outbox_events WHERE type = 'cart.abandoned'")).scalar_one() == 1


def test_cart_lines_and_customer_carts(shop, make_key, db):
    _setup(shop)
    from merx.core.uow import UnitOfWork
    from merx.customers import service as customers
    from merx.customers.schemas import CustomerCreate

    with UnitOfWork(db) as uow:
        cust = customers.create_customer(uow, CustomerCreate(email="cara@example.com"))
    key = make_key("customer", customer_id=cust.id)
    cart = shop.client.post(f"{API}/carts", json={}, headers=key).json()
    assert cart["token"] is None and cart["customer_id"] == cust.id
    r = shop.client.post(f"{API}/carts/{cart['id']}/lines", json={"sku": "CAP", "quantity": 2}, headers=key)
    assert r.json()["lines"][0]["quantity"] == 2
    bad = shop.client.post(f"{API}/carts/{cart['id']}/lines", json={"sku": "NOPE", "quantity": 1}, headers=key)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "lines[0].sku"
    assert shop.client.get(f"{API}/carts/{cart['id']}", headers=make_key("customer", customer_id=999)).status_code == 404
    emptied = shop.client.post(f"{API}/carts/{cart['id']}/lines", json={"sku": "CAP", "quantity": 0}, headers=key)
    assert emptied.json()["lines"] == []
    assert shop.client.post(f"{API}/carts/{cart['id']}/checkout", headers=key).status_code == 422
