"""Loyalty programs: earn rules (points per currency unit, category multipliers, bonus
events), tiers by lifetime points, redemption as a checkout discount, expiry, and a signed
ledger per member. Points are whole numbers; the balance is always the sum of the ledger.

Redemption and expiry consume earned points first-in-first-out (`remaining` on each credit
entry), so the points that expire are the oldest unspent ones."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any, Iterable

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.errors import Conflict, NotFound, ValidationProblem
from merx.core.money import Money, exponent
from merx.core.uow import UnitOfWork
from merx.crm.events import LoyaltyPointsChanged, LoyaltyProgramCreated, LoyaltyTierChanged
from merx.crm.models import LoyaltyAccount, LoyaltyEntry, LoyaltyProgram
from merx.customers import public as customers

CLAWBACK = "clawback"  # points earned on an order taken back when its goods or money came back
REVERSAL = "reversal"  # points spent on an order given back when it was cancelled or refunded


def create_program(uow: UnitOfWork, *, code: str, name: str, currency: str, points_per_unit: Decimal,
                   point_value: Decimal, category_multipliers: dict[str, Decimal] | None = None,
                   bonus_events: dict[str, int] | None = None, expiry_days: int | None = None,
                   tiers: list[dict[str, Any]] | None = None, referral_reward_points: int = 0,
                   redeem_min_points: int = 0, redeem_max_share: Decimal = Decimal(1)) -> LoyaltyProgram:
    if uow.session.scalar(sa.select(LoyaltyProgram.id).where(LoyaltyProgram.code == code)) is not None:
        raise Conflict(f"A loyalty program with code {code} exists", type_slug="duplicate")
    tiers = sorted(tiers or [], key=lambda t: t["threshold"])
    program = LoyaltyProgram(code=code, name=name, currency=currency, points_per_unit=points_per_unit,
                             point_value=point_value,
                             category_multipliers={k: str(v) for k, v in (category_multipliers or {}).items()},
                             bonus_events=dict(bonus_events or {}), expiry_days=expiry_days, tiers=tiers,
                             referral_reward_points=referral_reward_points, redeem_min_points=redeem_min_points,
                             redeem_max_share=redeem_max_share)
    uow.session.add(program)
    uow.session.flush()
    uow.audit("create", "loyalty_program", program.id, after={"code": code, "points_per_unit": str(points_per_unit)})
    uow.emit(LoyaltyProgramCreated(program_id=program.id, code=code))
    uow.commit()
    return program


def list_programs(uow: UnitOfWork) -> list[LoyaltyProgram]:
    return list(uow.session.scalars(sa.select(LoyaltyProgram).order_by(LoyaltyProgram.id)))


def _program(uow: UnitOfWork, code: str | None) -> LoyaltyProgram:
    stmt = sa.select(LoyaltyProgram).where(LoyaltyProgram.active.is_(True))
    if code is not None:
        stmt = stmt.where(LoyaltyProgram.code == code)
    program = uow.session.scalars(stmt.order_by(LoyaltyProgram.id)).first()
    if program is None:
        raise NotFound(f"No active loyalty program{' ' + code if code else ''}")
    return program


def account_for(uow: UnitOfWork, program: LoyaltyProgram, customer_id: int) -> LoyaltyAccount:
    account = uow.session.scalars(sa.select(LoyaltyAccount).where(
        LoyaltyAccount.program_id == program.id, LoyaltyAccount.customer_id == customer_id)).first()
    if account is None:
        account = LoyaltyAccount(program_id=program.id, customer_id=customer_id, balance=0, lifetime_points=0,
                                 tier=_tier(program, 0))
        uow.session.add(account)
        uow.session.flush()
    return account


def _tier(program: LoyaltyProgram, lifetime: int) -> str | None:
    current = None
    for tier in program.tiers or []:
        if lifetime >= int(tier["threshold"]):
            current = tier["name"]
    return current


def recompute(uow: UnitOfWork, account: LoyaltyAccount) -> None:
    uow.session.flush()
    balance, lifetime = uow.session.execute(sa.select(
        sa.func.coalesce(sa.func.sum(LoyaltyEntry.points), 0),
        # points taken back from a returned order were never really earned, and points given
        # back after a cancelled or refunded redemption were earned once already: the tier follows
        sa.func.coalesce(sa.func.sum(sa.case((LoyaltyEntry.kind == REVERSAL, 0),
                                             (LoyaltyEntry.points > 0, LoyaltyEntry.points),
                                             (LoyaltyEntry.kind == CLAWBACK, LoyaltyEntry.points), else_=0)), 0),
    ).where(LoyaltyEntry.account_id == account.id)).one()
    program = uow.session.get(LoyaltyProgram, account.program_id)
    account.balance = int(balance)
    account.lifetime_points = int(lifetime)
    account.tier = _tier(program, account.lifetime_points)


def _credit(uow: UnitOfWork, account: LoyaltyAccount, program: LoyaltyProgram, points: int, kind: str, *,
            order_ref: str | None = None, reason: str | None = None, at: dt.datetime | None = None) -> LoyaltyEntry:
    at = at or utcnow()
    expires = at + dt.timedelta(days=program.expiry_days) if program.expiry_days else None
    entry = LoyaltyEntry(account_id=account.id, kind=kind, points=points, remaining=points, expires_at=expires,
                         order_ref=order_ref, reason=reason, created_at=at)
    uow.session.add(entry)
    before_tier = account.tier
    recompute(uow, account)
    uow.audit(kind, "loyalty_account", account.id, after={"points": points, "order_ref": order_ref, "reason": reason})
    uow.emit(LoyaltyPointsChanged(account_id=account.id, customer_id=account.customer_id, program_id=program.id,
                                  kind=kind, points=points, balance=account.balance, tier=account.tier))
    if account.tier != before_tier:
        uow.emit(LoyaltyTierChanged(account_id=account.id, customer_id=account.customer_id, from_tier=before_tier,
                                    to=account.tier))
    return entry


def earn_points_for_order(program: LoyaltyProgram, lines: list[dict[str, Any]], total: Decimal) -> int:
    """Pure: points for an order. Each line's total times its category multiplier (1 when the
    category has none), times points per unit, rounded down; without lines, the order total."""
    multipliers = {k: Decimal(v) for k, v in (program.category_multipliers or {}).items()}
    if lines:
        base = sum((Decimal(str(l.get("line_total", "0"))) * multipliers.get(l.get("category") or "", Decimal(1))
                    for l in lines), Decimal(0))
    else:
        base = total
    return int((base * Decimal(program.points_per_unit)).to_integral_value(ROUND_DOWN))


def earn_for_order(uow: UnitOfWork, customer_id: int, *, order_ref: str, currency: str, total: Decimal,
                   lines: list[dict[str, Any]] | None = None) -> int:
    """Credits every active program in the order's currency, once per order. Does not commit."""
    earned = 0
    for program in uow.session.scalars(sa.select(LoyaltyProgram).where(LoyaltyProgram.active.is_(True),
                                                                       LoyaltyProgram.currency == currency)):
        account = account_for(uow, program, customer_id)
        done = uow.session.scalar(sa.select(LoyaltyEntry.id).where(LoyaltyEntry.account_id == account.id,
                                                                   LoyaltyEntry.kind == "earn",
                                                                   LoyaltyEntry.order_ref == order_ref))
        if done is not None:
            continue
        points = earn_points_for_order(program, lines or [], total)
        if points > 0:
            _credit(uow, account, program, points, "earn", order_ref=order_ref)
            earned += points
    return earned




