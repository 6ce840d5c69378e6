"""Tax and shipping arithmetic (pure; unit-tested). Amounts are integer minor units."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

TAX_CLASSES = ("standard", "reduced", "zero")
EU = frozenset("AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split())
# VAT id shapes per EU country (prefix + digits/letters); the check VIES would do online is
# beyond this: the format is what we can verify offline.
_VAT_SHAPES = {"PL": r"\d{10}", "DE": r"\d{9}", "RO": r"\d{2,10}", "FR": r"[0-9A-Z]{2}\d{9}", "NL": r"\d{9}B\d{2}",
               "IT": r"\d{11}", "ES": r"[0-9A-Z]\d{7}[0-9A-Z]", "AT": r"U\d{8}", "BE": r"[01]\d{9}",
               "CZ": r"\d{8,10}", "SK": r"\d{10}", "HU": r"\d{8}", "SE": r"\d{12}", "DK": r"\d{8}"}


def valid_vat_id(vat_id: str, country: str) -> bool:
    v = re.sub(r"[\s.-]", "", vat_id.upper())
    prefix = "EL" if country == "GR" else country
    if not v.startswith(prefix):
        return False
    return re.fullmatch(_VAT_SHAPES.get(country, r"[0-9A-Z]{8,12}"), v[len(prefix):]) is not None


def reverse_charge_applies(*, channel: str, vat_id: str | None, buyer_country: str, shop_country: str) -> bool:
    """Intra-EU B2B supply to a buyer with a valid VAT id in another member state."""
    return (channel == "b2b" and bool(vat_id) and buyer_country in EU and shop_country in EU
            and buyer_country != shop_country and valid_vat_id(vat_id or "", buyer_country))


@dataclass(frozen=True)
class TaxLine:
    tax_class: str
    rate: Decimal
    net: int
    tax: int


def _round(d: Decimal) -> int:
    return int(d.to_integral_value(ROUND_HALF_UP))


def compute_tax(amounts: list[tuple[str, int]], rates: dict[str, Decimal], *, inclusive: bool,
                reverse_charge: bool = False) -> list[TaxLine]:
    """One line per (class, rate), tax rounded once per line (not per item).

    `amounts`: (tax class, amount) with the amount as charged (gross when `inclusive`).
    Inclusive: tax = amount * r / (100 + r); exclusive: tax = amount * r / 100."""
    grouped: dict[tuple[str, Decimal], int] = {}
    for tax_class, amount in amounts:
        rate = Decimal(0) if reverse_charge else rates[tax_class]
        grouped[(tax_class, rate)] = grouped.get((tax_class, rate), 0) + amount
    out = []
    for (tax_class, rate), amount in sorted(grouped.items()):
        if inclusive:
            tax = _round(Decimal(amount) * rate / (100 + rate))
            out.append(TaxLine(tax_class, rate, amount - tax, tax))
        else:
            out.append(TaxLine(tax_class, rate, amount, _round(Decimal(amount) * rate / 100)))
    return out


def allocate(total: int, weights: list[int]) -> list[int]:
    """Split `total` in proportion to `weights`, summing exactly (largest remainder)."""
    s = sum(weights)
    if s == 0:
        return [0] * len(weights)
    raw = [Decimal(total) * w / s for w in weights]
    parts = [int(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - parts[i], reverse=True)
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


# -- shipping -----------------------------------------------------------------------------

def zone_matches(countries: list[str], prefixes: list[str], country: str, postcode: str | None) -> bool:
    if country not in countries:
        return False
    if not prefixes:
        return True
    pc = (postcode or "").replace(" ", "").upper()
    return any(pc.startswith(p.replace(" ", "").upper()) for p in prefixes)


def bracket_price(brackets: list[dict], measure: Decimal) -> Decimal | None:
    """The price of the last bracket whose `from` the measure reaches; None below the first."""
    price = None
    for b in sorted(brackets, key=lambda b: Decimal(str(b["from"]))):
        if measure >= Decimal(str(b["from"])):
            price = Decimal(str(b["price"]))
    return price
