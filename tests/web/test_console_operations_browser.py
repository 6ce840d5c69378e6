"""The issue #20 build 2 console forms end to end in Chromium: staff edit and pause a promotion
(a refused limit shown beside its field), a rep edits a deal (a stage it cannot reach named
beside the stage), an admin sets a store's split opening hours and reads the change in the
audit log filtered to locations."""

from __future__ import annotations

import re
from typing import Any


def _unexpected(errors: list[str]) -> list[str]:
    """The page's errors but the refused form's own answer (a 422 page, which Chromium logs)."""
    return [e for e in errors if "status of 422" not in e]


def test_staff_edit_a_promotion_and_pause_it_in_the_browser(page: Any, served_shop: Any, live_server: Any,
                                                            login: Any, screenshot: Any) -> None:
    from merx.core.auth import SYSTEM
    from merx.core.uow import UnitOfWork
    from merx.pricing import public as pricing

    with UnitOfWork(live_server.db, actor=SYSTEM) as uow:
        pricing.create_promotion(uow, pricing.PromotionCreate(name="Lamp week", kind="order_percent", percent="10",
                                                              coupon_code="LAMP10"))
    login(page, served_shop.users["staff"])
    page.goto("/console/promotions")
    page.click("a[aria-label='Open Lamp week']")
    page.wait_for_url(re.compile(r"/console/promotions/\d+$"))
    page.fill("#promotion-edit input[name=name]", "Lamp fortnight")
    page.fill("#promotion-edit input[name=starts_at]", "2030-02-01T00:00")
    page.fill("#promotion-edit input[name=ends_at]", "2030-01-01T00:00")
    page.click("#promotion-edit button[type=submit]")
    message = page.locator("#promotion-edit [data-field=ends_at]")
    assert "must be after starts_at" in message.inner_text()
    assert page.input_value("#promotion-edit input[name=name]") == "Lamp fortnight"  # kept for the fix
    screenshot(page, "promotion-01-refused")
    page.fill("#promotion-edit input[name=ends_at]", "2030-03-01T00:00")
    page.click("#promotion-edit button[type=submit]")
    page.wait_for_url(re.compile(r"/console/promotions/\d+$"))
    assert "Lamp fortnight saved." in page.inner_text(".flash")
    page.click("#promotion-active button[type=submit]")
    page.wait_for_url(re.compile(r"/console/promotions/\d+$"))
    assert "paused" in page.inner_text("#promotion-status")
    screenshot(page, "promotion-02-paused")
    assert _unexpected(page.errors) == [], page.errors


def test_a_rep_edits_a_deal_and_reads_why_a_stage_is_refused(page: Any, served_shop: Any, live_server: Any,
                                                             login: Any, screenshot: Any) -> None:
    from merx.core import accounts as users
    from merx.core.auth import Principal, Role
    from merx.core.uow import UnitOfWork
    from merx.sales import public as sales

    with UnitOfWork(live_server.db) as uow:
        rep = Principal(user_id=users.user_id_by_email(uow, served_shop.users["sales_rep"]), role=Role.sales_rep,
                        name="rep")
    with UnitOfWork(live_server.db, actor=rep) as uow:
        account = sales.create_account(uow, sales.AccountCreate(name="Nowak Hardware"))
    with UnitOfWork(live_server.db, actor=rep) as uow:
        deal = sales.create_deal(uow, sales.DealCreate(title="Shelving", account_id=account.id,
                                                       amount={"amount": "4800.00", "currency": "EUR"}))
    login(page, served_shop.users["sales_rep"])
    page.goto("/console/sales")
    page.click(f"#deal-{deal.id} a")
    page.wait_for_url(f"**/console/sales/deals/{deal.id}")
    page.select_option("#deal-edit select[name=stage]", "signed")
    page.click("#deal-edit button[type=submit]")
    assert "reached only from negotiation" in page.inner_text("#deal-edit [data-field=stage]")
    screenshot(page, "deal-01-refused")
    page.select_option("#deal-edit select[name=stage]", "quote")
    page.fill("#deal-edit input[name=amount]", "5100")
    page.click("#deal-edit button[type=submit]")
    page.wait_for_url(f"**/console/sales/deals/{deal.id}")
    assert "saved (quote)" in page.inner_text(".flash")
    assert "Quote" in page.inner_text("#deal-stage") and "5,100" in page.inner_text("main")
    assert "Visit" in page.inner_text("#deal-history")
    screenshot(page, "deal-02-saved")
    assert _unexpected(page.errors) == [], page.errors


def test_admin_sets_split_opening_hours_and_finds_the_change_in_the_audit_log(page: Any, served_shop: Any,
                                                                              login: Any, screenshot: Any) -> None:
    login(page, served_shop.users["admin"])
    page.goto("/console/locations/ST-KRK")
    page.fill("#location-edit input[name=hours_mon]", "09:00-13:00, 14:00-18:00")
    page.fill("#location-edit input[name=hours_sun]", "noon")
    page.click("#location-edit button[type=submit]")
    assert "is not a span" in page.inner_text("#location-edit [data-field=hours_sun]")
    page.fill("#location-edit input[name=hours_sun]", "")
    page.click("#location-edit button[type=submit]")
    page.wait_for_url("**/console/locations/ST-KRK")
    assert "Kraków store saved." in page.inner_text(".flash")
    assert page.input_value("#location-edit input[name=hours_mon]") == "09:00-13:00, 14:00-18:00"
    screenshot(page, "location-01-hours")
    page.click("nav a[href='/console/audit-log']")
    page.fill("#audit-filters input[name=entity_type]", "location")
    page.fill("#audit-filters input[name=action]", "update")
    page.click("#audit-filters button[type=submit]")
    page.wait_for_url(re.compile(r"/console/audit-log\?"))
    first = page.locator("#audit-entries tbody tr").first.inner_text()
    assert "Admin" in first and "opening hours: {} → {'mon': [['09:00', '13:00'], [" in first
    screenshot(page, "audit-01-location")
    assert _unexpected(page.errors) == [], page.errors
