"""The storefront and the console in a real browser (Debian's Chromium through Playwright):
a shopper searches, filters, adds to cart and checks out with pickup in store; staff signs
in, finds the order and marks it ready for pickup. No page logs a console error; every step
leaves a screenshot under test-artifacts/web/."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.slow


def test_shopper_searches_filters_adds_to_cart_and_checks_out_with_pickup(page, served_shop, live_server,
                                                                         screenshot):
    from merx.orders import public as orders
    page.goto("/")
    assert page.title() == "Merx demo shop"
    page.fill("#q", "lamp")
    suggestion = page.locator("#suggestions a").first
    suggestion.wait_for()
    assert "Lamp" in suggestion.inner_text()
    screenshot(page, "store-01-suggestions")

    page.press("#q", "Enter")
    page.wait_for_url(re.compile(r"/search\?q=lamp"))
    cards = page.locator("#results .product-card")
    # every lamp, and lamps first: the semantic stage may add related products after them
    names = cards.locator(".name").all_inner_texts()
    assert sorted(names[:3]) == ["Nordic Desk Lamp", "Nordic Floor Lamp", "Retro Pendant Lamp"]
    assert not any("Lamp" in n for n in names[3:])
    screenshot(page, "store-02-search")

    page.locator(".facets label", has_text="Lumen").click()  # brand filter
    page.wait_for_url(re.compile(r"brand="))
    assert cards.locator(".name").all_inner_texts()[0] == "Nordic Desk Lamp"
    screenshot(page, "store-03-filtered")

    cards.locator(".name").first.click()
    page.wait_for_url(re.compile(r"/product/\d+"))
    warsaw = page.locator("tr", has_text="Warsaw store")
    assert "in stock" in warsaw.inner_text()
    screenshot(page, "store-04-product")

    page.click("#add-to-cart button[type=submit]")
    page.wait_for_url("**/cart")
    assert "Nordic Desk Lamp" in page.locator("table").inner_text()
    assert "(1)" in page.locator("#cart-link").inner_text()
    screenshot(page, "store-05-cart")

    page.click("#to-checkout")
    page.wait_for_url("**/checkout")
    page.fill("input[name=email]", "ann.shopper@example.com")
    page.fill("input[name=first_name]", "Ann")
    page.check("input[name=fulfilment][value=pickup]")
    page.select_option("select[name=store]", "ST-WAW")
    page.check("input[name=payment][value=manual]")
    screenshot(page, "store-06-checkout")
    page.click("#place-order")
    page.wait_for_url(re.compile(r"/order/"))
    assert "Pickup in store" in page.content()
    assert page.locator("#order-status").inner_text() in ("confirmed", "pending", "paid")
    screenshot(page, "store-07-order-status")

    from merx.core.auth import SYSTEM
    from merx.core.uow import UnitOfWork

    with UnitOfWork(live_server.db, SYSTEM, readonly=True) as uow:
        placed, _ = orders.list_orders(uow)
    assert [(o["email"], o["fulfilment"]["type"], o["fulfilment"]["location"]) for o in placed] == [
        ("ann.shopper@example.com", "pickup", "ST-WAW")]
    assert [(line["sku"], line["quantity"]) for line in placed[0]["lines"]] == [("LAMP-DESK", 1)]
    assert page.errors == [], page.errors

    # The storefront sent its tracking events (the CRM's merx.js batches them to /api/v1/events).
    from merx.crm import service as crm  # the test reads the tracked events the way CRM stores them
    import time

    wanted = {"page_view", "search", "product_view", "add_to_cart", "checkout_started"}
    seen: set[str] = set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not wanted <= seen:
        with UnitOfWork(live_server.db, SYSTEM, readonly=True) as uow:
            seen = {event.type for event in uow.session.scalars(crm.list_events(uow))}
        time.sleep(0.5)
    assert wanted <= seen, seen


def test_staff_signs_in_finds_the_order_and_marks_it_ready_for_pickup(page, served_shop, live_server, login,
                                                                     screenshot):
    from merx.orders import public as orders
    from merx.core.auth import ANONYMOUS, SYSTEM
    from merx.core.uow import UnitOfWork
    from merx.orders.schemas import OrderCreate

    with UnitOfWork(live_server.db, ANONYMOUS) as uow:
        placed = orders.place_order(uow, OrderCreate(
            channel="web", customer={"email": "pick.me.up@example.com"}, lines=[{"sku": "KETTLE-1", "quantity": 2}],
            fulfilment={"type": "pickup", "location": "ST-WAW"}, payment={"provider": "manual"}))
    number = placed["number"]

    login(page, served_shop.users["staff"])
    screenshot(page, "console-01-dashboard")
    page.click("nav >> text=Orders")
    page.wait_for_url("**/console/orders")
    page.fill("#order-q", number)
    page.press("#order-q", "Enter")
    page.wait_for_url(re.compile(r"q="))
    page.click(f"a:text-is('{number}')")
    page.wait_for_url(re.compile(r"/console/orders/\d+$"))
    screenshot(page, "console-02-order")
    page.click("button:has-text('Mark ready for pickup')")
    page.wait_for_url(re.compile(r"/console/orders/\d+$"))
    assert page.locator("#order-status").inner_text() == "ready for pickup"
    assert "ready for pickup" in page.locator(".flash").inner_text()
    screenshot(page, "console-03-ready-for-pickup")

    with UnitOfWork(live_server.db, SYSTEM, readonly=True) as uow:
        assert orders.get_order(uow, placed["id"])["status"] == "ready_for_pickup"
    assert page.errors == [], page.errors


def test_console_pages_render_without_console_errors(page, served_shop, login, screenshot):
    login(page, served_shop.users["admin"])
    for path, name in [("/console/catalog", "console-catalog"), ("/console/inventory", "console-inventory"),
                       ("/console/customers", "console-customers"), ("/console/search?q=lamp", "console-search"),
                       ("/console/integration", "console-integration")]:
        page.goto(path)
        assert page.locator("main h1").count() == 1
        screenshot(page, name)
    page.goto("/console/catalog")
    page.fill("#catalog-q", "kettle")  # HTMX filters the list as you type
    page.wait_for_function("document.querySelectorAll('#catalog-rows tbody tr').length === 1")
    assert "Steel Kettle" in page.locator("#catalog-rows").inner_text()
    assert page.errors == [], page.errors


CHARTED_PAGES = ["funnel", "cohorts", "sales", "portfolio", "inventory", "forecast"]


def test_analytics_pages_draw_their_charts(page, served_shop, live_server, login, screenshot):
    from merx.orders import public as orders
    from merx.core.auth import ANONYMOUS
    from merx.core.uow import UnitOfWork
    from merx.orders.schemas import OrderCreate

    for i, (sku, qty) in enumerate([("MUG-1", 3), ("KETTLE-1", 1), ("LAMP-DESK", 2), ("MUG-1", 1)]):
        with UnitOfWork(live_server.db, ANONYMOUS) as uow:
            orders.place_order(uow, OrderCreate(
                channel="web", customer={"email": f"buyer{i % 3}@example.com"}, lines=[{"sku": sku, "quantity": qty}],
                fulfilment={"type": "pickup", "location": "ST-WAW"} if sku != "MUG-1" else
                {"type": "ship", "address": {"line1": "Main St 1", "city": "Poznań", "country": "PL"}},
                payment={"provider": "test", "behaviour": "succeed"}))
    # Half a year of weekly history (recorded the way an import loads it) for cohorts and the forecast.
    import datetime as dt
    from decimal import Decimal

    from merx.analytics import service as analytics

    now = dt.datetime.now(dt.timezone.utc)
    history = [{"source": "web-test", "line_key": f"h{week}-{n}", "order_ref": f"H{week}-{n}", "sku": sku,
                "quantity": 1 + (week + n) % 4, "unit_price": Decimal(price), "currency": "EUR",
                "occurred_at": now - dt.timedelta(weeks=week, days=n), "customer_ref": f"hist-{(week * 3 + n) % 17}",
                "category": "kitchen"}
               for week in range(1, 27) for n, (sku, price) in enumerate([("MUG-1", "9.90"), ("KETTLE-1", "35.90")])]
    with UnitOfWork(live_server.db) as uow:
        analytics.record_sales_lines(uow, history)
    login(page, served_shop.users["admin"])
    for section in CHARTED_PAGES:
        page.goto(f"/console/analytics/{section}")
        canvases = page.locator("canvas[data-chart]")
        assert canvases.count() >= 1, section
        page.wait_for_function("[...document.querySelectorAll('canvas[data-chart]')]"
                               ".every(c => c.getAttribute('data-chart-ready') === '1')")
        drawn = page.evaluate("""[...document.querySelectorAll('canvas[data-chart]')].map(c => {
            const chart = Chart.getChart(c);
            const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let inked = 0;
            for (let i = 3; i < px.length; i += 4) if (px[i] > 0) inked++;
            return {type: chart ? chart.config.type : null, inked: inked, points: chart ? chart.data.datasets
                    .reduce((n, d) => n + d.data.filter(v => v !== null).length, 0) : 0};
        })""")
        assert all(d["type"] and d["inked"] > 500 for d in drawn), (section, drawn)
        assert any(d["points"] > 0 for d in drawn), (section, drawn)
        screenshot(page, f"console-analytics-{section}")
    page.goto("/console")
    page.wait_for_function("document.querySelectorAll('canvas[data-chart-ready]').length >= 1")
    screenshot(page, "console-dashboard")
    assert page.errors == [], page.errors
