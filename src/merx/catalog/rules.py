"""Pure catalog rules (no database): attribute value checks, EAN checksums, locale
resolution with fallback, completeness, and the choices the Online Retail II import makes.
Unit-tested in tests/catalog/test_rules.py."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

ATTRIBUTE_TYPES = ("text", "number", "enum", "bool")
PRODUCT_STATUSES = ("draft", "active", "archived")
CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


class RuleError(ValueError):
    """A value breaks a catalog rule; the message is meant for the API caller."""


def check_code(code: str) -> str:
    if not isinstance(code, str) or not CODE_RE.match(code):
        raise RuleError("must be 1-100 letters, digits, '_', '-' or '.', starting with a letter or digit")
    return code


def normalize_attribute_value(attr_type: str, value: Any, *, options: Iterable[str] | None = None) -> Any:
    """Checks a value against its attribute's type and returns its stored form.

    Numbers are stored as canonical decimal strings ("1.5"), never binary floats, so that
    "0.1" stays exactly 0.1 in exports and comparisons."""
    if attr_type == "text":
        if not isinstance(value, str):
            raise RuleError("must be a string")
        return value
    if attr_type == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.strip().lower() in ("true", "1", "yes")
        raise RuleError("must be true or false")
    if attr_type == "number":
        if isinstance(value, bool):
            raise RuleError("must be a number")
        if isinstance(value, (int, float, Decimal)):
            text = repr(value) if isinstance(value, float) else str(value)
        elif isinstance(value, str):
            text = value.strip()
        else:
            raise RuleError("must be a number")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise RuleError(f"{value!r} is not a number") from None
        if not number.is_finite():
            raise RuleError("must be a finite number")
        return canonical_decimal(number)
    if attr_type == "enum":
        allowed = list(options or [])
        if not isinstance(value, str) or value not in allowed:
            raise RuleError(f"must be one of {', '.join(allowed)}")
        return value
    raise RuleError(f"unknown attribute type {attr_type!r}")  # pragma: no cover - types are checked on creation


def canonical_decimal(number: Decimal) -> str:
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text


def ean_is_valid(code: str) -> bool:
    """GTIN-8/12/13/14 with a correct check digit."""
    if not code.isdigit() or len(code) not in (8, 12, 13, 14):
        return False
    digits = [int(c) for c in code]
    body, check = digits[:-1], digits[-1]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


# --------------------------------------------------------------------------------------------
# Locales
# --------------------------------------------------------------------------------------------


def pick_locale(query_locale: str | None, accept_language: str | None, supported: Iterable[str],
                default: str) -> tuple[str, bool]:
    """The locale to read in: `?locale=` wins (unknown -> returned with ok=False), then the
    first supported language of Accept-Language by quality, then the default."""
    supported_set = set(supported)
    if query_locale:
        return query_locale, query_locale in supported_set
    if accept_language:
        ranked: list[tuple[float, int, str]] = []
        for index, part in enumerate(accept_language.split(",")):
            lang, _, params = part.strip().partition(";")
            quality = 1.0
            match = re.search(r"q=([0-9.]+)", params)
            if match:
                try:
                    quality = float(match.group(1))
                except ValueError:
                    quality = 0.0
            base = lang.strip().lower().split("-")[0]
            if base and quality > 0:
                ranked.append((-quality, index, base))
        for _, _, base in sorted(ranked):
            if base in supported_set:
                return base, True
    return default, True


def localized(translations: Mapping[str, Any] | None, locale: str, default_locale: str, key: str,
              default_value: Any) -> Any:
    """A translated field, falling back to the default locale's value when missing or empty."""
    if locale != default_locale and translations:
        value = (translations.get(locale) or {}).get(key)
        if value not in (None, ""):
            return value
    return default_value


