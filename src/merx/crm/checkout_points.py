"""Loyalty at checkout, CRM's side of the hook orders declares (`orders/loyalty_points.py`):
the customer's standing (balance, the programme's spending rules, tier benefits), spending
points in checkout's transaction, and giving them back when the order is cancelled or money
is paid back (CRM's durable subscriber on orders' typed events, `crm.orders`).

Ledger entries of a checkout carry `order_ref` = the order id (as earning does): kind `redeem`
(negative) when spent, `reversal` (positive) when given back. What is given back is computed
from the ledger each time (all of it on cancellation; the spent points times the share of the
order total paid back, rounded down, on a refund), minus what was given back already, so an
event seen twice, or a refund after a partial one, never gives points twice."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

import sqlalchemy as sa

from merx.core.uow import UnitOfWork
from merx.crm.loyalty import REVERSAL
from merx.crm.models import LoyaltyAccount, LoyaltyEntry, LoyaltyProgram
from merx.orders.loyalty_points import Standing


def _benefit_key(text: str) -> str:
    """ "free shipping" (typed in the console) and "free_shipping" (the API) are one benefit."""
    return "_".join(text.lower().replace("-", " ").split())


def standing(uow: UnitOfWork, customer_id: int, currency: str) -> Standing | None:
    """The customer's standing in the active programme of `currency` (the oldest, when there are
    several), or None: no such programme, or the customer never joined it. Reads only."""
    from merx.crm.identity import survivor

    current = survivor(uow, customer_id)
    if current is None:
        return None
    row = uow.session.execute(sa.select(LoyaltyProgram, LoyaltyAccount).join(
        LoyaltyAccount, LoyaltyAccount.program_id == LoyaltyProgram.id).where(
        LoyaltyProgram.active.is_(True), LoyaltyProgram.currency == currency,
        LoyaltyAccount.customer_id == current).order_by(LoyaltyProgram.id).limit(1)).first()
    if row is None:
        return None
    program, account = row
    tier = next((t for t in program.tiers or [] if t["name"] == account.tier), None)
    return Standing(program=program.code, currency=program.currency, balance=int(account.balance),
                    point_value=Decimal(program.point_value), min_points=int(program.redeem_min_points or 0),
                    max_share=Decimal(program.redeem_max_share if program.redeem_max_share is not None else 1),
                    tier=account.tier,
                    benefits=frozenset(_benefit_key(b) for b in (tier or {}).get("benefits", []) or []))


def spend(uow: UnitOfWork, customer_id: int, points: int, *, order_id: int, number: str, program: str) -> None:
    """Debit `points` for order `order_id`, in checkout's transaction (no commit). The account
    row is locked first, so two checkouts of one member spending at once are serialised and the
    second sees the first's debit (the balance can never go below zero)."""
    from merx.crm import loyalty
    from merx.crm.identity import survivor

    current = survivor(uow, customer_id)
    prog = loyalty._program(uow, program)
    account = uow.session.scalars(sa.select(LoyaltyAccount).where(
        LoyaltyAccount.program_id == prog.id, LoyaltyAccount.customer_id == current).with_for_update()).first()
    if account is None:
        from merx.core.errors import ValidationProblem

        raise ValidationProblem.for_field("loyalty_points", "the customer has no points in this programme",
                                          "no_loyalty_programme")
    try:
        loyalty._debit(uow, account, prog, points, "redeem", order_ref=str(order_id), reason=f"order {number}")
    except Exception as e:  # the balance moved since the quote: name checkout's field
        from merx.core.errors import ValidationProblem

        if isinstance(e, ValidationProblem):
            raise ValidationProblem.for_field("loyalty_points", e.errors[0].message if e.errors else e.detail,
                                              "beyond_balance") from None
        raise


def spent_and_reversed(uow: UnitOfWork, order_id: int) -> dict[int, tuple[int, int]]:
    """Per account: (points spent on the order, points given back so far)."""
    rows = uow.session.execute(sa.select(LoyaltyEntry.account_id, LoyaltyEntry.kind,
                                         sa.func.sum(LoyaltyEntry.points)).where(
        LoyaltyEntry.order_ref == str(order_id), LoyaltyEntry.kind.in_(("redeem", REVERSAL)))
        .group_by(LoyaltyEntry.account_id, LoyaltyEntry.kind)).all()
    out: dict[int, tuple[int, int]] = {}
    for account_id, kind, total in rows:
        spent, back = out.get(account_id, (0, 0))
        out[account_id] = (spent - int(total), back) if kind == "redeem" else (spent, back + int(total))
    return out


def give_back(uow: UnitOfWork, order_id: int, number: str | None, share: Decimal) -> int:
    """Give back `share` (0..1) of the points spent on the order, less what went back already.
    Returns the points credited. No commit (the subscriber's batch commits)."""
    from merx.crm import loyalty

    share = max(Decimal(0), min(Decimal(1), share))
    credited = 0
    for account_id, (spent, back) in spent_and_reversed(uow, order_id).items():
        due = int((Decimal(spent) * share).to_integral_value(ROUND_DOWN)) - back
        if due <= 0:
            continue
        account = uow.session.get(LoyaltyAccount, account_id)
        program = uow.session.get(LoyaltyProgram, account.program_id)
        why = "cancelled" if share == 1 else "refunded"
        loyalty._credit(uow, account, program, due, REVERSAL, order_ref=str(order_id),
                        reason=f"order {number or order_id} {why}")
        credited += due
    return credited


def on_order_change(uow: UnitOfWork, data: object) -> None:
    """From the `crm.orders` subscriber: a cancelled order gives back every point spent on it; a
    refund gives back the share of the order total paid back so far."""
    from merx.core.money import Money
    from merx.orders.events import OrderCancelled, OrderRefunded

    if isinstance(data, OrderCancelled):
        give_back(uow, data.order_id, data.number, Decimal(1))
    elif isinstance(data, OrderRefunded):
        total = Money(data.total, data.currency).minor
        paid_back = data.refunded_total.minor
        if total > 0 and paid_back > 0:
            give_back(uow, data.order_id, data.number, Decimal(paid_back) / Decimal(total))


def points_of_order(uow: UnitOfWork, order_id: int) -> list[dict[str, object]]:
    """The loyalty entries of one order, oldest first: points spent on it (`redeem`), given back
    (`reversal`) and earned (`earn`), for the console's order page."""
    rows = uow.session.execute(sa.select(LoyaltyEntry, LoyaltyProgram.code).join(
        LoyaltyAccount, LoyaltyAccount.id == LoyaltyEntry.account_id).join(
        LoyaltyProgram, LoyaltyProgram.id == LoyaltyAccount.program_id).where(
        LoyaltyEntry.order_ref == str(order_id), LoyaltyEntry.kind.in_(("redeem", REVERSAL, "earn")))
        .order_by(LoyaltyEntry.id)).all()
    return [{"kind": e.kind, "points": e.points, "program": code, "reason": e.reason, "at": e.created_at}
            for e, code in rows]
