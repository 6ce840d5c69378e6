"""Issue #20 part C in Chromium, as an admin clicks: a targeted buy-X-get-Y promotion whose
refused tiers come back beside the field before a correct one is created; a staff member's
password reset from their user page (shown once) that then signs them in; the inventory list
searched by product name. No script errors on the way (the refused form's 422 aside)."""

from __future__ import annotations

import re


def test_an_admin_creates_a_targeted_promotion_resets_a_password_and_searches_stock(page, served_shop, live_server,
                                                                                     login, screenshot, browser):
    login(page, served_shop.users["admin"])

    # a promotion for two lamps in the store channel: wrong tiers first, then buy 2 get 1
    page.goto("/console/promotions")
    page.click("#new-targeted-promotion")
    page.fill("#promotion-new input[name=name]", "Lamp trio")
    page.select_option("#promotion-new select[name=kind]", "tiered_percent")
    page.fill("#promotion-new input[name=tiers]", "lots")
    page.fill("#promotion-new textarea[name=skus]", "LAMP-DESK LAMP-FLOOR")
    page.check("#promotion-new input[name=channel][value=store]")
    page.click("#promotion-new button[type=submit]")
    assert page.locator("[data-field=tiers]").is_visible()
    assert page.input_value("#promotion-new textarea[name=skus]") == "LAMP-DESK LAMP-FLOOR"  # kept
    assert page.is_checked("#promotion-new input[name=channel][value=store]")
    screenshot(page, "console-promotion-new-refused")
    page.select_option("#promotion-new select[name=kind]", "buy_x_get_y")
    page.fill("#promotion-new input[name=tiers]", "")
    page.fill("#promotion-new input[name=buy_quantity]", "2")
    page.fill("#promotion-new input[name=get_quantity]", "1")
    page.fill("#promotion-new input[name=coupon_code]", "TRIO")
    page.click("#promotion-new button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/promotions/\d+$"))
    facts = page.locator("main").inner_text()
    assert "LAMP-DESK, LAMP-FLOOR" in facts and "store" in facts and "TRIO" in facts and "buy 2, get 1" in facts

    # the staff member's password: reset on their page, shown once, and it signs them in
    page.goto("/console/users")
    page.locator("tr", has_text=served_shop.users["staff"]).locator("a", has_text="Manage").click()
    page.click("#user-password-reset button[type=submit]")
    password = page.locator("#new-password code").inner_text()
    assert len(password) >= 12
    screenshot(page, "console-user-password-reset")
    page.click("a:has-text('Users and API keys')")
    page.locator("tr", has_text=served_shop.users["staff"]).locator("a", has_text="Manage").click()
    assert page.locator("#new-password").count() == 0  # shown once, on the answer to the reset only
    other = browser.new_context(base_url=live_server.url)
    try:
        staff_page = other.new_page()
        login(staff_page, served_shop.users["staff"], password)
        staff_page.goto("/console/orders")
        assert "/console/login" not in staff_page.url
    finally:
        other.close()

    # the inventory list, searched by a product's name
    page.goto("/console/inventory")
    page.fill("input[name=q]", "kettle")
    page.press("input[name=q]", "Enter")
    page.wait_for_url(re.compile(r".*q=kettle.*"))
    rows = page.locator("#stock-levels tbody tr", has_text="KETTLE-1")
    assert rows.count() == 1 and page.locator("#stock-levels tbody tr", has_text="MUG-1").count() == 0
    assert "1 stock row matches" in page.locator("#stock-rows-count").inner_text()
    assert [e for e in page.errors if "422" not in e] == []