def localized_attributes(attributes: Mapping[str, Any], translations: Mapping[str, Any] | None, locale: str,
                         default_locale: str) -> dict[str, Any]:
    out = dict(attributes or {})
    if locale != default_locale and translations:
        for code, value in ((translations.get(locale) or {}).get("attributes") or {}).items():
            if value not in (None, ""):
                out[code] = value
    return out


# --------------------------------------------------------------------------------------------
# Completeness
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RequiredAttribute:
    code: str
    localizable: bool


@dataclass
class Completeness:
    channel: str
    locale: str
    required: int
    missing: list[str] = field(default_factory=list)

    @property
    def percent(self) -> int:
        if self.required == 0:
            return 100
        # floor, so a product is never shown 100% complete while something is missing
        return (self.required - len(self.missing)) * 100 // self.required


def _filled(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def completeness(*, channel: str, locale: str, default_locale: str, name: str | None, description: str | None,
                 attributes: Mapping[str, Any], translations: Mapping[str, Any] | None,
                 required_attributes: Iterable[RequiredAttribute], media: list[str] | None = None,
                 requires_media: bool = False, prices: Iterable[str] = (), currency: str | None = None) -> Completeness:
    """What a product lacks to be complete for one channel in one locale.

    In a non-default locale, name, description and localizable attributes count only when
    translated: a fallback to the default locale is what the reader sees, but it is not the
    translation the channel asked for."""
    tr = (translations or {}).get(locale) or {} if locale != default_locale else {}
    checks: list[tuple[str, bool]] = []
    if locale == default_locale:
        checks.append(("name", _filled(name)))
        checks.append(("description", _filled(description)))
    else:
        checks.append(("name", _filled(tr.get("name"))))
        checks.append(("description", _filled(tr.get("description"))))
    for attr in required_attributes:
        if attr.localizable and locale != default_locale:
            ok = _filled((tr.get("attributes") or {}).get(attr.code))
        else:
            ok = _filled((attributes or {}).get(attr.code))
        checks.append((f"attributes.{attr.code}", ok))
    if requires_media:
        checks.append(("media", bool(media)))
    if currency:
        checks.append((f"prices.{currency}", currency in set(prices)))
    return Completeness(channel=channel, locale=locale, required=len(checks),
                        missing=[name_ for name_, ok in checks if not ok])


# --------------------------------------------------------------------------------------------
# Online Retail II choices
# --------------------------------------------------------------------------------------------


def most_frequent(values: Iterable[tuple[Any, int]]) -> Any:
    """The value seen most often; ties go to the smallest value so the choice is
    deterministic across runs (the import must be idempotent)."""
    counts: Counter[Any] = Counter()
    for value, n in values:
        counts[value] += n
    if not counts:
        return None
    best = max(counts.values())
    return min(v for v, n in counts.items() if n == best)


def clean_description(text: str | None) -> str | None:
    if text is None:
        return None
    cleaned = " ".join(text.split())
    return cleaned or None


# --------------------------------------------------------------------------------------------
# Import/export columns
# --------------------------------------------------------------------------------------------

BASE_COLUMNS = ("sku", "name", "description", "category", "brand", "status", "price", "currency", "ean", "media",
                "channels")


@dataclass(frozen=True)
class Column:
    kind: str  # base | attr | name | description | attr_locale | price
    key: str  # base column name, attribute code, or currency
    locale: str | None = None


def parse_column(header: str) -> Column | None:
    """'sku' | 'attr:colour' | 'attr:material:pl' | 'name:pl' | 'description:de' | 'price:PLN'."""
    h = header.strip()
    if h in BASE_COLUMNS:
        return Column("base", h)
    prefix, _, rest = h.partition(":")
    if not rest:
        return None
    if prefix == "attr":
        code, _, locale = rest.partition(":")
        return Column("attr_locale", code, locale) if locale else Column("attr", code)
    if prefix in ("name", "description"):
        return Column(prefix, prefix, rest)
    if prefix == "price":
        return Column("price", rest)
    return None