def _earned_and_taken(uow: UnitOfWork, order_ref: str) -> dict[int, tuple[int, int, set[str]]]:
    """Per account: (points earned on the order, points taken back so far, the reasons of
    what was taken back: one per return, so a return seen twice takes nothing twice)."""
    out: dict[int, tuple[int, int, set[str]]] = {}
    for account_id, kind, points, reason in uow.session.execute(sa.select(
            LoyaltyEntry.account_id, LoyaltyEntry.kind, LoyaltyEntry.points, LoyaltyEntry.reason).where(
            LoyaltyEntry.order_ref == order_ref, LoyaltyEntry.kind.in_(("earn", CLAWBACK)))):
        earned, taken, reasons = out.get(account_id, (0, 0, set()))
        if kind == "earn":
            earned += int(points)
        else:
            taken -= int(points)
            reasons.add(reason or "")
        out[account_id] = (earned, taken, reasons)
    return out


def take_back_earned(uow: UnitOfWork, order_ref: str, share: Decimal, *, reason: str,
                     once_per_reason: bool = False) -> int:
    """Take back points earned on an order whose goods or money came back: up to `share`
    (0..1) of what the order earned, rounded down, less what was taken back already (so an
    event seen twice, or a refund after its return, takes nothing twice). With
    `once_per_reason` (a return), `share` is that return's own part, added to what earlier
    returns took. Returns the points taken. No commit.

    The shopper may have spent those points already: the balance then goes below zero, as
    Smile.io does on Shopify (points for the refunded amount are removed from the balance,
    spent or not). Refusing, or clamping at zero, would let a shopper earn on an order, spend
    the points and return the goods for free; a negative balance is paid off by later
    earning, and redemption is refused meanwhile (_debit checks the balance)."""
    share = max(Decimal(0), min(Decimal(1), share))
    taken_now = 0
    for account_id, (earned, taken, reasons) in _earned_and_taken(uow, order_ref).items():
        if once_per_reason:
            if reason in reasons:
                continue
            due = min(int((Decimal(earned) * share).to_integral_value(ROUND_DOWN)), earned - taken)
        else:
            due = int((Decimal(earned) * share).to_integral_value(ROUND_DOWN)) - taken
        if due <= 0:
            continue
        account = uow.session.get(LoyaltyAccount, account_id, with_for_update=True)
        program = uow.session.get(LoyaltyProgram, account.program_id)
        _take(uow, account, program, due, order_ref=order_ref, reason=reason)
        taken_now += due
    return taken_now


