"""Loyalty at checkout: a hook the CRM context fills, and the arithmetic of a points discount.

Orders sits below CRM in the declared layer order (`.importlinter`), so checkout cannot read
a loyalty programme itself. It declares this hook; `merx.crm.hooks` contributes at start-up:
  - `standing(uow, customer_id, currency)` -> the customer's `Standing` in the active programme
    of that currency (balance, the programme's redemption rules, tier and its benefits), or None
    (no programme in that currency, or not a member). Reads only.
  - `spend(uow, customer_id, points, order_id=, number=, program=)` in checkout's transaction,
    once the order exists: debits the points (an order that fails to commit keeps them).
Without a contributor nobody has points: asking to spend some is a 422 naming `loyalty_points`.

Spent points come back through CRM's durable subscriber on orders' typed events: all of them
when the order is cancelled (a declined payment cancels too), pro rata to the money paid back
on a refund or a return (`order.refunded` carries the running `refunded_total`).

Who may spend: the customer signed in (a customer key or session), or the back office naming
`customer.id`. A guest known only by an email address has no standing here (anyone can type
an email): no points, no tier benefits."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, Decimal
from typing import Any, Callable

from merx.core.auth import BACK_OFFICE_ROLES, Role
from merx.core.errors import FieldError, ValidationProblem
from merx.core.money import exponent
from merx.core.uow import UnitOfWork

LOYALTY_PROMOTION_KIND = "loyalty_points"  # the order's discount line for spent points (order_promotions.kind)
FIELD = "loyalty_points"


@dataclass(frozen=True)
class Standing:
    program: str  # the programme's code
    currency: str
    balance: int
    point_value: Decimal  # money per point
    min_points: int = 0  # fewest points one redemption may use (and the balance it needs)
    max_share: Decimal = Decimal(1)  # most of the goods total (after promotions) points may pay
    tier: str | None = None
    benefits: frozenset[str] = field(default_factory=frozenset)  # e.g. {"free_shipping"}

    @property
    def free_shipping(self) -> bool:
        return "free_shipping" in self.benefits


@dataclass(frozen=True)
class PointsDiscount:
    """What spending `points` takes off the order."""
    points: int
    amount: Decimal
    program: str


@dataclass
class _Loyalty:
    standing: Callable[..., Standing | None] | None = None
    spend: Callable[..., None] | None = None


_loyalty = _Loyalty()


def contribute_loyalty(standing: Callable[..., Standing | None], spend: Callable[..., None]) -> None:
    """Called from a context's `hooks.register()`; a second call replaces the first."""
    _loyalty.standing, _loyalty.spend = standing, spend


def member(uow: UnitOfWork, customer: Any) -> int | None:
    """The customer whose points and tier this checkout may use (see the module doc)."""
    actor = uow.actor
    if actor.role == Role.customer:
        return actor.customer_id
    if actor.role in BACK_OFFICE_ROLES and customer.id is not None:
        return customer.id
    return None


def standing(uow: UnitOfWork, customer_id: int | None, currency: str) -> Standing | None:
    if customer_id is None or _loyalty.standing is None:
        return None
    return _loyalty.standing(uow, customer_id, currency)


def point_money(points: int, point_value: Decimal, currency: str) -> Decimal:
    """Pure: what `points` are worth, rounded down to the currency's minor unit (a shop never
    gives more than the programme's rate)."""
    return (Decimal(points) * point_value).quantize(Decimal(1).scaleb(-exponent(currency)), ROUND_DOWN)


def max_points(s: Standing, goods_total: Decimal, currency: str) -> int:
    """Pure: the most points this order can take: within the balance, and worth no more than
    the programme's share of the goods total (after promotions; shipping is not paid by points).
    0 when the balance is below the programme's minimum."""
    if s.point_value <= 0 or s.balance < max(s.min_points, 1):
        return 0
    cap = (goods_total * s.max_share).quantize(Decimal(1).scaleb(-exponent(currency)), ROUND_DOWN)
    by_share = int((cap / s.point_value).to_integral_value(ROUND_DOWN))
    best = min(s.balance, by_share)
    return best if best >= s.min_points else 0


