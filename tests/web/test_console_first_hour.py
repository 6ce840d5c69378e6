"""Defects a new user met in the first hour on the console (issue 20): analytics pages that
were errors or 404s, an order page whose sums did not add up, and wording."""

from __future__ import annotations

import datetime as dt
import re

from tests.web.conftest import form_sign_in as sign_in


def _place_order(client, sku: str = "LAMP-DESK", quantity: int = 1, **extra):  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/orders", json={"channel": "web", "customer": {"email": "first@example.com"},
                                            "lines": [{"sku": sku, "quantity": quantity}],
                                            "payment": {"provider": "test", "behaviour": "succeed"}, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def test_the_analytics_menu_item_opens_the_funnel_page(client, shop):
    sign_in(client, shop.users["admin"])
    r = client.get("/console/analytics")
    assert r.status_code == 200, r.text[:500]
    assert 'aria-current="page"' in r.text and "People per stage" in r.text
    assert "could not be computed" not in r.text and "TypeError" not in r.text


def test_pareto_page_ranks_the_products_that_make_the_revenue(client, shop):
    _place_order(client, "LAMP-FLOOR", 2)  # 258.00
    _place_order(client, "MUG-1", 1)  # 9.90
    sign_in(client, shop.users["admin"])
    r = client.get("/console/analytics/pareto")
    assert r.status_code == 200, r.text[:500]
    assert "could not be computed" not in r.text
    assert "Cumulative share of net sales, all products" in r.text and "<canvas" in r.text
    table = r.text[r.text.index("Products by net sales"):]
    # the floor lamp first, by name, in class A; the mug after it
    assert table.index("Nordic Floor Lamp") < table.index("Ceramic Mug")
    assert re.search(r"<td >1</td><td class=\"num\">LAMP-FLOOR</td><td class=\"num\">Nordic Floor Lamp</td>"
                     r"<td class=\"num\">258.00</td>", table), table[:1500]
    assert "of 2 products" in r.text


def test_abandonment_page_shows_abandoned_and_recovered_carts(client, shop, db):
    from merx.analytics.models import AbandonedCart
    from merx.core.uow import UnitOfWork

    long_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=30)
    with UnitOfWork(db) as uow:  # what the abandonment scan records (its own test covers finding them)
        uow.session.add_all([
            AbandonedCart(cart_key="k1", kind="cart", person_key="c:41", customer_id=41, items=2, value_minor=2000,
                          currency="EUR", last_activity_at=long_ago),
            AbandonedCart(cart_key="k2", kind="cart", person_key="c:42", customer_id=42, items=1, value_minor=1250,
                          currency="EUR", last_activity_at=long_ago, recovered_order_ref="ORD-9",
                          recovered_revenue_minor=3000, recovered_at=long_ago + dt.timedelta(hours=2)),
        ])
        uow.commit()
    sign_in(client, shop.users["admin"])
    r = client.get("/console/analytics/abandonment")
    assert r.status_code == 200, r.text[:500]
    assert "could not be computed" not in r.text
    assert "2 abandoned, 1 recovered (50% recovery rate)." in r.text
    assert re.search(r"<td >EUR</td><td class=\"num\">32.50</td><td class=\"num\">30.00</td>", r.text), r.text
    assert "ORD-9" in r.text and "<canvas" in r.text


def test_analytics_subpages_are_closed_to_customers_and_anonymous_visitors(client, shop):
    for path in ("/console/analytics/pareto", "/console/analytics/abandonment"):
        assert client.get(path, follow_redirects=False).status_code == 303




def test_order_page_with_a_coupon_adds_up_lines_discount_and_total(client, shop, admin):
    from decimal import Decimal

    r = client.post("/api/v1/promotions", json={"name": "Ten off", "kind": "order_percent", "percent": "10",
                                                 "coupon_code": "TEN"}, headers=admin)
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/orders", json={"channel": "web", "customer": {"email": "first@example.com"},
                                            "lines": [{"sku": "MUG-1", "quantity": 2}, {"sku": "KETTLE-1", "quantity": 1}],
                                            "payment": {"provider": "test", "behaviour": "succeed"}, "coupon": "TEN"})
    assert r.status_code == 201, r.text
    order = r.json()
    sign_in(client, shop.users["admin"])
    page = client.get(f"/console/orders/{order['id']}").text

    _assert_order_adds_up(page, ["19.80", "35.90"], "55.70", "5.57", Decimal(order["totals"]["total"]))


def _assert_order_adds_up(page: str, amounts: list[str], subtotal: str, discount: str, total: "Decimal") -> None:
    from decimal import Decimal

    def figure(name: str) -> Decimal:
        match = re.search(rf'id="total-{name}">(?:<strong>)?(−?)([\d.]+)(?: EUR)?', page)
        assert match, (name, page)
        return -Decimal(match.group(2)) if match.group(1) else Decimal(match.group(2))

    lines = [Decimal(a) for a in re.findall(r'class="num line-amount">([\d.]+)', page)]
    assert lines == [Decimal(a) for a in amounts]  # at list price: quantity × unit price
    assert sum(lines) == figure("subtotal") == Decimal(subtotal)
    assert figure("discount") == -Decimal(discount) and "Discount (TEN)" in page
    assert figure("subtotal") + figure("discount") + figure("shipping") == figure("total") == total


