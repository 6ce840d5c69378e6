"""In Chromium: a shopper signs up, confirms the email from the mail the real local SMTP server
received, sees tax and shipping before paying, pays by test card through 3-D Secure, and finds
the order with its invoice PDF in "My account"; signing out ends the shopper's session."""

from __future__ import annotations

import re

import pytest
from money_fixtures import seed_taxes_and_shipping
from payment_shop import PROVIDERS
from pydantic import SecretStr

pytestmark = pytest.mark.slow

PASSWORD = "lamp-lover-2026"


@pytest.fixture
def mailing_shop(live_server, smtp_server, monkeypatch):  # type: ignore[no-untyped-def]
    """The session's live server, mailing through the test SMTP server, with card payments."""
    for settings in {id(s): s for s in (live_server.settings, live_server.app.state.settings,
                                        getattr(live_server.db, "settings", None)) if s is not None}.values():
        monkeypatch.setattr(settings, "smtp_url", SecretStr(smtp_server.url))
        monkeypatch.setattr(settings, "payment_providers", PROVIDERS)
    return smtp_server


def sign_up_in_browser(page, smtp_server, email: str, screenshot=None) -> None:  # type: ignore[no-untyped-def]
    """Sign up through the storefront and confirm from the mail; ends signed in on /account."""
    before = len(smtp_server.messages)
    page.goto("/")
    page.click("#account-link")
    page.wait_for_url("**/account/sign-in*")
    page.click("a[href='/account/sign-up']")
    page.fill("#sign-up-form input[name=email]", email)
    page.fill("#sign-up-form input[name=first_name]", "Ann")
    page.fill("#sign-up-form input[name=last_name]", "Kowalska")
    page.fill("#sign-up-form input[name=password]", PASSWORD)
    page.fill("#sign-up-form input[name=password_again]", PASSWORD)
    page.click("#sign-up-form button[type=submit]")
    page.wait_for_selector("#check-mail")
    if screenshot:
        screenshot(page, "account-01-check-mail")
    mail = smtp_server.wait_for(before + 1, timeout=30)[before]
    assert mail["To"] == email
    link = re.search(r"https?://\S+/account/verify\?token=\S+", mail.get_body(("plain",)).get_content()).group(0)
    page.goto(link)
    page.fill("#verify-form input[name=password]", PASSWORD)
    page.click("#verify-form button[type=submit]")
    page.wait_for_url("**/account")
    assert page.locator("#account-email").inner_text() == email


def test_shopper_signs_up_confirms_from_the_mail_pays_and_finds_the_order_in_the_history(
        page, served_shop, live_server, mailing_shop, screenshot):
    seed_taxes_and_shipping(live_server.db)
    sign_up_in_browser(page, mailing_shop, "ann.shopper@example.com", screenshot)
    assert page.locator("#no-orders").is_visible()
    screenshot(page, "account-02-confirmed")

    page.goto(f"/product/{served_shop.product_ids['LAMP-FLOOR']}")
    page.click("#add-to-cart button[type=submit]")
    page.wait_for_url("**/cart")
    page.click("#to-checkout")
    page.wait_for_url("**/checkout")
    assert "Signed in as ann.shopper@example.com" in page.locator("#signed-in-as").inner_text()
    assert page.input_value("input[name=email]") == "ann.shopper@example.com"
    page.fill("input[name=line1]", "ul. Długa 5")
    page.fill("input[name=city]", "Warszawa")
    page.fill("input[name=postal_code]", "00-238")
    page.fill("input[name=country]", "PL")
    page.check("input[name=payment][value=testcard]")
    page.fill("#card-number", "4000 0027 6000 3184")
    page.click("#review-totals")
    page.wait_for_load_state()
    assert "VAT 23% included" in page.locator("#summary-totals").inner_text()
    assert page.locator("#sum-shipping").inner_text().startswith("12.30")
    page.click("#place-order")
    page.wait_for_url(re.compile(r"/pay/testcard/challenge"))
    page.click("button[value=approve]")
    page.wait_for_url(re.compile(r"/order/"))
    assert page.locator("#order-status").inner_text().lower() == "paid"

    page.click("#account-link")
    page.wait_for_url("**/account")
    rows = page.locator("#order-history tbody tr")
    assert rows.count() == 1 and "paid" in rows.first.inner_text().lower()
    rows.first.locator("a").click()
    page.wait_for_selector("#documents")
    screenshot(page, "account-03-order")
    pdf_href = page.locator("#documents a").first.get_attribute("href")
    pdf = page.request.get(pdf_href)
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")

    page.goto("/account")
    page.click("#sign-out")
    page.wait_for_url(re.compile(r"/$"))
    assert page.locator("#account-link").inner_text() == "Sign in"
    page.goto("/account/orders")
    page.wait_for_url(re.compile(r"/account/sign-in\?next="))
    assert not page.errors, page.errors
