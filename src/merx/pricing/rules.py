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


# ---------------------------------------------------------------------------------------------
# Pricing strategies (pricing/strategies.py runs them): pure, unit-tested without a database.
# A strategy proposes a price for one SKU from its cost, its current price and the competitor
# prices seen; it never proposes below the cost nor below the floor (the cost grossed up to
# the rule's minimum margin), whatever the competition or the rounding does.
# ---------------------------------------------------------------------------------------------

STRATEGIES = ("cost_plus", "match_lowest", "target_margin")
ROUNDINGS = ("none", "0.99", "0.95", "0.00")


@dataclass(frozen=True)
class Strategy:
    kind: str  # cost_plus | match_lowest | target_margin
    currency: str
    markup_percent: Decimal | None = None  # cost_plus: price = cost x (1 + markup)
    target_margin_percent: Decimal | None = None  # target_margin: margin on the price, price = cost / (1 - m)
    undercut: Decimal = Decimal(0)  # match_lowest: this much below the lowest competitor
    floor_margin_percent: Decimal = Decimal(0)  # never a margin (on the price) below this
    rounding: str = "none"


@dataclass(frozen=True)
class PricePoint:
    sku: str
    cost: Decimal | None
    current: Decimal | None
    competitors: tuple[Decimal, ...] = ()  # the latest price seen at each competitor, shop currency


@dataclass(frozen=True)
class StrategyOutcome:
    sku: str
    price: Decimal | None  # None: no proposal (see `skipped`)
    floor: Decimal | None
    reason: str
    skipped: str | None = None  # no_cost | no_competitor_price | unchanged


def margin_floor(cost: Decimal, floor_margin_percent: Decimal, currency: str) -> Decimal:
    """The lowest price that keeps `floor_margin_percent` of the price as margin (rounded up
    to the currency's minor unit, so the margin is never short by a rounding)."""
    if floor_margin_percent >= HUNDRED:
        raise ValueError("a floor margin must be below 100%")
    raw = cost / (1 - floor_margin_percent / HUNDRED) if floor_margin_percent > 0 else cost
    return _ceil_minor(raw, currency)


def _ceil_minor(amount: Decimal, currency: str) -> Decimal:
    q = Decimal(1).scaleb(-exponent(currency))
    return amount.quantize(q, rounding="ROUND_CEILING")


def _floor_minor(amount: Decimal, currency: str) -> Decimal:
    q = Decimal(1).scaleb(-exponent(currency))
    return amount.quantize(q, rounding="ROUND_FLOOR")


def psychological(amount: Decimal, ending: str, currency: str, *, direction: str) -> Decimal:
    """The nearest price ending in `ending` (".99", ".95", ".00": the part below one unit) at
    or above `amount` (direction "up") or at or below it ("down"). 19.42 -> 19.99 up, 18.99
    down; an amount already ending so stays. "none" only rounds to the minor unit."""
    if ending == "none":
        return _ceil_minor(amount, currency) if direction == "up" else _floor_minor(amount, currency)
    if ending not in ROUNDINGS:
        raise ValueError(f"unknown rounding {ending}")
    end = Decimal(ending)
    if end != 0 and exponent(currency) < 2:
        raise ValueError(f"{currency} has no cents: only the rounding 0.00 applies")
    units = (amount - end).to_integral_value(rounding="ROUND_FLOOR")
    down = units + end
    if down < 0:  # nothing ends so at or below: the first price that does
        return down + 1
    return down if down == amount or direction == "down" else down + 1


def propose(strategy: Strategy, point: PricePoint) -> StrategyOutcome:
    """The price `strategy` proposes for `point`. Without a cost nothing is proposed (a rule
    never prices blind); `match_lowest` also needs a competitor price. The result is at or
    above the floor, and so at or above the cost, always."""
    cur = strategy.currency
    if point.cost is None:
        return StrategyOutcome(point.sku, None, None, "no cost known for this SKU", skipped="no_cost")
    floor = margin_floor(point.cost, strategy.floor_margin_percent, cur)
    direction = "up"
    if strategy.kind == "cost_plus":
        raw = point.cost * (1 + (strategy.markup_percent or Decimal(0)) / HUNDRED)
        why = f"cost {point.cost} + {strategy.markup_percent or 0}%"
    elif strategy.kind == "target_margin":
        m = strategy.target_margin_percent or Decimal(0)
        if m >= HUNDRED:
            raise ValueError("a target margin must be below 100%")
        raw = point.cost / (1 - m / HUNDRED)
        why = f"cost {point.cost} at a {m}% margin"
    elif strategy.kind == "match_lowest":
        if not point.competitors:
            return StrategyOutcome(point.sku, None, floor, "no recent competitor price", skipped="no_competitor_price")
        lowest = min(point.competitors)
        raw = lowest - strategy.undercut
        direction = "down"  # matching means not above the lowest
        why = f"lowest competitor {lowest}" + (f" - {strategy.undercut}" if strategy.undercut else "")
    else:
        raise ValueError(f"unknown strategy {strategy.kind}")
    price = psychological(raw, strategy.rounding, cur, direction=direction)
    if price < floor:
        # the floor wins over the competition and over the rounding: the next price ending as
        # asked at or above the floor
        price = psychological(floor, strategy.rounding, cur, direction="up")
        why += f"; held at the floor {floor} (cost {point.cost}, min margin {strategy.floor_margin_percent}%)"
    elif strategy.rounding != "none":
        why += f"; rounded to .{strategy.rounding[2:]}"
    if not price >= floor >= point.cost:  # the contract (the proposals table checks it too)
        raise RuntimeError(f"{point.sku}: proposed {price} under the floor {floor} or the cost {point.cost}")
    if point.current is not None and price == point.current:
        return StrategyOutcome(point.sku, None, floor, f"already at {price} ({why})", skipped="unchanged")
    return StrategyOutcome(point.sku, price, floor, why)


def position(ours: Decimal | None, competitors: Sequence[Decimal]) -> dict:
    """Where our price stands: lowest and median competitor price, our rank among all (1 =
    cheapest; ties share the better rank) and our price as an index of the median (100 = at it)."""
    prices = sorted(competitors)
    if not prices:
        return {"lowest": None, "median": None, "rank": None, "of": 1 if ours is not None else 0, "index": None}
    n = len(prices)
    median = prices[n // 2] if n % 2 else (prices[n // 2 - 1] + prices[n // 2]) / 2
    rank = None if ours is None else 1 + sum(1 for p in prices if p < ours)
    index = None if ours is None or not median else (ours / median * HUNDRED).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return {"lowest": prices[0], "median": median, "rank": rank, "of": n + (1 if ours is not None else 0),
            "index": index}