def test_storefront_order_page_with_a_coupon_adds_up_too(client, shop, admin):
    from decimal import Decimal

    r = client.post("/api/v1/promotions", json={"name": "Ten off", "kind": "order_percent", "percent": "10",
                                                 "coupon_code": "TEN"}, headers=admin)
    assert r.status_code == 201, r.text
    client.get("/")
    token = client.cookies.get("merx_csrf")
    client.post("/cart/add", data={"csrf_token": token, "sku": "LAMP-DESK", "quantity": "1"})
    client.post("/cart/add", data={"csrf_token": token, "sku": "KETTLE-1", "quantity": "2"})
    r = client.post("/checkout", data={"csrf_token": token, "email": "guest@example.com", "first_name": "Ann",
                                       "fulfilment": "pickup", "store": "ST-WAW", "payment": "manual",
                                       "coupon": "TEN"}, follow_redirects=False)
    assert r.status_code == 303, r.text[:800]
    _assert_order_adds_up(client.get(r.headers["location"]).text, ["49.00", "71.80"], "120.80", "12.08",
                          Decimal("108.72"))


def test_inventory_health_page_says_no_sales_not_the_status_code(client, shop):
    sign_in(client, shop.users["admin"])  # the shop has stock and no sales yet: every SKU-location is "no sales"
    r = client.get("/console/analytics/inventory")
    assert r.status_code == 200 and "could not be computed" not in r.text
    assert "no_sales" not in r.text
    assert '"no sales"' in r.text and '<td class="num">no sales</td>' in r.text



def test_a_half_refunded_order_reads_partly_refunded_on_the_console(client, shop, admin):
    r = client.post("/api/v1/orders", json={"channel": "web", "customer": {"email": "ann@example.com"},
                                            "lines": [{"sku": "KETTLE-1", "quantity": 2}],
                                            "fulfilment": {"type": "pickup", "location": "ST-WAW"},
                                            "payment": {"provider": "test", "behaviour": "succeed"}})
    assert r.status_code == 201, r.text
    oid = r.json()["id"]
    assert client.post(f"/api/v1/orders/{oid}/ready-for-pickup", headers=admin).status_code == 200
    assert client.post(f"/api/v1/orders/{oid}/picked-up", json={"location": "ST-WAW"}, headers=admin).status_code == 200
    ra = client.post(f"/api/v1/orders/{oid}/returns", headers=admin,
                     json={"location": "ST-WAW", "lines": [{"line": 1, "quantity": 1, "reason": "too_small"}]})
    assert ra.status_code == 201, ra.text
    assert client.post(f"/api/v1/returns/{ra.json()['id']}/receive", headers=admin).status_code == 200
    assert client.get(f"/api/v1/orders/{oid}", headers=admin).json()["payment"]["status"] == "partially_refunded"
    sign_in(client, shop.users["admin"])
    for page in (client.get(f"/console/orders/{oid}").text, client.get("/console/orders").text):
        assert "partially_refunded" not in page
        assert "test · partly refunded" in page


def test_segment_preview_says_one_customer_matches(client, shop):
    r = client.post("/api/v1/orders", json={"channel": "web", "customer": {"email": "solo@example.com"},
                                            "lines": [{"sku": "MUG-1", "quantity": 1}],
                                            "payment": {"provider": "test", "behaviour": "succeed"}})
    assert r.status_code == 201, r.text
    sign_in(client, shop.users["admin"])
    page = client.get("/console/segments", params={"expression": "orders_count >= 1"}).text
    assert "<strong>1</strong> customer matches." in page and "1</strong> customers match" not in page


def test_pickup_confirmation_names_the_store_with_its_address_and_hours(client, shop, admin):
    r = client.patch("/api/v1/locations/ST-WAW", headers=admin,
                     json={"address": "ul. Marszałkowska 1, Warszawa",
                           "opening_hours": {"mon": [["09:00", "18:00"]], "sat": [["10:00", "14:00"]]}})
    assert r.status_code == 200, r.text
    client.get("/")
    token = client.cookies.get("merx_csrf")
    client.post("/cart/add", data={"csrf_token": token, "sku": "LAMP-DESK", "quantity": "1"})
    r = client.post("/checkout", data={"csrf_token": token, "email": "guest@example.com", "first_name": "Ann",
                                       "fulfilment": "pickup", "store": "ST-WAW", "payment": "manual"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text[:800]
    status = client.get(r.headers["location"]).text
    pickup = status[status.index('id="pickup-store"'):]
    assert "Warsaw store</strong>, ul. Marszałkowska 1, Warszawa" in pickup
    assert "ST-WAW" not in status
    assert "Mon 09:00–18:00; Sat 10:00–14:00" in pickup
    # no mail server configured (MERX_SMTP_URL unset): the page must not promise an email;
    # with one, it says so (tests/marketing/test_transactional.py)
    assert "email" not in pickup


def test_daily_forecast_chart_is_titled_daily_not_dayly(client, admin, db):
    from tests.analytics.test_api import T0, _place

    for i in range(35):
        _place(db, 2000 + i, None, [("MUG-1", 1 + i % 3, "10.00")], when=T0 + dt.timedelta(days=i))
    r = client.get("/api/v1/analytics/forecast", headers=admin,
                   params={"format": "svg", "freq": "day", "backtest": "false", "horizon": 7,
                           "from": T0.date().isoformat(), "to": (T0 + dt.timedelta(days=35)).date().isoformat()})
    assert r.status_code == 200, r.text[:500]
    assert b"Daily revenue forecast" in r.content and b"dayly" not in r.content.lower()
