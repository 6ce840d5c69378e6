"""Issue 20, defects 6 and 16 and the date range picker: figures that disagreed (coupon
discounts, the funnel's purchase stage, the customer 360's order statuses) and analytics
pages that could not show imported history. Orders are placed through the orders API (the
real producer of the events analytics and the CRM consume)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from tests.web.conftest import form_sign_in as sign_in


def _order(client, lines, *, customer=None, headers=None, **extra):  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/orders", json={"channel": "web", "customer": customer or {"email": "first@example.com"},
                                            "lines": [{"sku": s, "quantity": q} for s, q in lines],
                                            "payment": {"provider": "test", "behaviour": "succeed"}, **extra},
                    headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def _ten_percent_coupon(client, admin):  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/promotions", json={"name": "Ten off", "kind": "order_percent", "percent": "10",
                                                 "coupon_code": "TEN"}, headers=admin)
    assert r.status_code == 201, r.text


def test_sales_today_and_analytics_sales_count_coupon_discounts(client, shop, admin):
    _ten_percent_coupon(client, admin)
    order = _order(client, [("MUG-1", 2), ("KETTLE-1", 1)], coupon="TEN")
    totals = order["totals"]
    assert Decimal(totals["discount"]) > 0
    charged = Decimal(totals["subtotal"]) - Decimal(totals["discount"])

    r = client.get("/api/v1/analytics/sales", params={"by": "day"}, headers=admin)
    assert r.status_code == 200, r.text
    total = r.json()["total"]
    assert Decimal(total["gross"]) == Decimal(totals["subtotal"])
    assert Decimal(total["discounts"]) == -Decimal(totals["discount"])
    assert Decimal(total["net"]) == Decimal(total["revenue"]) == charged
    assert total["orders"] == 1

    sign_in(client, shop.users["admin"])
    tile = client.get("/console/tiles/sales")
    assert tile.status_code == 200
    assert f"{charged:,.2f}" in tile.text and f"{Decimal(totals['subtotal']):,.2f}" not in tile.text

    # a cancelled order takes its discount back with it: nothing left
    assert client.post(f"/api/v1/orders/{order['id']}/cancel", headers=admin).status_code == 200
    total = client.get("/api/v1/analytics/sales", params={"by": "day"}, headers=admin).json()["total"]
    assert Decimal(total["net"]) == 0 and Decimal(total["discounts"]) == 0 and total["orders"] == 0


def test_the_funnel_purchase_stage_counts_real_orders(client, shop, admin, db):
    from merx.core.uow import UnitOfWork
    from merx.customers import service as customers
    from merx.customers.schemas import CustomerCreate

    with UnitOfWork(db) as uow:
        cid = customers.create_customer(uow, CustomerCreate(email="funnel@example.com")).id
    start = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=30)
    events = [{"type": t, "customer": {"customer_id": cid}, "timestamp": (start + dt.timedelta(minutes=i)).isoformat(),
               "properties": props}
              for i, (t, props) in enumerate((("page_view", {"url": "https://shop.test/"}),
                                              ("product_view", {"sku": "MUG-1"}), ("add_to_cart", {"sku": "MUG-1"})))]
    r = client.post("/api/v1/events", json={"events": events}, headers=admin)
    assert r.status_code == 200, r.text
    _order(client, [("MUG-1", 1)], customer={"id": cid}, headers=admin)  # the storefront sends no purchase event

    r = client.get("/api/v1/analytics/funnel", headers=admin)
    assert r.status_code == 200, r.text
    stages = {s["stage"]: s["count"] for s in r.json()["stages"]}
    assert stages["decision"] == 1 and stages["purchase"] == 1


def test_the_customer_360_shows_completed_and_partially_refunded_orders(client, shop, admin):
    from merx.core.uow import UnitOfWork  # noqa: F401 - keeps the imports of this module alike

    customer = client.post("/api/v1/customers", json={"email": "ann@example.com"}, headers=admin).json()
    done = _order(client, [("KETTLE-1", 1)], customer={"id": customer["id"]}, headers=admin,
                  fulfilment={"type": "pickup", "location": "ST-WAW"})
    for step, body in (("ready-for-pickup", None), ("picked-up", {"location": "ST-WAW"}), ("complete", None)):
        r = client.post(f"/api/v1/orders/{done['id']}/{step}", json=body, headers=admin)
        assert r.status_code == 200, (step, r.text)
    assert r.json()["status"] == "completed"

    half = _order(client, [("KETTLE-1", 2)], customer={"id": customer["id"]}, headers=admin,
                  fulfilment={"type": "pickup", "location": "ST-WAW"})
    assert client.post(f"/api/v1/orders/{half['id']}/ready-for-pickup", headers=admin).status_code == 200
    assert client.post(f"/api/v1/orders/{half['id']}/picked-up", json={"location": "ST-WAW"},
                       headers=admin).status_code == 200
    ret = client.post(f"/api/v1/orders/{half['id']}/returns", headers=admin,
                      json={"location": "ST-WAW", "lines": [{"line": 1, "quantity": 1, "reason": "too_small"}]})
    assert ret.status_code == 201, ret.text
    r = client.post(f"/api/v1/returns/{ret.json()['id']}/receive", headers=admin)
    assert r.status_code == 200, r.text

    overview = client.get(f"/api/v1/customers/{customer['id']}/overview", headers=admin).json()
    status = {o["order_id"]: o["status"] for o in overview["orders"]}
    assert status[done["id"]] == "completed"
    assert status[half["id"]] == "partially_refunded"
    sign_in(client, shop.users["admin"])
    page = client.get(f"/console/customers/{customer['id']}").text
    assert "partially refunded" in page and "completed" in page


def _history(db, when: dt.datetime, n: int = 3) -> None:
    """Imported history, as `merx import online-retail` records it: lines years before now."""
    from merx.analytics import service as analytics
    from merx.analytics.facts import SalesLineIn
    from merx.core.uow import UnitOfWork

    lines = [SalesLineIn(source="online-retail", line_key=f"H{i}:1", order_ref=f"H{i}", quantity=2,
                         unit_price=Decimal("5.00"), currency="GBP", occurred_at=when + dt.timedelta(days=7 * i),
                         sku="MUG-1", customer_ref=f"online-retail:{i}", country="United Kingdom")
             for i in range(n)]
    lines.append(SalesLineIn(source="online-retail", line_key="H0:2", order_ref="H0", quantity=1,
                             unit_price=Decimal("3.50"), currency="GBP", occurred_at=when, sku="POST",
                             line_class="shipping"))
    with UnitOfWork(db) as uow:
        analytics.record_sales_lines(uow, lines)


def test_imported_history_shows_on_the_analytics_pages_within_the_data_range(client, shop, db):
    _history(db, dt.datetime(2010, 3, 1, 10, tzinfo=dt.timezone.utc))
    sign_in(client, shop.users["admin"])
    r = client.get("/console/analytics/sales")
    assert r.status_code == 200
    # the data ends in 2010: the default period is its last year (here all of it), not the clock's
    assert re.search(r'id="period-from" value="2010-03-01"', r.text)
    assert re.search(r'id="period-to" value="2010-03-15"', r.text)
    assert 'min="2010-03-01"' in r.text and 'max="2010-03-15"' in r.text
    assert "The data covers 2010-03-01 to 2010-03-15" in r.text
    assert "30.00" in r.text  # net sales of the three imported orders (3 x 2 x 5.00), shipping apart
    assert "could not be computed" not in r.text

    r = client.get("/console/analytics/sales", params={"from": "2010-03-08", "to": "2010-03-15"})
    assert "showing 2010-03-08 to 2010-03-15" in r.text and "20.00" in r.text
    r = client.get("/console/analytics/pareto", params={"from": "2001-01-01", "to": "2030-12-31"})
    assert r.status_code == 200 and "The data starts on 2010-03-01" in r.text and "The data ends on 2010-03-15" in r.text
    r = client.get("/console/analytics/sales", params={"from": "2010-03-15", "to": "2010-03-01"})
    assert r.status_code == 200 and "To: must not be before from" in r.text
    r = client.get("/console/analytics/sales", params={"from": "March"})
    assert r.status_code == 200 and "is not a date" in r.text


@pytest.mark.backends("sqlite")
def test_the_date_range_picker_in_chromium(page, served_shop, live_server, db, login, screenshot):
    """The picker's inputs are bounded by the data's range and choosing a range redraws the page."""
    _history(db, dt.datetime(2010, 3, 1, 10, tzinfo=dt.timezone.utc))
    login(page, served_shop.users["admin"])
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto("/console/analytics/sales")
    start, end = page.locator("#period-from"), page.locator("#period-to")
    assert start.get_attribute("min") == "2010-03-01" and start.get_attribute("max") == "2010-03-15"
    assert end.get_attribute("max") == "2010-03-15"
    start.fill("2010-03-08")
    end.fill("2010-03-15")
    page.locator("#period-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"from=2010-03-08"))
    assert "showing 2010-03-08 to 2010-03-15" in page.locator("#data-range").inner_text()
    page.wait_for_selector("canvas[data-chart-ready]")
    # out of range: the browser refuses the value, the form is not sent
    start.fill("2001-01-01")
    page.locator("#period-form button[type=submit]").click()
    assert start.evaluate("el => el.validity.rangeUnderflow") is True
    assert "from=2010-03-08" in page.url
    screenshot(page, "analytics-date-range")
    assert not errors, errors
