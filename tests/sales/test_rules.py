"""Pure sales rules: name keys, the dedupe index, stage moves, the forecast, lead scores."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from merx.sales import rules
from merx.sales.dedupe import Keys, LeadIndex


def test_company_keys_ignore_legal_forms_case_accents_and_punctuation():
    assert rules.company_key("Green Leaf Gardens GmbH") == rules.company_key("GREEN LEAF GARDENS") == "green leaf gardens"
    assert rules.company_key("Müller & Söhne KG") == "muller sohne"
    assert rules.company_key("Ltd.") is None
    assert rules.company_key("Rumianek  Ogród Sp. z o.o.") == "rumianek ogrod"
    assert rules.tax_id_key(" de 123.456-789 ") == "DE123456789"


def test_the_index_matches_exact_keys_first_then_a_close_company_name_only():
    index: LeadIndex[int] = LeadIndex()
    index.add(Keys("a@x.example", "+4930123", None, "green leaf gardens"), 1)
    index.add(Keys(None, None, "DE1", "blue river nursery"), 2)
    assert index.match(Keys("a@x.example", None, None, "something else")) == (1, "email")
    assert index.match(Keys(None, "+4930123", None, None)) == (1, "phone")
    assert index.match(Keys(None, None, "DE1", None)) == (2, "tax_id")
    ref, why = index.match(Keys(None, None, None, "greenleaf gardens"))
    assert ref == 1 and why.startswith("company~")
    assert index.match(Keys(None, None, None, "green acres farm")) is None
    assert index.match(Keys(None, None, None, "blue river")) is None  # too far from "blue river nursery"
    index.add(Keys(None, None, None, "garden shop 12"), 3)
    assert index.match(Keys(None, None, None, "garden shop 13")) is None  # another branch, not a duplicate
    assert index.match(Keys(None, None, None, "gardenshop 12"))[0] == 3


def test_stage_moves():
    s = rules.DEFAULT_STAGES
    assert rules.move_problem(s, "visit", "quote", None) is None  # open stages move freely
    assert "reached only from negotiation" in rules.move_problem(s, "quote", "signed", None)
    assert rules.move_problem(s, "negotiation", "signed", None) is None
    assert "lost_reason" in rules.move_problem(s, "visit", "lost", " ")
    assert "closed" in rules.move_problem(s, "signed", "visit", None)
    assert "not a stage" in rules.move_problem(s, "visit", "moon", None)


def test_forecast_by_month_weights_each_deal_by_its_stage_probability():
    out = rules.forecast_by_month([(dt.date(2027, 1, 5), Decimal("1000"), Decimal("0.4")),
                                   (dt.date(2027, 1, 20), Decimal("500"), Decimal("0.1")),
                                   (None, Decimal("300"), Decimal("0.6"))])
    assert out == {"2027-01": {"pipeline": Decimal("1500"), "weighted": Decimal("450.00")},
                   "undated": {"pipeline": Decimal("300"), "weighted": Decimal("180.00")}}


def test_lead_score_is_the_sum_of_its_reasons():
    score, reasons = rules.score_lead(source="trade_fair", email="a@b.c", phone=None, tax_id="DE1", company="X",
                                      interest="pots", merged=2)
    assert score == sum(r["points"] for r in reasons) == 20 + 10 + 15 + 5 + 10 + 10


def test_discounts_and_prices():
    assert rules.line_price(Decimal("100.00"), Decimal("15"), 2) == Decimal("85.00")
    assert rules.line_price(Decimal("9.99"), Decimal("33.33"), 2) == Decimal("6.66")
    assert rules.needs_approval(Decimal("10.01"), Decimal("10")) and not rules.needs_approval(Decimal("10"), Decimal("10"))
    assert not rules.needs_approval(Decimal("90"), None)
