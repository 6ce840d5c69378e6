"""The pure marketplace rules: buy box, commission precedence, rating, payout figures."""

from __future__ import annotations

from decimal import Decimal

from merx.sellers import rules
from merx.sellers.rules import Candidate, RatingFacts


def test_buy_box_weighs_landed_price_rating_and_speed_and_shows_its_parts():
    cheap_slow = Candidate(1, 10, price_minor=1000, shipping_minor=500, lead_time_days=9, seller_rating=Decimal("4.0"))
    dear_fast = Candidate(2, 20, price_minor=1400, shipping_minor=0, lead_time_days=0, seller_rating=Decimal("5.0"))
    ranked = rules.buy_box([cheap_slow, dear_fast])
    # the cheapest landed price is dear_fast's 14.00 (cheap_slow lands at 15.00): its price part is 1400/1500
    by_id = {r.candidate.offer_id: r for r in ranked}
    assert by_id[2].parts == {"price": Decimal("1.0000"), "rating": Decimal("1.0000"), "speed": Decimal("1.0000")}
    assert by_id[1].parts["price"] == Decimal("0.9333") and by_id[1].parts["speed"] == Decimal("0.1000")
    assert by_id[1].score == (Decimal("0.60") * Decimal("0.9333") + Decimal("0.25") * Decimal("0.8000")
                              + Decimal("0.15") * Decimal("0.1000")).quantize(Decimal("0.0001"))
    assert [r.candidate.offer_id for r in ranked] == [2, 1]


def test_buy_box_ties_go_to_the_lower_landed_price_then_the_older_offer():
    a = Candidate(5, 1, 1000, 0, 2, None)
    b = Candidate(3, 2, 1000, 0, 2, None)
    assert [r.candidate.offer_id for r in rules.buy_box([a, b])] == [3, 5]
    assert rules.buy_box([]) == []


def test_commission_rate_takes_the_most_specific_rule():
    table = [(None, None, Decimal("0.12")), ("books", None, Decimal("0.15")), (None, 7, Decimal("0.08")),
             ("books", 7, Decimal("0.05"))]
    assert rules.commission_rate(table, category="books", seller_id=7) == Decimal("0.05")
    assert rules.commission_rate(table, category="toys", seller_id=7) == Decimal("0.08")
    assert rules.commission_rate(table, category="books", seller_id=8) == Decimal("0.15")
    assert rules.commission_rate(table, category="toys", seller_id=8) == Decimal("0.12")
    assert rules.commission_rate([], category="toys", seller_id=8) == rules.DEFAULT_COMMISSION
    assert rules.commission_minor(4550, Decimal("0.20")) == 910
    assert rules.commission_minor(5, Decimal("0.10")) == 1  # half up


def test_seller_rating_parts_and_penalties():
    rating, parts = rules.seller_rating(RatingFacts(decided_lines=10, refused_lines=2, accepted_lines=8,
                                                    cancelled_lines=0, shipments=4, late_shipments=1, incidents=1,
                                                    penalties=[Decimal("0.5")]))
    # 5 x (0.40 x 0.75 + 0.25 x 0.8 + 0.15 x 1 + 0.20 x 0.75) = 4.00, less 0.5
    assert rating == Decimal("3.50") and parts["base"] == "4.00" and parts["violations"] == "1"
    assert rules.seller_rating(RatingFacts(0, 0, 0, 0, 0, 0, 0))[0] is None
    floor, _ = rules.seller_rating(RatingFacts(1, 1, 0, 0, 0, 0, 0, penalties=[Decimal(5)]))
    assert floor == Decimal("0.00")


def test_payout_figures_net_the_kinds():
    f = rules.payout_figures([("sale", 5500), ("commission", -800), ("refund", -500), ("adjustment", 100)])
    assert f == {"sales_minor": 5500, "commission_minor": -800, "refunds_minor": -500, "adjustments_minor": 100,
                 "amount_minor": 4300}


def test_the_rating_blends_operations_and_reviews_as_documented():
    ops = dict(decided_lines=4, refused_lines=0, accepted_lines=4, cancelled_lines=0, shipments=4, late_shipments=2,
               incidents=0)
    operational, _ = rules.seller_rating(RatingFacts(**ops))
    assert operational == Decimal("4.00")  # 5 x (0.40 x 0.5 + 0.25 + 0.15 + 0.20)
    blended, parts = rules.seller_rating(RatingFacts(**ops, review_average=Decimal("3.00"), review_count=2,
                                                     penalties=[Decimal("0.5")]))
    assert blended == Decimal("0.70") * 4 + Decimal("0.30") * 3 - Decimal("0.5")  # 3.20
    assert (parts["operational"], parts["reviews"], parts["review_count"]) == ("4.00", "3.00", "2")
    # reviews alone rate a seller with no decided line; a review count of 0 is no reviews
    assert rules.seller_rating(RatingFacts(0, 0, 0, 0, 0, 0, 0, review_average=Decimal("4.50"), review_count=3))[0] \
        == Decimal("4.50")
    assert rules.seller_rating(RatingFacts(0, 0, 0, 0, 0, 0, 0, review_average=Decimal("4.50"), review_count=0))[0] \
        is None
