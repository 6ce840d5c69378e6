"""One seller rating: a published review of what the seller sold and an incident on its
shipment both move the same figure (sellers/rating.py + rules.seller_rating), in either
order, to the same result; its parts show both. Support no longer writes the rating itself.

The figures, computed here from the documented rule (sellers/rules.py):
  operational before the incident: 5 x (0.40 + 0.25 + 0.15 + 0.20) = 5.00
  operational after it (1 incident on 1 shipment): 5 x (0.40 + 0.25 + 0.15 + 0) = 4.00
  with a 2-star review: 0.70 x operational + 0.30 x 2"""

from __future__ import annotations

from decimal import Decimal

import pytest

from marketplace_helpers import Market

BLEND_OPS, BLEND_REVIEWS = Decimal("0.70"), Decimal("0.30")


def _rating(m: Market, seller_id: int) -> tuple[Decimal, dict]:
    r = m.ok(m.client.get(f"/api/v1/sellers/{seller_id}/rating", headers=m.admin))
    return Decimal(r["rating"]), r["parts"]


def _shipped_and_received(m: Market, a: dict) -> tuple[dict, dict, int]:
    """A customer buys the lamp from seller alfa; alfa accepts and ships; the order is delivered."""
    product_id = m.product("LAMP-1", "40.00", "lighting", name="Brass desk lamp")
    offer = m.offer(a, "LAMP-1", "39.00", quantity=5)
    order = m.ok(m.checkout([("LAMP-1", 1, offer["id"])], customer={"email": "rita@example.com"}), 201)
    sub, = m.seller_orders(a)
    m.ok(m.client.put(f"/api/v1/seller-orders/{sub['id']}/accept", headers=a,
                      json={"lines": [{"line_id": sub["lines"][0]["id"], "accepted": True}]}))
    m.ok(m.client.put(f"/api/v1/seller-orders/{sub['id']}/ship", headers=a,
                      json={"carrier": "CTT", "tracking_number": "RR1PT"}))
    m.ok(m.client.post(f"/api/v1/orders/{order['id']}/fulfil", json={"carrier": "CTT", "tracking_number": "RR1PT"},
                       headers=m.admin))
    m.ok(m.client.post(f"/api/v1/orders/{order['id']}/deliver", headers=m.admin))
    return order, sub, product_id


def _review(m: Market, make_key, order: dict, product_id: int, stars: int) -> None:
    customer = make_key("customer", customer_id=order["customer_id"])
    review = m.ok(m.client.post("/api/v1/reviews", json={"product_id": product_id, "rating": stars,
                                                         "body": "The shade wobbles."}, headers=customer), 201)
    assert review["verified"] is True and review["order_id"] == order["id"]
    m.ok(m.client.post(f"/api/v1/reviews/{review['id']}/moderation", json={"decision": "publish"},
                       headers=make_key("support_agent")))


def _incident(m: Market, sub: dict) -> None:
    m.ok(m.client.post(f"/api/v1/seller-orders/{sub['id']}/incidents", headers=m.admin,
                       json={"line_id": sub["lines"][0]["id"], "kind": "damaged", "note": "cracked base"}), 201)


@pytest.mark.parametrize("first", ["review", "incident"])
def test_a_review_and_an_incident_move_the_one_rating_in_either_order(client, admin, make_key, first):
    m = Market(client, admin, make_key)
    seller_id, a = m.seller("alfa")
    order, sub, product_id = _shipped_and_received(m, a)
    m.ok(client.post(f"/api/v1/sellers/{seller_id}/rating/recompute", headers=admin))
    rating, parts = _rating(m, seller_id)
    assert rating == Decimal("5.00") and parts["reviews"] == "none"

    steps = {"review": lambda: _review(m, make_key, order, product_id, 2), "incident": lambda: _incident(m, sub)}
    after_first = {"review": BLEND_OPS * 5 + BLEND_REVIEWS * 2, "incident": Decimal("4.00")}
    second = "incident" if first == "review" else "review"

    steps[first]()
    rating, _ = _rating(m, seller_id)
    assert rating == after_first[first]
    steps[second]()
    rating, parts = _rating(m, seller_id)
    assert rating == BLEND_OPS * 4 + BLEND_REVIEWS * 2  # 3.40, whichever came first
    assert (parts["reviews"], parts["review_count"], parts["operational"], parts["no_incidents"]) == (
        "2.00", "1", "4.00", "0.0000")
    # the seller's record (what search reads) holds the same one figure
    assert Decimal(m.ok(client.get(f"/api/v1/sellers/{seller_id}", headers=admin))["rating"]) == rating


def test_a_withdrawn_review_leaves_the_rating(client, admin, make_key):
    m = Market(client, admin, make_key)
    seller_id, a = m.seller("alfa")
    order, _, product_id = _shipped_and_received(m, a)
    _review(m, make_key, order, product_id, 1)
    assert _rating(m, seller_id)[0] == BLEND_OPS * 5 + BLEND_REVIEWS * 1
    review_id = m.ok(client.get("/api/v1/reviews", params={"product_id": product_id}))["items"][0]["id"]
    m.ok(client.post(f"/api/v1/reviews/{review_id}/moderation", json={"decision": "reject"},
                     headers=make_key("support_agent")))
    rating, parts = _rating(m, seller_id)
    assert rating == Decimal("5.00") and parts["reviews"] == "none"
