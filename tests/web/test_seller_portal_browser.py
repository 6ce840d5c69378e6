"""The seller portal in Chromium: a seller accepts a line and ships it with the page's own
forms; the statements page draws its chart; no console errors."""

from __future__ import annotations

import datetime as dt
import re


def _marketplace_order(db, seller_id):  # type: ignore[no-untyped-def]
    from merx.core.auth import SYSTEM
    from merx.core.uow import UnitOfWork
    from merx.orders import public as orders
    from merx.sellers import offers, payouts
    from merx.sellers.schemas import OfferCreate

    with UnitOfWork(db, actor=SYSTEM) as uow:
        offer = offers.create_offer(uow, OfferCreate(sku="MUG-1", seller_id=seller_id, quantity=10,
                                                     price={"amount": "8.00", "currency": "EUR"}))
    with UnitOfWork(db, actor=SYSTEM) as uow:
        order = orders.place_order(uow, orders.OrderCreate(
            channel="marketplace", customer={"email": "ana@example.com"},
            lines=[{"sku": "MUG-1", "quantity": 2, "offer_id": offer.id}], payment={"provider": "manual"}))
    return order, payouts


def test_a_seller_accepts_and_ships_in_the_browser(page, served_shop, live_server, login, screenshot):
    order, payouts = _marketplace_order(live_server.db, served_shop.seller_id)
    login(page, served_shop.users["seller"])
    page.click("nav a[href='/console/marketplace']")
    page.wait_for_url("**/console/marketplace")
    assert "Seller portal: Acme Lamps" in page.inner_text("h1")
    page.goto("/console/marketplace/orders?status=awaiting_acceptance")
    card = page.locator("section.card", has_text=order["number"])
    card.locator("input[type=radio][value=accept]").check()
    screenshot(page, "seller-01-accept")
    card.locator("button[type=submit]", has_text="Save decisions").click()
    page.wait_for_url(re.compile(r"/console/marketplace/orders"))
    assert "is now accepted" in page.inner_text(".flash")

    page.goto("/console/marketplace/orders?status=accepted")
    card = page.locator("section.card", has_text=order["number"])
    card.locator("input[name=carrier]").fill("CTT")
    card.locator("input[name=tracking_number]").fill("RR555PT")
    card.locator("button", has_text="Mark shipped").click()
    page.wait_for_url(re.compile(r"status=accepted"))
    assert "shipped with CTT RR555PT" in page.inner_text(".flash")

    from merx.core.auth import SYSTEM
    from merx.core.uow import UnitOfWork

    with UnitOfWork(live_server.db, actor=SYSTEM) as uow:
        payouts.run_payout_cycle(uow, dt.datetime.now(dt.timezone.utc))
    page.goto("/console/marketplace/statements")
    page.locator("canvas[data-chart]").wait_for()
    assert page.locator("td", has_text="14.40").count() >= 1  # 16.00 sold less the 10% default commission
    screenshot(page, "seller-02-statements")
    assert not page.errors, page.errors