def check(s: Standing | None, points: int, goods_total: Decimal, currency: str) -> PointsDiscount:
    """Pure: the discount for spending `points`, or a 422 naming `loyalty_points` with the reason
    (no programme, beyond the balance, below the minimum, above the programme's share)."""
    if s is None:
        raise ValidationProblem.for_field(FIELD, f"no loyalty points to spend in {currency}: the customer is not a "
                                          "member of an active programme in this currency (or is not signed in)",
                                          "no_loyalty_programme")
    if points > s.balance:
        raise ValidationProblem.for_field(FIELD, f"the balance is {s.balance} points; {points} cannot be spent",
                                          "beyond_balance")
    if points < s.min_points:
        raise ValidationProblem.for_field(FIELD, f"at least {s.min_points} points must be spent at once",
                                          "below_minimum")
    most = max_points(s, goods_total, currency)
    if points > most:
        raise ValidationProblem(
            f"{FIELD}: at most {most} points can be spent on this order (points pay at most "
            f"{(s.max_share * 100).normalize():f}% of the goods)",
            errors=[FieldError(FIELD, f"at most {most} points can be spent on this order", "above_share")],
            extra={"max_points": most})
    return PointsDiscount(points, point_money(points, s.point_value, currency), s.program)


def apply(quote: Any, discount: PointsDiscount, currency: str) -> Any:
    """Pure: the priced cart with the points discount spread over its lines in proportion to
    their totals (in minor units, the remainder to the largest lines), so each line's tax base
    is what the shopper pays for it. Returns a new result; the input is not changed."""
    from merx.pricing import public as pricing

    if discount.amount <= 0:
        return quote
    to_minor = lambda d: pricing.to_minor(d, currency)  # noqa: E731
    totals = [to_minor(r.total) for r in quote.lines]
    base = sum(totals)
    cut = min(to_minor(discount.amount), base)
    shares = [cut * t // base if base else 0 for t in totals]
    left = cut - sum(shares)
    for i in sorted(range(len(totals)), key=lambda i: (-totals[i], i)):
        if left == 0:
            break
        if shares[i] < totals[i]:
            shares[i] += 1
            left -= 1
    lines = [replace(r, discount=r.discount + pricing.from_minor(s, currency),
                     total=r.total - pricing.from_minor(s, currency)) for r, s in zip(quote.lines, shares)]
    taken = pricing.from_minor(cut, currency)
    return replace(quote, lines=lines, discount=quote.discount + taken, total=quote.total - taken)


def spend(uow: UnitOfWork, customer_id: int, discount: PointsDiscount, *, order_id: int, number: str) -> None:
    """Checkout's call once the order's rows exist (same transaction)."""
    if _loyalty.spend is None:  # `check` already refused: no standing without a contributor
        raise ValidationProblem.for_field(FIELD, "no loyalty programme is installed", "no_loyalty_programme")
    _loyalty.spend(uow, customer_id, discount.points, order_id=order_id, number=number, program=discount.program)


def promotion_out(discount: PointsDiscount, currency: str) -> dict[str, Any]:
    """The discount line as an order or cart shows it."""
    from merx.core.money import minor_to_str

    row = promotion_row(0, discount, currency)
    return {k: row[k] for k in ("promotion_id", "name", "kind", "coupon_code")} | {
        "amount": minor_to_str(row["amount_minor"], currency)}


def promotion_row(order_id: int, discount: PointsDiscount, currency: str) -> dict[str, Any]:
    """The order's discount line for the spent points (shown with the promotions)."""
    from merx.pricing import public as pricing

    return {"order_id": order_id, "promotion_id": 0, "name": f"{discount.points} loyalty points ({discount.program})",
            "kind": LOYALTY_PROMOTION_KIND, "coupon_code": None, "amount_minor": pricing.to_minor(discount.amount,
                                                                                                  currency)}
