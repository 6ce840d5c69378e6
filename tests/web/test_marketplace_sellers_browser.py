"""The operator suspends a seller from the console in Chromium (#20 Build 2): finds it with the
Sellers tab's search box, suspends it with a reason (the seller's offer stops selling at
checkout), reads the reason in the seller's history, and reinstates it."""

from __future__ import annotations

import re
from typing import Any

import pytest


def _offer_order(db: Any, offer_id: int) -> Any:
    from merx.core.auth import SYSTEM
    from merx.core.uow import UnitOfWork
    from merx.orders import public as orders

    with UnitOfWork(db, actor=SYSTEM) as uow:
        return orders.place_order(uow, orders.OrderCreate(
            channel="marketplace", customer={"email": "ana@example.com"},
            lines=[{"sku": "MUG-1", "quantity": 1, "offer_id": offer_id}], payment={"provider": "manual"}))


def test_operator_finds_suspends_and_reinstates_a_seller_in_the_browser(page: Any, served_shop: Any, live_server: Any,
                                                                         login: Any, screenshot: Any) -> None:
    from merx.core.auth import SYSTEM
    from merx.core.errors import Problem
    from merx.core.uow import UnitOfWork
    from merx.sellers import offers
    from merx.sellers.schemas import OfferCreate

    with UnitOfWork(live_server.db, actor=SYSTEM) as uow:
        offer = offers.create_offer(uow, OfferCreate(sku="MUG-1", seller_id=served_shop.seller_id, quantity=10,
                                                     price={"amount": "8.00", "currency": "EUR"}))
    login(page, served_shop.users["staff"])
    page.click("nav a[href='/console/marketplace']")
    page.click("nav.tabs a[href='/console/marketplace/sellers']")
    page.wait_for_url("**/console/marketplace/sellers")
    page.fill("form.list-search input[name=q]", "acme")
    page.click("form.list-search button[type=submit]")
    page.wait_for_url(re.compile(r"/console/marketplace/sellers\?q=acme"))
    screenshot(page, "sellers-01-search")
    page.click("#sellers a:has-text('Acme Lamps')")
    page.wait_for_url(re.compile(r"/console/marketplace/sellers/\d+$"))

    page.fill("#decision-suspend input[name=reason]", "Shipped used mugs as new")
    page.click("#decision-suspend button[type=submit]")
    page.wait_for_url(re.compile(r"/console/marketplace/sellers/\d+$"))
    assert "Acme Lamps suspended" in page.inner_text(".flash")
    assert "suspended" in page.inner_text("#seller-status")
    assert "Shipped used mugs as new" in page.inner_text("#seller-history")
    screenshot(page, "sellers-02-suspended")
    with pytest.raises(Problem, match="not active"):
        _offer_order(live_server.db, offer.id)

    page.fill("#decision-reinstate input[name=reason]", "Stock audited")
    page.click("#decision-reinstate button[type=submit]")
    page.wait_for_url(re.compile(r"/console/marketplace/sellers/\d+$"))
    assert "Acme Lamps reinstated" in page.inner_text(".flash")
    assert page.locator("#decision-suspend").count() == 1  # active again: suspend is offered
    screenshot(page, "sellers-03-reinstated")
    assert _offer_order(live_server.db, offer.id)["status"]
    assert page.errors == [], page.errors
