"""The store associate app and the kiosk in Chromium at a phone's size (360 x 740).

The scan: the test draws a real EAN-13 barcode image (python-barcode + Pillow) and hands it
to the app's "photo of a barcode" input, so the vendored ZXing reader decodes the pixels in
the browser (its decode-from-image path; headless Chromium has no camera to point at a
barcode, so the camera path is not driven here)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Iterator

import pytest

from instore_shop import PASSWORD, seed_chain

PHONE = {"width": 360, "height": 740}


@pytest.fixture
def chain(db: Any, live_server: Any) -> Any:
    assert db is live_server.db
    shop = seed_chain(db)
    from merx.search import service as search

    search.register_data_dir(db, live_server.settings.data_dir, live_server.settings.default_currency)
    search.rebuild_index(db, live_server.settings.data_dir)
    return shop


@pytest.fixture
def phones(browser: Any, live_server: Any) -> Iterator[Any]:
    contexts = []

    def open_phone() -> Any:
        ctx = browser.new_context(base_url=live_server.url, viewport=PHONE, is_mobile=True, has_touch=True,
                                  device_scale_factor=2)
        ctx.set_default_timeout(20_000)
        contexts.append(ctx)
        page = ctx.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        return page

    yield open_phone
    for ctx in contexts:
        ctx.close()


def _ean_png(tmp_path: Path, digits12: str) -> Path:
    import barcode
    from barcode.writer import ImageWriter

    code = barcode.get("ean13", digits12, writer=ImageWriter())
    path = tmp_path / f"ean-{code.get_fullcode()}.png"
    buf = io.BytesIO()
    code.write(buf, options={"module_width": 0.4, "module_height": 18, "quiet_zone": 8, "font_size": 8})
    path.write_bytes(buf.getvalue())
    return path


def _sign_in(page: Any, email: str) -> None:
    page.goto("/associate")
    page.wait_for_url("**/associate/login**")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/associate")


def _fits_the_phone(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide on a {PHONE['width']}px screen"


def _on_hand(db: Any, sku: str, store: str) -> int:
    from merx.core.uow import UnitOfWork
    from merx.inventory import public as inventory

    with UnitOfWork(db) as uow:
        rows = inventory.availability(uow, sku, with_quantities=True)["locations"]
    return next((r["on_hand"] for r in rows if r["location"] == store), 0)


def test_scan_order_for_pickup_elsewhere_hand_over_and_return_in_a_third_store(
        db: Any, chain: Any, phones: Any, tmp_path: Path, screenshot: Any) -> None:
    marta = phones()
    _sign_in(marta, chain.users["waw"])
    assert marta.locator("#current-store").inner_text() == "Warsaw store"
    _fits_the_phone(marta)
    # Installable: a manifest, and the service worker controls the app's scope.
    assert marta.locator("link[rel=manifest]").get_attribute("href") == "/associate/manifest.webmanifest"
    assert marta.evaluate("navigator.serviceWorker.ready.then(r => r.scope)").endswith("/associate")
    # Scan: a drawn EAN-13 image goes through the in-browser reader.
    image = _ean_png(tmp_path, "400638133393")
    assert image.name == "ean-4006381333931.png"
    marta.goto("/associate/find")
    marta.set_input_files("#scan-file", str(image))
    marta.wait_for_url("**/associate/product/LAMP-FLOOR")
    assert marta.locator("#product-name").inner_text() == "Nordic Floor Lamp"
    assert "none here" in marta.locator("#stock-here").inner_text()
    krk_row = marta.locator("tr[data-store=ST-KRK]").inner_text()
    assert "2" in krk_row and "km" in krk_row
    _fits_the_phone(marta)
    screenshot(marta, "associate-product-360")
    marta.click("#add-to-cart")
    marta.wait_for_url("**/associate/cart")
    # The customer at the counter, found by phone.
    marta.click("text=Find or create the customer")
    marta.fill("#customer-q", "601 200 300")
    marta.press("#customer-q", "Enter")
    marta.wait_for_selector("#matches li")
    assert marta.locator("#matches li").count() == 1
    marta.click("#matches button:has-text('Choose')")
    marta.wait_for_url("**/associate/cart")
    assert "Anna Kowalska" in marta.locator("#cart-customer").inner_text()
    marta.check("input[name=fulfilment][value=pickup]")
    marta.select_option("#pickup-store", "ST-KRK")
    assert "all in stock" in marta.locator("#pickup-store option[value=ST-KRK]").inner_text()
    marta.check("input[name=payment_mode][value=at_pickup]")
    _fits_the_phone(marta)
    screenshot(marta, "associate-cart-360")
    marta.click("#place-order")
    marta.wait_for_url("**/associate/orders/*")
    number = marta.locator("#receipt h1").inner_text().removeprefix("Order ").strip()
    code = marta.locator("#pickup-code").inner_text().strip()
    assert marta.locator("#pickup-store").inner_text() == "ST-KRK" and len(code) == 6
    screenshot(marta, "associate-receipt-360")
    assert not marta.errors, marta.errors

    # Kraków's associate prepares and hands it over; a wrong code is refused first.
    tomasz = phones()
    _sign_in(tomasz, chain.users["krk"])
    tomasz.goto("/associate/pickups")
    tomasz.click(f"#to-prepare li[data-order={number}] button:has-text('Ready')")
    tomasz.wait_for_selector(f"#ready li[data-order={number}]")
    ready = tomasz.locator(f"#ready li[data-order={number}]")
    ready.locator("input[name=code]").fill("000000" if code != "000000" else "111111")
    ready.locator("input[name=payment_collected]").check()
    ready.locator("button:has-text('Hand over')").click()
    assert "does not match" in tomasz.locator("#pickup-error").inner_text()
    ready = tomasz.locator(f"#ready li[data-order={number}]")
    ready.locator("input[name=code]").fill(code)
    ready.locator("input[name=payment_collected]").check()
    ready.locator("button:has-text('Hand over')").click()
    tomasz.wait_for_selector(".flash")
    assert f"Order {number} is handed over" in tomasz.locator(".flash").inner_text()
    assert tomasz.locator(f"#ready li[data-order={number}]").count() == 0
    _fits_the_phone(tomasz)
    assert _on_hand(db, "LAMP-FLOOR", "ST-KRK") == 1

    # Gdańsk takes back one kettle of an online order: it goes on Gdańsk's shelf.
    before = _on_hand(db, "KETTLE-1", "ST-GDN")
    ola = phones()
    _sign_in(ola, chain.users["gdn"])
    ola.goto("/associate/returns")
    ola.fill("#return-number", chain.online_order["number"])
    ola.press("#return-number", "Enter")
    ola.wait_for_selector("#return-form")
    ola.fill("input[name=qty_1]", "1")
    ola.select_option("select[name=condition]", "as_new")
    ola.select_option("select[name=refund_method]", "cash")
    _fits_the_phone(ola)
    ola.click("#take-return")
    ola.wait_for_selector("#return-receipt")
    assert "restocked here" in ola.locator("#return-receipt").inner_text()
    assert "refunded" in ola.locator("#return-status").inner_text()
    assert _on_hand(db, "KETTLE-1", "ST-GDN") == before + 1
    # More than is left to return: a clear message, nothing written.
    ola.goto(f"/associate/returns?number={chain.online_order['number']}")
    ola.fill("input[name=qty_1]", "2")
    ola.click("#take-return")
    assert "only 1 of line 1 can still be returned" in ola.locator("#return-error").inner_text()
    assert _on_hand(db, "KETTLE-1", "ST-GDN") == before + 1
    screenshot(ola, "associate-return-refused-360")
    for p in (tomasz, ola):
        assert not p.errors, p.errors


def test_scan_of_a_barcode_that_matches_nothing(db: Any, chain: Any, phones: Any, tmp_path: Path) -> None:
    page = phones()
    _sign_in(page, chain.users["waw"])
    page.goto("/associate/find")
    page.set_input_files("#scan-file", str(_ean_png(tmp_path, "501234567890")))
    page.wait_for_url("**/associate/code?code=5012345678900")
    assert "No product has the code 5012345678900" in page.locator("#code-error").inner_text()


@pytest.fixture
def mailing_cards(live_server: Any, smtp_server: Any, monkeypatch: Any) -> Any:
    """The live server mails through the test SMTP server and takes card payments (testcard)."""
    from pydantic import SecretStr

    from payment_shop import PROVIDERS

    for settings in {id(s): s for s in (live_server.settings, live_server.app.state.settings,
                                        getattr(live_server.db, "settings", None)) if s is not None}.values():
        monkeypatch.setattr(settings, "smtp_url", SecretStr(smtp_server.url))
        monkeypatch.setattr(settings, "payment_providers", PROVIDERS)
    return smtp_server


def test_kiosk_search_order_for_delivery_pay_by_link_and_reset(db: Any, chain: Any, browser: Any, live_server: Any,
                                                               phones: Any, screenshot: Any, mailing_cards: Any) -> None:
    import re

    import sqlalchemy as sa

    from merx.instore.models import KioskSession
    from merx.marketing import sending

    kiosk_ctx = browser.new_context(base_url=live_server.url, viewport={"width": 800, "height": 1280})
    kiosk_ctx.set_default_timeout(20_000)
    try:
        kiosk = kiosk_ctx.new_page()
        kiosk.goto("/kiosk/ST-WAW?idle=5")
        kiosk.fill("#kiosk-q", "kettle")
        kiosk.press("#kiosk-q", "Enter")
        kiosk.click("#kiosk-results a:has-text('Steel Kettle')")
        kiosk.click("#kiosk-add")
        kiosk.wait_for_url("**/kiosk/ST-WAW/checkout")
        kiosk.fill("input[name=email]", "walk-in@example.com")
        kiosk.check("input[name=fulfilment][value=ship]")
        kiosk.fill("input[name=name]", "Walk In")
        kiosk.fill("input[name=line1]", "ul. Prosta 5")
        kiosk.fill("input[name=city]", "Warszawa")
        kiosk.click("#kiosk-place")
        kiosk.wait_for_selector("#kiosk-done")
        assert kiosk.locator("#kiosk-done svg").count() == 1  # the QR code of the payment link
        assert "sent the payment link to your email" in kiosk.locator("#kiosk-link-mailed").inner_text()
        pay_path = kiosk.locator("#kiosk-pay-link").get_attribute("href")
        number = kiosk.locator("#kiosk-done h1").inner_text().split()[1]
        screenshot(kiosk, "kiosk-done")
        # Left alone, the kiosk starts over: basket cleared, the session closed as idle.
        kiosk.wait_for_url("**/kiosk/ST-WAW", timeout=30_000)
        assert kiosk.locator("#kiosk-basket").inner_text() == "Basket"
        with db.read_sessions() as s:
            sessions = s.execute(sa.select(KioskSession.end_reason, KioskSession.order_id)).all()
        assert len(sessions) == 1 and sessions[0].end_reason == "idle" and sessions[0].order_id is not None
    finally:
        kiosk_ctx.close()
    # The link arrives by email (marketing's transactional sender, through the SMTP server) ...
    sending.dispatch_until_idle(db, settings=live_server.settings)
    mails = [m.get_body(("plain",)).get_content() for m in mailing_cards.wait_for(2, timeout=30)
             if m["To"] == "walk-in@example.com"]
    [body] = [b for b in mails if "/pay/" in b]  # (the other one is the order confirmation)
    assert number in body and re.search(r"https?://\S+(/pay/\S+)", body).group(1) == pay_path
    # ... and the shopper pays on their phone with a card, through the test gateway.
    phone = phones()
    phone.goto(pay_path)
    assert number in phone.locator("#pay h1").inner_text()
    phone.check("input[name=provider][value=testcard]")
    phone.fill("#pay-card", "4242 4242 4242 4242")
    screenshot(phone, "pay-link-form")
    _fits_the_phone(phone)
    phone.click("#pay-now")
    phone.wait_for_selector("#paid")
    screenshot(phone, "pay-link-paid")
    from merx.core.auth import SYSTEM
    from merx.core.uow import UnitOfWork
    from merx.orders import public as orders

    with UnitOfWork(db, SYSTEM) as uow:
        order = orders.order_by_number(uow, number)
    assert (order["channel"], order["fulfilment"]["type"], order["status"]) == ("store", "ship", "paid")
    assert (order["payment"]["provider"], order["payment"]["status"]) == ("testcard", "captured")
    with UnitOfWork(db, SYSTEM) as uow:
        from merx.instore import public as instore
        from merx.core.db import utcnow
        import datetime as dt

        report = instore.store_report(uow, since=utcnow() - dt.timedelta(hours=1), until=utcnow(), store="ST-WAW")
    waw = report.stores[0]
    assert (waw.kiosk_sessions, waw.kiosk_orders, waw.assisted_orders) == (1, 1, 0)


def test_customer_found_by_scanning_the_loyalty_card(db: Any, chain: Any, phones: Any, tmp_path: Path) -> None:
    import barcode
    from barcode.writer import ImageWriter

    from merx.core.auth import SYSTEM
    from merx.core.uow import UnitOfWork
    from merx.crm import identity

    with UnitOfWork(db, SYSTEM) as uow:  # the card was issued earlier (the CRM's identifier)
        identity.add_identifier(uow, chain.customers["ewa"], "loyalty_card", "LC-004217", verified=True)
        if uow.in_transaction():
            uow.commit()
    card = tmp_path / "card.png"
    buf = io.BytesIO()
    barcode.get("code128", "LC-004217", writer=ImageWriter()).write(
        buf, options={"module_width": 0.4, "module_height": 15, "quiet_zone": 8})
    card.write_bytes(buf.getvalue())
    page = phones()
    _sign_in(page, chain.users["waw"])
    page.goto("/associate/customers")
    page.set_input_files("#card-scan-file", str(card))
    page.wait_for_url("**/associate/customers?q=LC-004217")
    assert page.locator("#matches li").count() == 1
    assert "Ewa Nowak" in page.locator("#matches li").inner_text()
    assert "by loyalty card" in page.locator("#matches li").inner_text()