def take_back_awarded(uow: UnitOfWork, kind: str, order_ref: str, *, reason: str) -> int:
    """Take back every point credited as `kind` on an order (a referral reward whose
    qualifying order was cancelled or paid back in full), spent or not, as take_back_earned
    does. The caller makes it happen once (the referral is then revoked). No commit."""
    taken = 0
    for entry in uow.session.scalars(sa.select(LoyaltyEntry).where(
            LoyaltyEntry.kind == kind, LoyaltyEntry.order_ref == order_ref, LoyaltyEntry.points > 0)
            .order_by(LoyaltyEntry.id)).all():
        account = uow.session.get(LoyaltyAccount, entry.account_id, with_for_update=True)
        program = uow.session.get(LoyaltyProgram, account.program_id)
        _take(uow, account, program, entry.points, order_ref=order_ref, reason=reason)
        taken += entry.points
    return taken


def _take(uow: UnitOfWork, account: LoyaltyAccount, program: LoyaltyProgram, points: int, *, order_ref: str,
          reason: str) -> None:
    """A debit that may exceed the balance: unspent credit is consumed (the order's own earning
    first, then FIFO like _debit), the rest is the negative balance."""
    left = points
    credits = uow.session.scalars(sa.select(LoyaltyEntry).where(
        LoyaltyEntry.account_id == account.id, LoyaltyEntry.remaining > 0)
        .order_by(sa.case((sa.and_(LoyaltyEntry.kind == "earn", LoyaltyEntry.order_ref == order_ref), 0), else_=1),
                  sa.case((LoyaltyEntry.expires_at.is_(None), 1), else_=0), LoyaltyEntry.expires_at, LoyaltyEntry.id)
        .with_for_update())
    for credit in credits:
        take = min(credit.remaining, left)
        credit.remaining -= take
        left -= take
        if left == 0:
            break
    uow.session.add(LoyaltyEntry(account_id=account.id, kind=CLAWBACK, points=-points, remaining=0,
                                 order_ref=order_ref, reason=reason))
    before_tier = account.tier
    recompute(uow, account)
    uow.audit(CLAWBACK, "loyalty_account", account.id, after={"points": -points, "order_ref": order_ref,
                                                              "reason": reason, "balance": account.balance})
    uow.emit(LoyaltyPointsChanged(account_id=account.id, customer_id=account.customer_id, program_id=program.id,
                                  kind=CLAWBACK, points=-points, balance=account.balance, tier=account.tier))
    if account.tier != before_tier:
        uow.emit(LoyaltyTierChanged(account_id=account.id, customer_id=account.customer_id, from_tier=before_tier,
                                    to=account.tier))


