"""The analytics API: live order events feeding the sales history, role checks (a sales rep sees
only its own figures), validation, category roles, abandonment and inventory health."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from catalog_fixtures import catalogue_skus
from order_events import order_placed

from merx.analytics import service
from merx.analytics.store import write_events_parquet
from merx.core.money import Money
from merx.core.uow import UnitOfWork
from merx.inventory.events import StockChanged
from merx.orders.events import CartAbandoned, OrderCancelled, OrderReturned, ReturnedLine

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)


def _place(db, order_id: int, customer_id: int | None, lines: list[tuple[str, int, str]], *, currency: str = "EUR",
           when: dt.datetime = T0, channel: str = "web", category: str | None = "mugs", location: str = "WH1") -> None:
    """Commit an `order.placed` event the way the orders context does; handlers run after commit."""
    with UnitOfWork(db) as uow:
        uow.emit(order_placed(order_id, customer_id, [
            {"sku": sku, "quantity": q, "unit_price": price, "category": category, "location": location}
            for sku, q, price in lines], currency=currency, placed_at=when, channel=channel), version=1)
        uow.commit()


def _sales_rep_with_customer(db, make_key):  # type: ignore[no-untyped-def]
    """A sales rep user with a key, and a customer assigned to that rep (customers context)."""
    import sqlalchemy as sa

    from merx.core.models import User
    from merx.customers import service as customers
    from merx.customers.schemas import CustomerCreate

    headers = make_key("sales_rep", name="rep-anna")
    with UnitOfWork(db, readonly=True) as uow:
        rep_id = uow.session.scalar(sa.select(User.id).where(User.name == "rep-anna"))
    with UnitOfWork(db) as uow:
        mine = customers.create_customer(uow, CustomerCreate(email="mine@example.com", sales_rep_user_id=rep_id))
    with UnitOfWork(db) as uow:
        other = customers.create_customer(uow, CustomerCreate(email="other@example.com"))
    return headers, rep_id, mine.id, other.id


@pytest.mark.backends("sqlite", "postgresql")
def test_order_events_feed_sales_and_a_rep_sees_only_its_own(db, client, make_key, admin):
    rep_headers, rep_id, mine, other = _sales_rep_with_customer(db, make_key)
    _place(db, 1, mine, [("MUG-1", 2, "10.00"), ("MUG-2", 1, "5.50")])
    _place(db, 2, other, [("MUG-1", 10, "10.00")], when=T0 + dt.timedelta(days=1))
    _place(db, 3, mine, [("MUG-1", 1, "10.00")], when=T0 + dt.timedelta(days=2))
    # order 3 is cancelled; order 2 is partly returned; redelivered events change nothing
    for _ in range(2):
        with UnitOfWork(db) as uow:
            uow.emit(OrderCancelled(order_id=3, number="M-3", customer_id=mine, status="cancelled",
                                    previous_status="confirmed", total="10.00", currency="EUR", reason="cancelled",
                                    payment_status="voided"), version=2)
            uow.emit(OrderReturned(order_id=2, number="M-2", customer_id=other, status="delivered",
                                   previous_status="delivered", total="100.00", currency="EUR", return_id=7,
                                   location="WH1", partial=True, refund=None,
                                   returned_value=Money.of("40.00", "EUR"),
                                   lines=[ReturnedLine(line=1, sku="MUG-1", quantity=4, reason="damaged",
                                                       restocked=True)]), version=3)
            uow.commit()
        _place(db, 1, mine, [("MUG-1", 2, "10.00"), ("MUG-2", 1, "5.50")])

    r = client.get("/api/v1/analytics/sales", params={"by": "sales_rep"}, headers=admin)
    assert r.status_code == 200, r.text
    total = r.json()["total"]
    assert total["revenue"] == "85.50"  # 25.50 + (100 - 40) + (10 - 10)
    assert total["orders"] == 2  # the cancelled order is not counted
    assert total["units"] == 2 + 1 + 10 - 4
    by_rep = {row["key"]: row["revenue"] for row in r.json()["rows"]}
    assert by_rep == {str(rep_id): "25.50", "(none)": "60.00"}

    mine_only = client.get("/api/v1/analytics/sales", params={"by": "customer"}, headers=rep_headers).json()
    assert [row["key"] for row in mine_only["rows"]] == [str(mine)]
    assert mine_only["total"]["revenue"] == "25.50"
    pareto = client.get("/api/v1/analytics/pareto", params={"of": "customers"}, headers=rep_headers).json()
    assert [row["item"] for row in pareto["rows"]] == [str(mine)]

    # reports see new sales at once (the columnar snapshot refreshes incrementally)
    _place(db, 4, other, [("MUG-3", 1, "1.25")], when=T0 + dt.timedelta(days=3))
    later = client.get("/api/v1/analytics/sales", params={"by": "product"}, headers=admin).json()
    assert later["total"]["revenue"] == "86.75"
    assert {row["key"]: row["units"] for row in later["rows"]} == {"MUG-1": 8, "MUG-2": 1, "MUG-3": 1}
    _place(db, 4, other, [("MUG-3", 1, "1.25")], when=T0 + dt.timedelta(days=3))  # redelivered

    with UnitOfWork(db, readonly=True) as uow:
        summary = {s.customer_id: s for s in service.customer_purchase_summary(uow)}
    assert summary[mine].orders_count == 1 and str(summary[mine].revenue) == "25.50"
    assert summary[other].orders_count == 2 and str(summary[other].revenue) == "61.25"
    with UnitOfWork(db, readonly=True) as uow:
        assert service.customer_purchase_summary(uow, until=T0 - dt.timedelta(seconds=1)) == []


def test_roles_and_validation(client, make_key):
    assert client.get("/api/v1/analytics/sales").status_code == 401
    for headers in (make_key("customer", customer_id=1), make_key("seller", seller_id=1), make_key("support_agent")):
        r = client.get("/api/v1/analytics/sales", headers=headers)
        assert r.status_code == 403, r.text
    staff = make_key("staff")
    rep = make_key("sales_rep")
    assert client.get("/api/v1/analytics/funnel/people", headers=rep).status_code == 403
    assert client.get("/api/v1/analytics/abandonment", headers=rep).status_code == 403
    assert client.put("/api/v1/analytics/categories/mugs", json={"role": "routine"}, headers=rep).status_code == 403

    for path, params, field in [
        ("/api/v1/analytics/sales", {"by": "colour"}, "by"),
        ("/api/v1/analytics/sales", {"from": "yesterday"}, "from"),
        ("/api/v1/analytics/sales", {"from": "2026-02-01", "to": "2026-01-01"}, "to"),
        ("/api/v1/analytics/sales", {"currency": "EURO"}, "currency"),
        ("/api/v1/analytics/funnel", {"by": "shoe_size"}, "by"),
        ("/api/v1/analytics/funnel", {"min_product_views": 0}, "min_product_views"),
        ("/api/v1/analytics/funnel", {"purchase": "buy it now"}, "purchase"),
        ("/api/v1/analytics/pareto", {"of": "suppliers"}, "of"),
        ("/api/v1/analytics/portfolio", {"target_gold": 0.9}, "target"),
        ("/api/v1/analytics/forecast", {"freq": "hour"}, "freq"),
        ("/api/v1/analytics/forecast", {"level": "product"}, "key"),
        ("/api/v1/analytics/inventory", {"status": "sad"}, "status"),
    ]:
        r = client.get(path, params=params, headers=staff)
        assert r.status_code == 422, (path, params, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"][0]["field"] == field, (path, params, r.json())
    r = client.get("/api/v1/analytics/sales", params={"format": "pdf"}, headers=staff)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "format"


def test_empty_shop_answers_with_zeros(client, admin):
    r = client.get("/api/v1/analytics/funnel", headers=admin)
    assert r.status_code == 200, r.text
    assert [(s["stage"], s["count"]) for s in r.json()["stages"]] == [
        ("awareness", 0), ("interest", 0), ("decision", 0), ("purchase", 0), ("retention", 0)]
    for path in ("sales", "cohorts", "pareto", "portfolio", "inventory", "forecast", "definitions"):
        r = client.get(f"/api/v1/analytics/{path}", headers=admin)
        assert r.status_code == 200, (path, r.text)
    r = client.get("/api/v1/analytics/range", headers=admin)
    assert r.status_code == 200 and r.json() == {"first": None, "last": None, "lines": 0}
    r = client.get("/api/v1/analytics/sales", params={"by": "day"}, headers=admin)
    assert r.json()["total"]["net"] == "0.00" and r.json()["rows"] == []


@pytest.mark.backends("sqlite", "postgresql")
def test_category_roles_and_cost_ratio_shape_the_reports(db, client, admin):
    _place(db, 1, None, [("MUG-1", 10, "10.00")], category="mugs")
    _place(db, 2, None, [("TEA-1", 10, "4.00")], category="tea")
    r = client.put("/api/v1/analytics/categories/mugs", json={"role": "destination", "cost_ratio": "0.25"}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json() == {"category": "mugs", "role": "destination", "cost_ratio": "0.25"}
    bad = client.put("/api/v1/analytics/categories/tea", json={"role": "impulse"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "role"
    bad = client.put("/api/v1/analytics/categories/tea", json={"cost_ratio": "9"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cost_ratio"

    sales = client.get("/api/v1/analytics/sales", params={"by": "category"}, headers=admin).json()
    rows = {r["key"]: r for r in sales["rows"]}
    assert rows["mugs"]["margin"] == "75.00" and rows["tea"]["margin"] == "16.00"  # 40 x (1 - 0.6)
    portfolio = client.get("/api/v1/analytics/portfolio", headers=admin).json()
    roles = {c["category"]: c["role"] for c in portfolio["categories"]}
    assert roles == {"mugs": "destination", "tea": None}
    listed = client.get("/api/v1/analytics/categories", headers=admin).json()
    assert listed["items"] == [{"category": "mugs", "role": "destination", "cost_ratio": "0.25"}]


def test_funnel_on_a_hand_checked_stream(db, client, make_key, settings):
    def ev(person: str, kind: str, minute: int, **extra) -> dict:
        return {"anonymous_id": person, "type": kind, "occurred_at": dt.datetime(2026, 1, 5, 10) + dt.timedelta(minutes=minute),
                "channel": extra.pop("channel", "web"), **extra}

    write_events_parquet([
        ev("a", "ad_click", 0, source="google"), ev("a", "product_view", 2), ev("a", "add_to_cart", 4),
        ev("a", "purchase", 10), ev("a", "purchase", 60 * 24 * 3),  # a repeat purchase three days later
        ev("b", "page_view", 0, source="newsletter"), ev("b", "product_view", 1), ev("b", "checkout_started", 7),
        ev("b", "purchase", 8),
        ev("c", "qr_scan", 0, source="flyer", channel="store"), ev("c", "product_view", 5),
        ev("d", "page_view", 0, source="google"),
        ev("e", "add_to_cart", 0),  # no awareness touch: not in the funnel
    ], settings.data_dir / "events")
    write_events_parquet([  # a known customer, in a second file of the store
        {"customer_id": 77, "type": "page_view", "occurred_at": dt.datetime(2026, 1, 6, 9)},
        {"customer_id": 77, "type": "product_view", "occurred_at": dt.datetime(2026, 1, 6, 9, 1)},
        {"customer_id": 77, "type": "product_view", "occurred_at": dt.datetime(2026, 1, 6, 9, 2)},
        {"customer_id": 77, "type": "add_to_cart", "occurred_at": dt.datetime(2026, 1, 6, 9, 3)},
    ], settings.data_dir / "events", name="known.parquet")
    r = client.get("/api/v1/analytics/funnel", params={"by": "source"}, headers=make_key("staff"))
    assert r.status_code == 200, r.text
    report = r.json()
    assert [(s["stage"], s["count"]) for s in report["stages"]] == [
        ("awareness", 5), ("interest", 4), ("decision", 3), ("purchase", 2), ("retention", 1)]
    interest = report["stages"][1]
    assert interest["conversion"] == 0.8 and interest["drop_off"] == pytest.approx(1 / 4, abs=1e-6)
    assert interest["median_time_to_next"] == 2 * 60  # a: 2 min, b: 6 min, customer 77: 2 min
    assert report["stages"][4]["drop_off"] is None
    google = next(g for g in report["breakdown"] if g["key"] == "google")
    assert [s["count"] for s in google["stages"]] == [2, 1, 1, 1, 1]
    people = client.get("/api/v1/analytics/funnel/people", headers=make_key("admin")).json()["items"]
    assert {p["anonymous_id"] or p["customer_id"]: p["stage"] for p in people} == {
        "a": "retention", "b": "purchase", "c": "interest", "d": "awareness", 77: "decision"}
    with UnitOfWork(db, readonly=True) as uow:
        assert service.customer_funnel_stage(uow, 77, data_dir=settings.data_dir) == {
            "stage": "decision", "reached_at": "2026-01-06T09:03:00+00:00"}
        assert service.customer_funnel_stage(uow, 78, data_dir=settings.data_dir) is None
    r = client.get("/api/v1/analytics/funnel", params={"min_product_views": 2}, headers=make_key("staff"))
    assert [s["count"] for s in r.json()["stages"]] == [5, 1, 1, 0, 0]  # only customer 77 viewed two products
    r = client.get("/api/v1/analytics/funnel", params={"format": "csv"}, headers=make_key("staff"))
    assert r.text.splitlines()[1].startswith("awareness,5,")


@pytest.mark.backends("sqlite", "postgresql")
def test_abandoned_carts_are_emitted_once_and_recovery_is_attributed(db, client, admin, settings):
    from merx.core.events import bus

    seen: list = []

    def remember(event, _db) -> None:  # type: ignore[no-untyped-def]
        seen.append(event)

    bus.subscribe(CartAbandoned, remember)
    try:
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        long_ago = now - dt.timedelta(hours=30)
        write_events_parquet([
            {"customer_id": 41, "type": "add_to_cart", "occurred_at": long_ago, "cart_id": "k1", "value": 12.5,
             "currency": "EUR"},
            {"customer_id": 41, "type": "add_to_cart", "occurred_at": long_ago, "cart_id": "k1", "value": 7.5,
             "currency": "EUR"},
            {"customer_id": 42, "type": "add_to_cart", "occurred_at": long_ago, "cart_id": "k2", "value": 3.0,
             "currency": "EUR"},
            {"customer_id": 42, "type": "purchase", "occurred_at": long_ago + dt.timedelta(minutes=5)},
            {"customer_id": 43, "type": "add_to_cart", "occurred_at": now - dt.timedelta(hours=1), "cart_id": "k3"},
        ], settings.data_dir / "events")
        r = client.post("/api/v1/analytics/abandonment/scan", json={"hours": 24, "include_browse": False}, headers=admin)
        assert r.status_code == 200, r.text
        assert r.json()["new"] == {"cart": 1, "browse": 0}
        again = client.post("/api/v1/analytics/abandonment/scan", json={"hours": 24}, headers=admin).json()
        assert again["new"]["cart"] == 0
        ours = [e for e in seen if e.payload.get("detected_by") == "analytics"]
        assert len(ours) == 1 and ours[0].payload["customer_id"] == 41 and ours[0].payload["total"] == "20.00"

        _place(db, 9, 41, [("MUG-1", 3, "10.00")], when=dt.datetime.now(dt.timezone.utc))
        r = client.post("/api/v1/analytics/abandonment/scan", json={"hours": 24}, headers=admin)
        assert r.json()["credited"] == 1
        report = client.get("/api/v1/analytics/abandonment", params={"kind": "cart"}, headers=admin).json()
        assert report["carts"] == 1 and report["recovered"] == 1
        assert report["items"][0]["recovered_revenue"] == "30.00" and report["items"][0]["value"] == "20.00"
    finally:
        bus.unsubscribe(CartAbandoned, remember)


@pytest.mark.backends("sqlite", "postgresql")
def test_inventory_health_from_stock_events(db, client, admin):
    # 90 days before the last sale: MUG-1 sold 30 a month at WH1, TEA-1 sold 3
    for i in range(90):
        _place(db, 100 + i, None, [("MUG-1", 1, "10.00")], when=T0 + dt.timedelta(days=i))
    _place(db, 500, None, [("TEA-1", 9, "4.00")], when=T0 + dt.timedelta(days=10))
    for sku, on_hand in (("MUG-1", 3), ("TEA-1", 50), ("SPOON", 5)):
        with UnitOfWork(db) as uow:
            uow.emit(StockChanged(sku=sku, location="WH1", on_hand=on_hand, reserved=0, available=on_hand,
                                  status="in_stock", reason="count"))
            uow.commit()
    r = client.get("/api/v1/analytics/inventory", headers=admin)
    assert r.status_code == 200, r.text
    rows = {x["sku"]: x for x in r.json()["rows"]}
    assert rows["MUG-1"]["status"] == "risk"  # 3 on hand < 7 days of 1/day
    assert rows["MUG-1"]["days_of_cover"] == 3.0
    assert rows["MUG-1"]["avg_monthly_sales"] == pytest.approx(30.44, abs=0.01)
    assert rows["TEA-1"]["status"] == "overstock"  # 50 > 3.04 x 1.5
    assert rows["SPOON"]["status"] == "no_sales"
    only = client.get("/api/v1/analytics/inventory", params={"status": "overstock"}, headers=admin).json()["rows"]
    assert [x["sku"] for x in only] == ["TEA-1"]

    # a stale event delivered late does not overwrite newer figures
    from merx.analytics.handlers import on_stock_changed
    from merx.core.events import DomainEvent

    late = StockChanged(sku="TEA-1", location="WH1", on_hand=999, reserved=0, available=999, status="in_stock",
                        reason="count")
    on_stock_changed(dataclasses.replace(DomainEvent.of(late), occurred_at=T0), db)
    rows = {x["sku"]: x for x in client.get("/api/v1/analytics/inventory", headers=admin).json()["rows"]}
    assert rows["TEA-1"]["on_hand"] == 50


def test_inventory_health_can_use_the_forecast_as_demand(db, client, admin):
    # no sales for 60 days, then 3 a day for 30: the past average says 1 a day, the trend 3
    for i in range(30):
        _place(db, 1000 + i, None, [("MUG-1", 3, "10.00")], when=T0 + dt.timedelta(days=60 + i))
    with UnitOfWork(db) as uow:
        uow.emit(StockChanged(sku="MUG-1", location="WH1", on_hand=60, reserved=0, available=60, status="in_stock",
                              reason="count"))
        uow.commit()
    as_of = (T0 + dt.timedelta(days=90)).isoformat()
    history = client.get("/api/v1/analytics/inventory", params={"as_of": as_of}, headers=admin).json()["rows"][0]
    assert history["avg_monthly_sales"] == pytest.approx(30.44, abs=0.01) and history["status"] == "overstock"
    forecast = client.get("/api/v1/analytics/inventory", params={"as_of": as_of, "demand": "forecast"},
                          headers=admin).json()
    row = forecast["rows"][0]
    assert forecast["demand"] == "forecast"
    assert row["avg_monthly_sales"] == pytest.approx(3 * 30.44, rel=0.1)  # the recent rate, not the average
    assert row["status"] == "ok"
    bad = client.get("/api/v1/analytics/inventory", params={"demand": "guess"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "demand"


def test_inventory_health_reads_the_inventory_context(db, client, admin):
    from merx.inventory import service as inventory

    with UnitOfWork(db) as uow:
        inventory.create_location(uow, {"code": "STORE1", "name": "Store one", "kind": "store"})
    catalogue_skus(db, ["MUG-9"])
    with UnitOfWork(db) as uow:
        inventory.adjust(uow, sku="MUG-9", location="STORE1", delta=40)
    for i in range(3):
        _place(db, 2000 + i, None, [("MUG-9", 10, "10.00")], when=T0 + dt.timedelta(days=i * 20), location="STORE1")
    rows = client.get("/api/v1/analytics/inventory", headers=admin).json()["rows"]
    assert [(r["sku"], r["location"], r["on_hand"]) for r in rows] == [("MUG-9", "STORE1", 40)]
    assert rows[0]["avg_monthly_sales"] == pytest.approx(30 / 90 * 30.4375, abs=0.01)


def test_a_discounted_order_and_its_partial_return_give_gross_discounts_returns_and_net(db, client, admin):
    """Coupons reach the sales history as discount lines; a return gives back the discount of
    the returned units; `returns=original_sale` moves the return to the order's month."""
    march = T0
    with UnitOfWork(db) as uow:  # 4 x 10.00 at 10% off: charged 36.00; shipping 4.99 apart
        event = order_placed(9, None, [{"sku": "MUG-1", "quantity": 4, "unit_price": "10.00", "line_total": "36.00"}],
                             placed_at=march)
        from decimal import Decimal

        from merx.orders.events import OrderTotals

        event = event.model_copy(update={"totals": OrderTotals(subtotal=Decimal("40.00"), discount=Decimal("4.00"),
                                                               shipping=Decimal("4.99"), total=Decimal("40.99"))})
        uow.emit(event, version=1)
        uow.commit()
    with UnitOfWork(db) as uow:
        uow.emit(OrderReturned(order_id=9, number="M-9", customer_id=None, status="delivered",
                               previous_status="delivered", total="40.99", currency="EUR", return_id=1,
                               location="WH1", partial=True, refund=None, returned_value=Money.of("9.00", "EUR"),
                               lines=[ReturnedLine(line=1, sku="MUG-1", quantity=1, reason="damaged",
                                                   restocked=False)]), version=2)
        uow.commit()

    def month(returns: str) -> dict:
        r = client.get("/api/v1/analytics/sales", params={"by": "month", "returns": returns}, headers=admin)
        assert r.status_code == 200, r.text
        return {row["key"][:7]: row for row in r.json()["rows"]}

    returned = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m")  # the return happens now
    by_return = month("return_date")
    assert {k: (v["gross"], v["discounts"], v["returns"], v["net"], v["shipping"]) for k, v in by_return.items()} == {
        "2026-03": ("40.00", "-4.00", "0.00", "36.00", "4.99"),
        returned: ("0.00", "1.00", "-10.00", "-9.00", "0.00")}
    assert by_return["2026-03"]["orders"] == 1 and by_return[returned]["orders"] == 0
    by_sale = month("original_sale")
    assert list(by_sale) == ["2026-03"]
    assert (by_sale["2026-03"]["returns"], by_sale["2026-03"]["net"]) == ("-10.00", "27.00")
