"""Normalising contact details: one spelling per email and phone, so uniqueness means something."""

from __future__ import annotations

import re

import phonenumbers

from merx.core.errors import ValidationProblem

# Pragmatic, not RFC 5322: one @, a dot in the domain, no spaces. Deliverability is checked
# by sending, not by regex.
_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")


def normalize_email(raw: str, field: str = "email") -> str:
    email = raw.strip().lower()
    if not _EMAIL_RE.match(email) or ".." in email or len(email) > 320:
        raise ValidationProblem.for_field(field, f"{raw!r} is not an email address")
    return email


def normalize_phone(raw: str, default_region: str | None, field: str = "phone") -> str:
    """Any common spelling ("+48 600-100-200", "600 100 200" with region PL) -> E.164 "+48600100200"."""
    try:
        parsed = phonenumbers.parse(raw, None if raw.strip().startswith("+") else (default_region or None))
    except phonenumbers.NumberParseException:
        raise ValidationProblem.for_field(field, f"{raw!r} is not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationProblem.for_field(field, f"{raw!r} is not a valid phone number"
                                          + ("" if raw.strip().startswith("+") else f" for region {default_region}"))
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# Passwords (NIST SP 800-63B): long enough, not the email, no composition rules. Upper bound
# keeps the hashing cost of one request bounded.
PASSWORD_MIN = 8
PASSWORD_MAX = 256


def check_password(password: str, email: str | None = None, field: str = "password") -> str:
    if len(password) < PASSWORD_MIN:
        raise ValidationProblem.for_field(field, f"must be at least {PASSWORD_MIN} characters", "too_short")
    if len(password) > PASSWORD_MAX:
        raise ValidationProblem.for_field(field, f"must be at most {PASSWORD_MAX} characters", "too_long")
    if email and password.strip().lower() == email.strip().lower():
        raise ValidationProblem.for_field(field, "must not be your email address", "weak")
    if len(set(password)) < 3:
        raise ValidationProblem.for_field(field, "is too easy to guess", "weak")
    return password