def apply_event_bonuses(uow: UnitOfWork, events: Iterable[tuple[int, str]]) -> None:
    """Bonus points for tracked events (review, signup...) configured on programs. Does not commit."""
    programs = [p for p in uow.session.scalars(sa.select(LoyaltyProgram).where(LoyaltyProgram.active.is_(True)))
                if p.bonus_events]
    if not programs:
        return
    for customer_id, etype in events:
        for program in programs:
            points = int((program.bonus_events or {}).get(etype, 0))
            if points > 0:
                _credit(uow, account_for(uow, program, customer_id), program, points, "bonus", reason=f"event {etype}")


def award(uow: UnitOfWork, customer_id: int, points: int, *, kind: str = "adjust", reason: str | None = None,
          program_code: str | None = None, order_ref: str | None = None) -> LoyaltyAccount:
    """Manual adjustment or referral reward. Negative adjustments consume points FIFO. Does not commit."""
    program = _program(uow, program_code)
    account = account_for(uow, program, customer_id)
    if points == 0:
        raise ValidationProblem.for_field("points", "must not be zero")
    if points > 0:
        _credit(uow, account, program, points, kind, reason=reason, order_ref=order_ref)
    else:
        _debit(uow, account, program, -points, "adjust", order_ref=order_ref, reason=reason)
    return account


def _debit(uow: UnitOfWork, account: LoyaltyAccount, program: LoyaltyProgram, points: int, kind: str, *,
           order_ref: str | None, reason: str | None = None) -> None:
    recompute(uow, account)
    if points > account.balance:
        raise ValidationProblem.for_field("points", f"the balance is {account.balance} points; {points} cannot be used")
    left = points
    credits = uow.session.scalars(sa.select(LoyaltyEntry).where(
        LoyaltyEntry.account_id == account.id, LoyaltyEntry.remaining > 0)
        .order_by(sa.case((LoyaltyEntry.expires_at.is_(None), 1), else_=0), LoyaltyEntry.expires_at, LoyaltyEntry.id)
        .with_for_update())
    for credit in credits:
        take = min(credit.remaining, left)
        credit.remaining -= take
        left -= take
        if left == 0:
            break
    uow.session.add(LoyaltyEntry(account_id=account.id, kind=kind, points=-points, remaining=0, order_ref=order_ref,
                                 reason=reason))
    recompute(uow, account)
    uow.audit(kind, "loyalty_account", account.id, after={"points": -points, "order_ref": order_ref})
    uow.emit(LoyaltyPointsChanged(account_id=account.id, customer_id=account.customer_id, program_id=program.id,
                                  kind=kind, points=-points, balance=account.balance, tier=account.tier))


