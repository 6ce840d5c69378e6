import pytest

from merx.core.errors import ValidationProblem
from merx.customers.rules import normalize_email, normalize_phone


@pytest.mark.parametrize("raw, region, expected", [
    ("+48 600-100-200", None, "+48600100200"),
    ("600100200", "PL", "+48600100200"),
    ("(202) 555-0143", "US", "+12025550143"),
    ("+40 721 234 567", "PL", "+40721234567"),
])
def test_phone_to_e164(raw, region, expected):
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize("raw", ["", "abc", "+48 12", "+48 999"])
def test_bad_phones(raw):
    with pytest.raises(ValidationProblem):
        normalize_phone(raw, "PL")


@pytest.mark.parametrize("raw", ["a@b", "a b@c.pl", "@c.pl", "a@@c.pl", "a@c..pl"])
def test_bad_emails(raw):
    with pytest.raises(ValidationProblem):
        normalize_email(raw)


def test_email_case_and_space_folded():
    assert normalize_email("  Jan.Kowalski@Example.PL ") == "jan.kowalski@example.pl"
