"""The promotion engine: pure functions over a cart, no database.

Amounts are computed in integer minor units of the cart's currency (cents, yen, fils), so
every discount is rounded once, to what the currency can express (half up), and the lines
always add up to the order total.

Stacking policy (explicit and deterministic):
1. Eligible promotions are ordered by priority (higher first), then by id.
2. If the first eligible promotion is `exclusive`, it is the only one applied.
3. Otherwise every eligible `stackable` promotion applies in that order, each on what the
   previous ones left (a 10% after a 5% is 10% of the reduced amount); `exclusive`
   promotions further down the list are skipped.
Thresholds (minimum subtotal, tiers) compare against the cart's merchandise subtotal before
any discount, with `>=`: a tier "from 100.00" is reached at exactly 100.00.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Sequence

from merx.core.money import exponent

KINDS = ("order_percent", "order_fixed", "line_percent", "line_fixed", "tiered_percent", "buy_x_get_y",
         "free_shipping")
HUNDRED = Decimal(100)


def to_minor(amount: Decimal, currency: str) -> int:
    return int((amount.scaleb(exponent(currency))).to_integral_value(ROUND_HALF_UP))


def from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-exponent(currency))


def percent_of(minor: int, percent: Decimal) -> int:
    return int((Decimal(minor) * percent / HUNDRED).to_integral_value(ROUND_HALF_UP))


def allocate_proportionally(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` minor units across weights; the parts sum exactly to `total` (largest
    remainder; ties go to the earlier line)."""
    base = sum(weights)
    if total == 0 or base == 0:
        return [0] * len(weights)
    shares = [total * w // base for w in weights]
    remainders = [(total * w) % base for w in weights]
    left = total - sum(shares)
    for i in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        shares[i] += 1
    return shares


@dataclass(frozen=True)
class CartLine:
    key: str  # "lines[0]": names the line in the order and in errors
    sku: str
    quantity: int
    unit_price: Decimal
    category: str | None = None


@dataclass(frozen=True)
class Promotion:
    id: int
    name: str
    kind: str
    priority: int = 0
    stacking: str = "stackable"  # exclusive | stackable
    percent: Decimal | None = None
    amount: Decimal | None = None  # fixed amount off (order_fixed) or per unit (line_fixed)
    min_subtotal: Decimal | None = None
    tiers: tuple[tuple[Decimal, Decimal], ...] = ()  # (threshold, percent)
    skus: frozenset[str] = frozenset()  # targets; empty = every line
    categories: frozenset[str] = frozenset()
    buy_quantity: int = 0
    get_quantity: int = 0
    get_percent: Decimal = HUNDRED  # 100 = the "get" units are free
    coupon_code: str | None = None
    currency: str | None = None  # amounts and thresholds are in this currency; others do not qualify
    channels: frozenset[str] = frozenset()  # empty = every channel
    customer_groups: frozenset[str] = frozenset()
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None

    def targets(self, line: CartLine) -> bool:
        if not self.skus and not self.categories:
            return True
        return line.sku in self.skus or (line.category is not None and line.category in self.categories)


@dataclass(frozen=True)
class CartContext:
    currency: str
    channel: str = "web"
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    coupon_codes: frozenset[str] = frozenset()
    shipping: Decimal = Decimal(0)
    customer_group: str | None = None


@dataclass
class AppliedPromotion:
    promotion_id: int
    name: str
    kind: str
    amount: Decimal
    coupon_code: str | None
    line_discounts: dict[str, Decimal]
    shipping_discount: Decimal = Decimal(0)


@dataclass
class LineResult:
    key: str
    sku: str
    quantity: int
    unit_price: Decimal
    subtotal: Decimal
    discount: Decimal
    total: Decimal


@dataclass
class PricingResult:
    currency: str
    lines: list[LineResult]
    subtotal: Decimal
    discount: Decimal  # merchandise discount (lines and order)
    shipping: Decimal  # after any shipping discount
    shipping_discount: Decimal
    total: Decimal
    applied: list[AppliedPromotion]
    coupon_problems: dict[str, str]  # coupon code -> why it did not apply


def ineligibility(promo: Promotion, lines: Sequence[CartLine], ctx: CartContext, subtotal: Decimal) -> str | None:
    """Why `promo` does not apply to this cart (None: it does)."""
    if promo.starts_at is not None and ctx.now < promo.starts_at:
        return "is not valid yet"
    if promo.ends_at is not None and ctx.now >= promo.ends_at:
        return "has expired"
    if promo.coupon_code is not None and promo.coupon_code not in ctx.coupon_codes:
        return "needs its coupon code"
    if promo.currency is not None and promo.currency != ctx.currency:
        return f"applies to {promo.currency} orders only"
    if promo.channels and ctx.channel not in promo.channels:
        return f"does not apply to the {ctx.channel} channel"
    if promo.customer_groups and ctx.customer_group not in promo.customer_groups:
        return "does not apply to this customer group"
    if promo.min_subtotal is not None and subtotal < promo.min_subtotal:
        return f"needs a subtotal of at least {promo.min_subtotal}"
    if promo.kind == "tiered_percent" and _tier(promo, subtotal) is None:
        return f"needs a subtotal of at least {min(t for t, _ in promo.tiers)}"
    if promo.kind == "free_shipping" and ctx.shipping <= 0:
        return "the order has no shipping charge"
    if not any(promo.targets(line) for line in lines):
        return "no line of the cart qualifies"
    if promo.kind == "buy_x_get_y":
        units = sum(line.quantity for line in lines if promo.targets(line))
        if units < promo.buy_quantity + promo.get_quantity:
            return f"needs {promo.buy_quantity + promo.get_quantity} qualifying units"
    return None


def _tier(promo: Promotion, subtotal: Decimal) -> Decimal | None:
    """The percent of the highest tier reached (only that one applies)."""
    reached = [(threshold, pct) for threshold, pct in promo.tiers if subtotal >= threshold]
    return max(reached)[1] if reached else None


def _discount_minor(promo: Promotion, lines: Sequence[CartLine], remaining: dict[str, int], subtotal: Decimal,
                    currency: str) -> dict[str, int]:
    """Per-line discount in minor units, capped at what each line still costs."""
    targeted = [line for line in lines if promo.targets(line) and remaining[line.key] > 0]
    out: dict[str, int] = {}
    if promo.kind == "line_percent":
        for line in targeted:
            out[line.key] = min(remaining[line.key], percent_of(remaining[line.key], promo.percent or Decimal(0)))
    elif promo.kind == "line_fixed":
        per_unit = to_minor(promo.amount or Decimal(0), currency)
        for line in targeted:
            out[line.key] = min(remaining[line.key], per_unit * line.quantity)
    elif promo.kind in ("order_percent", "order_fixed", "tiered_percent"):
        base = sum(remaining[line.key] for line in targeted)
        if promo.kind == "order_fixed":
            total = min(base, to_minor(promo.amount or Decimal(0), currency))
        else:
            pct = promo.percent if promo.kind == "order_percent" else _tier(promo, subtotal)
            total = min(base, percent_of(base, pct or Decimal(0)))
        shares = allocate_proportionally(total, [remaining[line.key] for line in targeted])
        out = {line.key: share for line, share in zip(targeted, shares)}
    elif promo.kind == "buy_x_get_y":
        # Every full group of X+Y qualifying units gets its Y cheapest units discounted.
        units: list[tuple[int, str]] = []
        for line in targeted:
            unit_minor = to_minor(line.unit_price, currency)
            units.extend((unit_minor, line.key) for _ in range(line.quantity))
        units.sort(key=lambda u: -u[0])
        group = promo.buy_quantity + promo.get_quantity
        free_units: list[tuple[int, str]] = []
        for start in range(0, len(units) - group + 1, group):
            free_units.extend(units[start + promo.buy_quantity:start + group])
        for unit_minor, key in free_units:
            out[key] = out.get(key, 0) + unit_minor
        for key in out:
            out[key] = min(remaining[key], percent_of(out[key], promo.get_percent))
    return {k: v for k, v in out.items() if v > 0}


def price_cart(lines: Sequence[CartLine], promotions: Sequence[Promotion], ctx: CartContext) -> PricingResult:
    currency = ctx.currency
    subtotal_minor = {line.key: to_minor(line.unit_price, currency) * line.quantity for line in lines}
    subtotal = from_minor(sum(subtotal_minor.values()), currency)
    remaining = dict(subtotal_minor)
    shipping_left = to_minor(ctx.shipping, currency)

    ordered = sorted(promotions, key=lambda p: (-p.priority, p.id))
    reasons: dict[int, str] = {}
    eligible = []
    for promo in ordered:
        why = ineligibility(promo, lines, ctx, subtotal)
        if why is None:
            eligible.append(promo)
        else:
            reasons[promo.id] = why
    if eligible and eligible[0].stacking == "exclusive":
        chosen = eligible[:1]
        for other in eligible[1:]:
            reasons[other.id] = f"cannot be combined with {eligible[0].name}"
    else:
        chosen = [p for p in eligible if p.stacking != "exclusive"]
        for other in eligible:
            if other.stacking == "exclusive":
                reasons[other.id] = "is exclusive and another promotion takes precedence"

    applied: list[AppliedPromotion] = []
    for promo in chosen:
        if promo.kind == "free_shipping":
            if shipping_left <= 0:
                reasons[promo.id] = "shipping is already free"
                continue
            applied.append(AppliedPromotion(promo.id, promo.name, promo.kind, from_minor(shipping_left, currency),
                                            promo.coupon_code, {}, from_minor(shipping_left, currency)))
            shipping_left = 0
            continue
        per_line = _discount_minor(promo, lines, remaining, subtotal, currency)
        if not per_line:
            reasons[promo.id] = "nothing left to discount"
            continue
        for key, d in per_line.items():
            remaining[key] -= d
        applied.append(AppliedPromotion(promo.id, promo.name, promo.kind, from_minor(sum(per_line.values()), currency),
                                        promo.coupon_code, {k: from_minor(v, currency) for k, v in per_line.items()}))

    results = []
    for line in lines:
        results.append(LineResult(line.key, line.sku, line.quantity, line.unit_price,
                                  from_minor(subtotal_minor[line.key], currency),
                                  from_minor(subtotal_minor[line.key] - remaining[line.key], currency),
                                  from_minor(remaining[line.key], currency)))
    discount_minor = sum(subtotal_minor.values()) - sum(remaining.values())
    shipping_minor = to_minor(ctx.shipping, currency)
    total_minor = sum(remaining.values()) + shipping_left
    applied_ids = {a.promotion_id for a in applied}
    coupon_problems = {}
    for code in ctx.coupon_codes:
        promos = [p for p in promotions if p.coupon_code == code]
        if not promos:
            coupon_problems[code] = "is not a known coupon code"
        elif not any(p.id in applied_ids for p in promos):
            coupon_problems[code] = next((reasons[p.id] for p in promos if p.id in reasons), "does not apply")
    return PricingResult(currency=currency, lines=results, subtotal=subtotal,
                         discount=from_minor(discount_minor, currency),
                         shipping=from_minor(shipping_left, currency),
                         shipping_discount=from_minor(shipping_minor - shipping_left, currency),
                         total=from_minor(total_minor, currency), applied=applied, coupon_problems=coupon_problems)