def redeem_points(uow: UnitOfWork, customer_id: int, points: int, order_ref: str,
                  program_code: str | None = None) -> Money:
    """Spend points at checkout; returns the discount to apply to the order. Does not
    commit: the caller's order transaction does (so an order that fails keeps the points)."""
    if not isinstance(points, int) or points <= 0:
        raise ValidationProblem.for_field("points", "must be a positive whole number")
    program = _program(uow, program_code)
    account = uow.session.scalars(sa.select(LoyaltyAccount).where(
        LoyaltyAccount.program_id == program.id, LoyaltyAccount.customer_id == customer_id)).first()
    if account is None:
        raise ValidationProblem.for_field("points", "the customer has no points in this program")
    _debit(uow, account, program, points, "redeem", order_ref=order_ref)
    value = (Decimal(points) * Decimal(program.point_value)).quantize(Decimal(1).scaleb(-exponent(program.currency)),
                                                                      ROUND_HALF_UP)
    return Money(value, program.currency)


def expire_points(uow: UnitOfWork, as_of: dt.datetime | None = None) -> int:
    """Expire every unspent credit whose time is up. Returns the points expired. Does not commit."""
    as_of = as_of or utcnow()
    total = 0
    touched: dict[int, LoyaltyAccount] = {}
    for credit in uow.session.scalars(sa.select(LoyaltyEntry).where(
            LoyaltyEntry.remaining > 0, LoyaltyEntry.expires_at.is_not(None), LoyaltyEntry.expires_at <= as_of)):
        uow.session.add(LoyaltyEntry(account_id=credit.account_id, kind="expire", points=-credit.remaining, remaining=0,
                                     reason=f"entry {credit.id} expired"))
        total += credit.remaining
        credit.remaining = 0
        touched.setdefault(credit.account_id, uow.session.get(LoyaltyAccount, credit.account_id))
    for account in touched.values():
        recompute(uow, account)
        uow.audit("expire", "loyalty_account", account.id, after={"balance": account.balance})
    return total


# -- the use cases the API and the command line call: each scopes to what the caller may see and commits.
# A balance is read, checked and written in one transaction, so two concurrent changes of one
# account can deadlock on its credit rows (PostgreSQL): uow.run_in_transaction runs it again.


def redeem_for_customer(uow: UnitOfWork, customer_id: int, points: int, order_ref: str,
                        program_code: str | None = None) -> Money:
    """Spend a customer's points outside checkout (`POST /loyalty/redeem`); 404 for a customer
    the caller may not see."""

    def run() -> Money:
        customers.get_customer(uow, customer_id)
        discount = redeem_points(uow, customer_id, points, order_ref, program_code)
        _check_order_ref(uow, customer_id, order_ref)  # after the balance check: that answer comes first
        uow.commit()
        return discount

    return uow.run_in_transaction(run)


def _check_order_ref(uow: UnitOfWork, customer_id: int, order_ref: str) -> None:
    """The discount applies to an order: one of this customer's, by its number, not cancelled
    (a redemption against an order that does not exist was a discount applied to nothing)."""
    from merx.orders import public as orders

    found, _ = orders.list_orders(uow, q=order_ref, customer_id=customer_id, limit=20)
    if not any(o["number"] == order_ref.strip() and o["status"] != "cancelled" for o in found):
        raise ValidationProblem.for_field("order_ref", f"{order_ref} is not an open order of this customer",
                                          "unknown_order")


def adjust_points(uow: UnitOfWork, customer_id: int, points: int, *, reason: str | None = None,
                  program_code: str | None = None) -> list[dict[str, Any]]:
    """A manual adjustment (`POST /loyalty/adjust`); returns the customer's accounts after it."""

    def run() -> list[dict[str, Any]]:
        customers.get_customer(uow, customer_id)
        award(uow, customer_id, points, kind="adjust", reason=reason, program_code=program_code)
        uow.commit()
        return accounts_out(uow, customer_id)

    return uow.run_in_transaction(run)


def expire_due_points(uow: UnitOfWork, as_of: dt.datetime | None = None) -> int:
    """Expire every credit whose time is up and commit; returns the points expired."""

    def run() -> int:
        points = expire_points(uow, as_of)
        uow.commit()
        return points

    return uow.run_in_transaction(run)


