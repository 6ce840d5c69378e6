"""Pure catalog rules, without a database."""

from __future__ import annotations

import pytest

from merx.catalog import rules


def test_ean_check_digit():
    assert rules.ean_is_valid("4006381333931")
    assert rules.ean_is_valid("73513537")  # EAN-8
    assert not rules.ean_is_valid("4006381333932")
    assert not rules.ean_is_valid("40063813339")  # 11 digits
    assert not rules.ean_is_valid("400638133393X")


@pytest.mark.parametrize("attr_type,value,expected", [
    ("text", "linen", "linen"),
    ("number", "1.50", "1.5"),
    ("number", 2, "2"),
    ("number", 0.1, "0.1"),  # from a JSON float, without binary noise
    ("bool", True, True),
    ("bool", "false", False),
    ("enum", "red", "red"),
])
def test_attribute_values_are_normalized(attr_type, value, expected):
    assert rules.normalize_attribute_value(attr_type, value, options=["red", "blue"]) == expected


@pytest.mark.parametrize("attr_type,value", [
    ("text", 5), ("number", "heavy"), ("number", True), ("number", "NaN"), ("bool", "maybe"), ("enum", "green"),
])
def test_wrong_attribute_values_are_refused(attr_type, value):
    with pytest.raises(rules.RuleError):
        rules.normalize_attribute_value(attr_type, value, options=["red", "blue"])


def test_pick_locale_prefers_query_then_accept_language_then_default():
    supported = ["en", "pl", "de"]
    assert rules.pick_locale("pl", "de", supported, "en") == ("pl", True)
    assert rules.pick_locale("xx", None, supported, "en") == ("xx", False)
    assert rules.pick_locale(None, "fr-FR, de;q=0.8, pl;q=0.9", supported, "en") == ("pl", True)
    assert rules.pick_locale(None, "fr, ja", supported, "en") == ("en", True)
    assert rules.pick_locale(None, None, supported, "en") == ("en", True)


def test_localized_falls_back_to_default():
    tr = {"pl": {"name": "Kubek", "description": ""}}
    assert rules.localized(tr, "pl", "en", "name", "Mug") == "Kubek"
    assert rules.localized(tr, "pl", "en", "description", "A mug") == "A mug"
    assert rules.localized(tr, "de", "en", "name", "Mug") == "Mug"
    assert rules.localized_attributes({"material": "oak", "color": "red"},
                                      {"pl": {"attributes": {"material": "dąb"}}}, "pl", "en") == \
        {"material": "dąb", "color": "red"}


def test_completeness_counts_translations_not_fallbacks():
    required = [rules.RequiredAttribute("color", False), rules.RequiredAttribute("material", True)]
    base = dict(channel="web", default_locale="en", name="Mug", description="A mug",
                attributes={"color": "red", "material": "clay"}, required_attributes=required)
    en = rules.completeness(locale="en", translations={}, **base)
    assert en.missing == [] and en.percent == 100
    pl = rules.completeness(locale="pl", translations={"pl": {"name": "Kubek"}}, **base)
    # name is translated; description and the localizable material are not; colour is shared
    assert pl.missing == ["description", "attributes.material"]
    assert pl.required == 4 and pl.percent == 50
    media = rules.completeness(locale="en", translations={}, requires_media=True, media=[], currency="PLN",
                               prices=["EUR"], **base)
    assert media.missing == ["media", "prices.PLN"] and media.percent == 66


def test_most_frequent_is_deterministic_on_ties():
    assert rules.most_frequent([("B", 2), ("A", 2), ("C", 1)]) == "A"
    assert rules.most_frequent([("X", 1), ("Y", 3), ("X", 3)]) == "X"
    assert rules.most_frequent([]) is None


def test_column_headers():
    assert rules.parse_column("sku") == rules.Column("base", "sku")
    assert rules.parse_column("attr:color") == rules.Column("attr", "color")
    assert rules.parse_column("attr:material:pl") == rules.Column("attr_locale", "material", "pl")
    assert rules.parse_column("name:pl") == rules.Column("name", "name", "pl")
    assert rules.parse_column("price:PLN") == rules.Column("price", "PLN")
    assert rules.parse_column("colour") is None
