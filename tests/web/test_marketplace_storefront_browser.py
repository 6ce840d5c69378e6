"""The marketplace on the storefront, in Chromium: the product page shows the buy-box winner
and lists the other sellers' offers (price incl. shipping, seller and rating, condition,
delivery time); a shopper adds a non-default offer to the cart and checks out; the order gets
a sub-order for that seller with the line at the seller's price."""

from __future__ import annotations

import re
from decimal import Decimal


def _two_sellers_offer_the_kettle(db, acme_id):  # type: ignore[no-untyped-def]
    from merx.core.auth import SYSTEM
    from merx.core.db import utcnow
    from merx.core.uow import UnitOfWork
    from merx.marketplace import public as marketplace
    from merx.marketplace import service as marketplace_service
    from merx.sellers import offers
    from merx.sellers.schemas import OfferCreate

    with UnitOfWork(db, actor=SYSTEM) as uow:
        bravo_id = marketplace_service.create_seller(uow, code="bravo", name="Bravo Goods").id
    with UnitOfWork(db, actor=SYSTEM) as uow:
        marketplace.record_rating(uow, acme_id, rating=Decimal("4.60"), parts={}, violations=0, computed_at=utcnow())
        marketplace.record_rating(uow, bravo_id, rating=Decimal("3.90"), parts={}, violations=0, computed_at=utcnow())
        uow.commit()
    with UnitOfWork(db, actor=SYSTEM) as uow:
        best = offers.create_offer(uow, OfferCreate(sku="KETTLE-1", seller_id=acme_id, quantity=5, lead_time_days=1,
                                                    price={"amount": "30.00", "currency": "EUR"},
                                                    shipping={"amount": "2.00", "currency": "EUR"}))
    with UnitOfWork(db, actor=SYSTEM) as uow:
        other = offers.create_offer(uow, OfferCreate(sku="KETTLE-1", seller_id=bravo_id, quantity=3, lead_time_days=5,
                                                     condition="used", price={"amount": "31.00", "currency": "EUR"},
                                                     shipping={"amount": "4.90", "currency": "EUR"}))
    return bravo_id, best, other


def test_a_shopper_buys_another_sellers_offer(page, served_shop, live_server, screenshot):
    from merx.core.auth import SYSTEM
    from merx.core.uow import UnitOfWork
    from merx.orders import public as orders
    from merx.sellers import public as sellers

    bravo_id, best, other = _two_sellers_offer_the_kettle(live_server.db, served_shop.seller_id)
    page.goto(f"/product/{served_shop.product_ids['KETTLE-1']}")
    winner = page.locator("#buy-box")
    assert winner.get_attribute("data-offer") == str(best.id)
    text = winner.inner_text()
    assert "Acme Lamps" in text and "32.00 EUR incl. shipping" in text and "rated 4.6/5" in text
    assert "ships in 1 day" in text
    row = page.locator("#other-offers tr[data-offer]")
    assert row.count() == 1
    row_text = row.inner_text()
    for expected in ("Bravo Goods", "rated 3.9/5", "35.90 EUR", "31.00 EUR + 4.90 EUR shipping", "Used",
                     "ships in 5 days"):
        assert expected in row_text, (expected, row_text)
    screenshot(page, "marketplace-01-product-offers")

    row.locator("button", has_text="Add to cart").click()
    page.wait_for_url("**/cart")
    cart = page.locator("table").inner_text()
    assert "Steel Kettle" in cart and "Sold by Bravo Goods" in cart and "31.00" in cart
    screenshot(page, "marketplace-02-cart")

    page.click("#to-checkout")
    page.wait_for_url("**/checkout")
    page.fill("input[name=email]", "mia.shopper@example.com")
    page.fill("input[name=first_name]", "Mia")
    page.fill("input[name=last_name]", "Shopper")
    page.check("input[name=fulfilment][value=ship]")
    page.fill("input[name=line1]", "Ul. Długa 5")
    page.fill("input[name=city]", "Gdańsk")
    page.fill("input[name=postal_code]", "80-001")
    page.fill("input[name=country]", "PL")
    page.check("input[name=payment][value=manual]")
    page.click("#place-order")
    page.wait_for_url(re.compile(r"/order/"))
    screenshot(page, "marketplace-03-order")

    with UnitOfWork(live_server.db, SYSTEM, readonly=True) as uow:
        placed, _ = orders.list_orders(uow)
        order, = placed
        subs = sellers.list_seller_orders(uow, order_id=order["id"]).items
    assert [(ln["sku"], ln["quantity"], ln["unit_price"]) for ln in order["lines"]] == [("KETTLE-1", 1, "31.00")]
    bravo, = [s for s in subs if s.seller_id is not None]
    assert bravo.seller_id == bravo_id and bravo.status == "awaiting_acceptance"
    assert [(ln.offer_id, ln.sku, ln.quantity, ln.unit_price.amount) for ln in bravo.lines] == [
        (other.id, "KETTLE-1", 1, "31.00")]
    # the seller's stock was taken, the winner's untouched
    with UnitOfWork(live_server.db, SYSTEM, readonly=True) as uow:
        left = sellers.shop_offers(uow, [best.id, other.id])
    assert (left[best.id].quantity, left[other.id].quantity) == (5, 2)
    assert not page.errors, page.errors
