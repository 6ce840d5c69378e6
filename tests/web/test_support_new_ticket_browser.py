"""In Chromium: an agent writes down a phone call as a ticket from the console. The first
try forgets the subject and sees the problem next to that field, with the notes kept; the
second opens the ticket, which shows the call's words and its phone channel."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def test_an_agent_opens_a_phone_note_ticket(page, served_shop, login, screenshot) -> None:
    login(page, served_shop.users["support_agent"])
    page.goto("/console/support")
    page.click("nav.tabs a:has-text('Open a ticket')")
    expect(page.locator("h1")).to_have_text("Open a ticket")
    page.select_option("#f-channel", "phone")
    page.select_option("#f-kind", "complaint")
    page.fill("#f-body", "Called at 10:05: the floor lamp arrived with a cracked shade.")
    page.fill("#f-requester_email", "buyer@shop.test")
    page.click("#new-ticket button[type=submit]")
    expect(page.locator("#err-subject")).to_have_text("required")
    expect(page.locator("#f-subject")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-body")).to_have_value("Called at 10:05: the floor lamp arrived with a cracked shade.")
    page.fill("#f-subject", "Cracked lamp shade (phone call)")
    page.select_option("#f-priority", "high")
    page.click("#new-ticket button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/support/tickets/\d+"))
    expect(page.locator("h1")).to_contain_text("Cracked lamp shade (phone call)")
    expect(page.locator("#thread")).to_contain_text("cracked shade")
    expect(page.locator("dl")).to_contain_text("phone")
    expect(page.locator("dl")).to_contain_text("high")
    screenshot(page, "support-new-ticket")
    # the refused form is answered 422 on purpose (Chromium logs that status); nothing else
    assert [e for e in page.errors if "status of 422" not in e] == [], page.errors