def customer_loyalty(uow: UnitOfWork, customer_id: int) -> dict[str, Any]:
    """Accounts and ledger of a customer the caller may see (404 otherwise)."""
    customers.get_customer(uow, customer_id)
    return {"accounts": accounts_out(uow, customer_id), "ledger": ledger(uow, customer_id)}


def move_ledgers(uow: UnitOfWork, from_id: int, into_id: int) -> list[dict[str, Any]]:
    """Profile merge: every ledger entry of `from_id` moves to `into_id`'s account in the same
    program, so the survivor's balance is the sum of both. Returns what moved, for un-merge."""
    moved = []
    for account in list(uow.session.scalars(sa.select(LoyaltyAccount).where(LoyaltyAccount.customer_id == from_id))):
        program = uow.session.get(LoyaltyProgram, account.program_id)
        target = account_for(uow, program, into_id)
        entry_ids = list(uow.session.scalars(sa.select(LoyaltyEntry.id).where(LoyaltyEntry.account_id == account.id)))
        if entry_ids:
            uow.session.execute(sa.update(LoyaltyEntry).where(LoyaltyEntry.id.in_(entry_ids)).values(account_id=target.id))
        moved.append({"program_id": program.id, "from_account_id": account.id, "into_account_id": target.id,
                      "entries": entry_ids, "points": account.balance})
        recompute(uow, account)
        recompute(uow, target)
    return moved


def restore_ledgers(uow: UnitOfWork, moved: list[dict[str, Any]], customer_id: int, into_id: int) -> None:
    for item in moved:
        if item["entries"]:
            uow.session.execute(sa.update(LoyaltyEntry).where(LoyaltyEntry.id.in_(item["entries"]))
                                .values(account_id=item["from_account_id"]))
        for account_id in (item["from_account_id"], item["into_account_id"]):
            account = uow.session.get(LoyaltyAccount, account_id)
            if account is not None:
                recompute(uow, account)


def accounts_out(uow: UnitOfWork, customer_id: int) -> list[dict[str, Any]]:
    out = []
    for account, program in uow.session.execute(sa.select(LoyaltyAccount, LoyaltyProgram).join(
            LoyaltyProgram, LoyaltyProgram.id == LoyaltyAccount.program_id).where(LoyaltyAccount.customer_id == customer_id)
            .order_by(LoyaltyAccount.id)):
        tiers = program.tiers or []
        benefits = next((t.get("benefits", []) for t in tiers if t["name"] == account.tier), [])
        following = next((t for t in tiers if int(t["threshold"]) > account.lifetime_points), None)
        out.append({"program": program.code, "account_id": account.id, "balance": account.balance,
                    "lifetime_points": account.lifetime_points, "tier": account.tier, "benefits": benefits,
                    "next_tier": None if following is None else {"name": following["name"],
                                                                  "points_needed": int(following["threshold"]) - account.lifetime_points},
                    "balance_value": Money((Decimal(account.balance) * Decimal(program.point_value)).quantize(
                        Decimal(1).scaleb(-exponent(program.currency)), ROUND_HALF_UP), program.currency).as_dict()})
    return out


def ledger(uow: UnitOfWork, customer_id: int) -> list[dict[str, Any]]:
    rows = uow.session.execute(sa.select(LoyaltyEntry, LoyaltyProgram.code).join(
        LoyaltyAccount, LoyaltyAccount.id == LoyaltyEntry.account_id).join(
        LoyaltyProgram, LoyaltyProgram.id == LoyaltyAccount.program_id).where(LoyaltyAccount.customer_id == customer_id)
        .order_by(LoyaltyEntry.id)).all()
    return [{"id": e.id, "program": code, "kind": e.kind, "points": e.points, "remaining": e.remaining,
             "expires_at": e.expires_at, "order_ref": e.order_ref, "reason": e.reason, "at": e.created_at}
            for e, code in rows]
