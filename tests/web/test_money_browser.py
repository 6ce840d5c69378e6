"""In Chromium: a shopper sees shipping and tax before paying, pays by test card through the
3-D Secure page and opens the invoice PDF; staff refund part of it in the console, the credit
note is issued and the tax report shows both. The shopper signs up first (the confirmation
mail read from the real local SMTP server) and pays signed in."""

from __future__ import annotations

import re

import pytest
from money_fixtures import seed_taxes_and_shipping
from payment_shop import PROVIDERS

from tests.web.conftest import sign_in

pytestmark = pytest.mark.slow


@pytest.fixture
def card_payments(live_server, monkeypatch):  # type: ignore[no-untyped-def]
    """The session's live server, with the payments context's providers enabled for this test."""
    for settings in {id(s): s for s in (live_server.settings, live_server.app.state.settings,
                                        getattr(live_server.db, "settings", None)) if s is not None}.values():
        monkeypatch.setattr(settings, "payment_providers", PROVIDERS)


def test_shopper_pays_with_3ds_sees_tax_and_invoice_staff_refunds_and_the_tax_report_shows_both(
        page, served_shop, live_server, card_payments, smtp_server, monkeypatch, screenshot):
    from pydantic import SecretStr

    from tests.web.test_account_browser import sign_up_in_browser

    seed_taxes_and_shipping(live_server.db)
    for settings in {id(s): s for s in (live_server.settings, live_server.app.state.settings,
                                        getattr(live_server.db, "settings", None)) if s is not None}.values():
        monkeypatch.setattr(settings, "smtp_url", SecretStr(smtp_server.url))
    sign_up_in_browser(page, smtp_server, "ann.shopper@example.com")
    page.goto(f"/product/{served_shop.product_ids['LAMP-FLOOR']}")
    page.click("#add-to-cart button[type=submit]")
    page.wait_for_url("**/cart")
    page.click("#to-checkout")
    page.wait_for_url("**/checkout")
    # before any address: shipping within the home country, tax included
    assert page.locator("#sum-shipping").inner_text().startswith("12.30")
    assert "VAT 23% included" in page.locator("#summary-totals").inner_text()
    page.fill("input[name=email]", "ann.shopper@example.com")
    page.fill("input[name=first_name]", "Ann")
    page.fill("input[name=last_name]", "Kowalska")
    page.fill("input[name=line1]", "ul. Długa 5")
    page.fill("input[name=city]", "Berlin")
    page.fill("input[name=postal_code]", "10117")
    page.fill("input[name=country]", "DE")
    page.check("input[name=payment][value=testcard]")
    page.fill("#card-number", "4000 0027 6000 3184")
    page.click("#review-totals")
    page.wait_for_load_state()
    summary = page.locator("#summary-totals").inner_text()
    assert "VAT 19% included" in summary and page.locator("#sum-shipping").inner_text().startswith("15.00")
    assert page.locator("#sum-total").inner_text().startswith("144.00")  # 129.00 + 15.00
    screenshot(page, "money-01-checkout-summary")
    page.click("#place-order")
    page.wait_for_url(re.compile(r"/pay/testcard/challenge"))
    assert "144.00 EUR" in page.content()
    screenshot(page, "money-02-3ds")
    page.click("button[value=approve]")
    page.wait_for_url(re.compile(r"/order/"))
    assert page.locator("#order-status").inner_text().lower() == "paid"
    assert "VAT 19%" in page.locator("tfoot").inner_text()
    invoice = page.locator("#documents a").first
    assert re.match(r"Invoice INV/\d{4}/\d{6}", invoice.inner_text())
    pdf = page.request.get(invoice.get_attribute("href"))
    assert pdf.ok and pdf.body().startswith(b"%PDF")
    screenshot(page, "money-03-order")

    sign_in(page, served_shop.users["staff"])
    page.goto("/console/payments")
    form = page.locator("form.refund-form").first
    form.locator("input[name=amount]").fill("29.00")
    form.locator("input[name=reason]").fill("scratched base")
    form.locator("button").click()
    page.wait_for_url("**/console/payments")
    assert "refund done" in page.content()
    screenshot(page, "money-04-refund")
    page.goto("/console/invoices")
    docs = page.locator("#documents").inner_text()
    assert re.search(r"INV/\d{4}/000001", docs) and re.search(r"CN/\d{4}/000001", docs)
    report = page.locator("#tax-report").inner_text()
    # 144.00 at 19% included: 22.99 tax; the 29.00 credit note: 4.63 tax
    assert "22.99" in report and "4.63" in report and "18.36" in report
    screenshot(page, "money-05-tax-report")
    assert page.errors == [], page.errors
