"""The dealer network: a dealer is a B2B account that resells, with a tier, a territory and a
price list, active or kept in reserve for its territory. Dealers report their stock and sell-out
per SKU and month; a dealer holding more stock than its share (default 50%) of the month's
sell-out is flagged. Annual volume rebates in increasing steps are accrued monthly from the
ledger and settled once a year. A scorecard ranks dealers and marks the bottom performers.

Rebates are "all units" steps (as SAP's volume rebate agreements): once the year's volume
crosses a step, its rate applies to the whole year's volume, so the month a step is crossed
accrues the catch-up on the earlier months too. Settlement is recorded here with its reference;
the invoicing context issues credit notes only against an order's refund, so the rebate credit
is not (yet) an invoicing document."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from merx.core.auth import Role
from merx.core.db import utcnow
from merx.core.errors import Conflict, FieldError, Forbidden, NotFound, ValidationProblem
from merx.core.money import Money, MoneyError
from pydantic_core import to_jsonable_python

from merx.core.uow import UnitOfWork
from merx.sales import targets
from merx.sales.events import DealerChanged, RebateSettled
from merx.sales.models import Account, Dealer, DealerReport, LedgerLine, LedgerReturn, RebateAgreement
from merx.sales.scope import is_manager, load

DEFAULT_STOCK_SHARE = Decimal("0.5")


def _share(raw: Any, field: str) -> Decimal:
    try:
        d = Decimal(str(raw))
    except InvalidOperation:
        raise ValidationProblem.for_field(field, f"{raw!r} is not a number") from None
    if not d.is_finite() or not 0 < d <= 10:
        raise ValidationProblem.for_field(field, "must be a share above 0 (0.5 = half a month's sell-out)")
    return d


def dealer_out(uow: UnitOfWork, d: Dealer) -> dict[str, Any]:
    acc = uow.session.get(Account, d.account_id)
    return {"id": d.id, "account_id": d.account_id, "name": acc.name if acc else None, "tier": d.tier,
            "territory": d.territory, "price_list": d.price_list, "status": d.status,
            "stock_share_limit": format(d.stock_share_limit, "f"), "owner_user_id": d.owner_user_id,
            "created_at": d.created_at}


def _scoped(uow: UnitOfWork, stmt: sa.Select[Any]) -> sa.Select[Any]:
    """A rep sees the dealers of their own accounts, a dealer user only its own dealer (by the
    account whose buying customer it is bound to); managers all."""
    if is_manager(uow):
        return stmt
    if uow.actor.role == Role.sales_rep:
        return stmt.where(Dealer.owner_user_id == uow.actor.user_id)
    if uow.actor.role == Role.dealer and uow.actor.customer_id is not None:
        own = sa.select(Account.id).where(Account.customer_id == uow.actor.customer_id)
        return stmt.where(Dealer.account_id.in_(own))
    raise Forbidden("Only sales reps, staff and dealers work with dealers")


def _dealer(uow: UnitOfWork, dealer_id: int, *, for_update: bool = False) -> Dealer:
    stmt = _scoped(uow, sa.select(Dealer).where(Dealer.id == dealer_id))
    d = uow.session.scalar(stmt.with_for_update() if for_update else stmt)
    if d is None:
        raise NotFound(f"Dealer {dealer_id} does not exist")
    return d


def create_dealer(uow: UnitOfWork, data: Any) -> dict[str, Any]:
    if not is_manager(uow):
        raise Forbidden("Only sales managers (staff) appoint dealers")
    acc = load(uow, Account, data.account_id, "Account")
    if uow.session.scalar(sa.select(Dealer.id).where(Dealer.account_id == acc.id)):
        raise Conflict(f"account_id: account {acc.id} is already a dealer", type_slug="duplicate-dealer",
                       errors=[FieldError("account_id", "is already a dealer", "duplicate")])
    d = Dealer(account_id=acc.id, tier=data.tier, territory=data.territory, price_list=data.price_list or acc.customer_group,
               status=data.status, stock_share_limit=_share(data.stock_share_limit, "stock_share_limit"),
               owner_user_id=acc.owner_user_id)
    uow.session.add(d)
    uow.session.flush()
    uow.emit(DealerChanged(dealer_id=d.id, account_id=d.account_id, tier=d.tier, territory=d.territory, status=d.status))
    uow.audit("create", "sales_dealer", d.id, after=to_jsonable_python(dealer_out(uow, d)))
    uow.commit()
    return dealer_out(uow, d)


def update_dealer(uow: UnitOfWork, dealer_id: int, data: Any) -> dict[str, Any]:
    if not is_manager(uow):
        raise Forbidden("Only sales managers (staff) change dealers")
    d = _dealer(uow, dealer_id, for_update=True)
    before = dealer_out(uow, d)
    for f in ("tier", "territory", "price_list", "status"):
        if f in data.model_fields_set:
            setattr(d, f, getattr(data, f))
    if "stock_share_limit" in data.model_fields_set:
        d.stock_share_limit = _share(data.stock_share_limit, "stock_share_limit")
    uow.emit(DealerChanged(dealer_id=d.id, account_id=d.account_id, tier=d.tier, territory=d.territory, status=d.status))
    uow.audit("update", "sales_dealer", d.id, before=to_jsonable_python(before), after=to_jsonable_python(dealer_out(uow, d)))
    uow.commit()
    return dealer_out(uow, d)


def get_dealer(uow: UnitOfWork, dealer_id: int) -> dict[str, Any]:
    return dealer_out(uow, _dealer(uow, dealer_id))


def dealer_orders(uow: UnitOfWork, dealer_id: int, *, status: str | None = None, limit: int = 50,
                  cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """The orders of a dealer's B2B account, read through the orders context with the caller's
    own visibility: a dealer user its own account's orders (another dealer is 404), a rep the
    ones they placed, managers all."""
    from merx.orders import public as orders

    d = _dealer(uow, dealer_id)
    acc = uow.session.get(Account, d.account_id)
    if acc is None or acc.customer_id is None:
        return [], None
    return orders.list_orders(uow, status=status, customer_id=acc.customer_id, newest_first=True, limit=limit,
                              cursor=cursor)


def list_dealers(uow: UnitOfWork, *, territory: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
    stmt = _scoped(uow, sa.select(Dealer).order_by(Dealer.territory, Dealer.id))
    if territory:
        stmt = stmt.where(Dealer.territory == territory)
    if status:
        stmt = stmt.where(Dealer.status == status)
    return [dealer_out(uow, d) for d in uow.session.scalars(stmt.limit(5000))]


def reserves(uow: UnitOfWork) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per territory: its active dealers and its reserve dealers."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for d in list_dealers(uow):
        if d["status"] in ("active", "reserve"):
            out.setdefault(d["territory"], {"active": [], "reserve": []})[d["status"]].append(d)
    return out


# -- stock and sell-out reports -----------------------------------------------------------------------

def _month(text: str) -> dt.date:
    return dt.date(int(text[:4]), int(text[5:7]), 1)


def report_stock(uow: UnitOfWork, dealer_id: int, data: Any) -> dict[str, Any]:
    """A dealer's stock and sell-out for a month (a resent month replaces its SKUs' figures)."""
    d = _dealer(uow, dealer_id)
    month = _month(data.month)
    seen = set()
    for i, ln in enumerate(data.lines):
        if ln.sku in seen:
            raise ValidationProblem.for_field(f"lines[{i}].sku", f"{ln.sku} is listed twice")
        seen.add(ln.sku)
    s = uow.session
    s.execute(sa.delete(DealerReport).where(DealerReport.dealer_id == d.id, DealerReport.month == month,
                                            DealerReport.sku.in_(seen)))
    s.execute(sa.insert(DealerReport), [{"dealer_id": d.id, "month": month, "sku": ln.sku, "stock_units": ln.stock_units,
                                         "sell_out_units": ln.sell_out_units, "received_at": utcnow()}
                                        for ln in data.lines])
    uow.audit("report", "sales_dealer_stock", d.id, after={"month": data.month, "lines": len(data.lines)})
    uow.commit()
    return stock_health(uow, d.id, month)


def apply_report_row(uow: UnitOfWork, row: dict[str, Any]) -> str:
    """One row of a dealer's stock and sell-out file, already mapped by an integration connector
    (target `dealer_reports`: `dealer` as our dealer id or the account's tax id, `month` YYYY-MM,
    `sku`, `stock_units`, `sell_out_units`), in the caller's transaction (no commit): the same
    figures the API's report stores. Returns created, updated or unchanged; a refusal names the field."""
    ref = str(row.get("dealer") or "").strip()
    dealer_id = int(ref) if ref.isdigit() else uow.session.scalar(
        sa.select(Dealer.id).join(Account, Account.id == Dealer.account_id).where(Account.tax_id == ref))
    if not ref or dealer_id is None:
        raise ValidationProblem.for_field("dealer", f"no dealer {ref!r} (a dealer id or its account's tax id)",
                                          "unknown_dealer")
    try:
        d = _dealer(uow, dealer_id)
    except NotFound:
        raise ValidationProblem.for_field("dealer", f"no dealer {ref!r}", "unknown_dealer") from None
    text = str(row.get("month") or "").strip()
    if not (len(text) == 7 and text[4] == "-" and text[:4].isdigit() and text[5:].isdigit() and 1 <= int(text[5:]) <= 12):
        raise ValidationProblem.for_field("month", "must be a month as YYYY-MM")
    sku = str(row.get("sku") or "").strip()
    if not sku or len(sku) > 64:
        raise ValidationProblem.for_field("sku", "is required (at most 64 characters)")
    figures = {}
    for f in ("stock_units", "sell_out_units"):
        try:
            figures[f] = int(str(row.get(f)).strip())
        except ValueError:
            raise ValidationProblem.for_field(f, "must be a whole number") from None
        if not 0 <= figures[f] <= 10_000_000:
            raise ValidationProblem.for_field(f, "must be from 0 to 10000000")
    month = _month(text)
    current = uow.session.scalar(sa.select(DealerReport).where(DealerReport.dealer_id == d.id, DealerReport.month == month,
                                                                DealerReport.sku == sku))
    if current is None:
        uow.session.add(DealerReport(dealer_id=d.id, month=month, sku=sku, received_at=utcnow(), **figures))
        uow.session.flush()
        return "created"
    if (current.stock_units, current.sell_out_units) == (figures["stock_units"], figures["sell_out_units"]):
        return "unchanged"
    current.stock_units, current.sell_out_units, current.received_at = (figures["stock_units"],
                                                                        figures["sell_out_units"], utcnow())
    return "updated"


def stock_health(uow: UnitOfWork, dealer_id: int, month: dt.date) -> dict[str, Any]:
    d = _dealer(uow, dealer_id)
    rows = uow.session.execute(sa.select(sa.func.coalesce(sa.func.sum(DealerReport.stock_units), 0),
                                         sa.func.coalesce(sa.func.sum(DealerReport.sell_out_units), 0),
                                         sa.func.count()).where(DealerReport.dealer_id == d.id,
                                                                DealerReport.month == month)).one()
    stock, sell_out, n = int(rows[0]), int(rows[1]), int(rows[2])
    share = (Decimal(stock) / Decimal(sell_out)) if sell_out else None
    return {"dealer_id": d.id, "month": month.strftime("%Y-%m"), "reported": n > 0, "stock_units": stock,
            "sell_out_units": sell_out, "stock_share": None if share is None else str(round(share, 4)),
            "limit": format(d.stock_share_limit, "f"),
            "overstocked": n > 0 and (share is None and stock > 0 or share is not None and share > d.stock_share_limit)}


def overstocked(uow: UnitOfWork, month: dt.date) -> list[dict[str, Any]]:
    """Dealers whose reported stock exceeds their share of the month's sell-out."""
    return [h | {"name": d["name"]} for d in list_dealers(uow, status="active")
            if (h := stock_health(uow, d["id"], month))["overstocked"]]


# -- volume rebates --------------------------------------------------------------------------------------

def parse_steps(steps: list[Any], currency: str) -> list[tuple[int, Decimal]]:
    """[(threshold in minor units, rate)], both strictly increasing (refused otherwise)."""
    out: list[tuple[int, Decimal]] = []
    for i, s in enumerate(steps):
        try:
            threshold = Money.of(s.from_, currency).minor
        except MoneyError as e:
            raise ValidationProblem.for_field(f"steps[{i}].from", str(e)) from None
        try:
            rate = Decimal(str(s.rate))
        except InvalidOperation:
            raise ValidationProblem.for_field(f"steps[{i}].rate", f"{s.rate!r} is not a number") from None
        if not rate.is_finite() or not 0 < rate < 1:
            raise ValidationProblem.for_field(f"steps[{i}].rate", "must be a share between 0 and 1 (0.02 = 2%)")
        if out and threshold <= out[-1][0]:
            raise ValidationProblem.for_field(f"steps[{i}].from", f"steps must increase: {s.from_} is not above the "
                                              f"previous step's {Money.from_minor(out[-1][0], currency).amount}")
        if out and rate <= out[-1][1]:
            raise ValidationProblem.for_field(f"steps[{i}].rate", f"steps must increase: rate {rate} is not above the "
                                              f"previous step's {out[-1][1]}")
        out.append((threshold, rate))
    return out


def rate_for(steps: list[tuple[int, Decimal]], volume_minor: int) -> Decimal:
    rate = Decimal(0)
    for threshold, r in steps:
        if volume_minor >= threshold:
            rate = r
    return rate


def agreement_out(a: RebateAgreement) -> dict[str, Any]:
    return {"id": a.id, "dealer_id": a.dealer_id, "year": a.year, "currency": a.currency, "steps": a.steps,
            "settled": None if a.settled_minor is None else Money.from_minor(a.settled_minor, a.currency).as_dict(),
            "settled_at": a.settled_at, "settlement_ref": a.settlement_ref, "credit_note": a.credit_note_number}


def create_agreement(uow: UnitOfWork, data: Any) -> dict[str, Any]:
    if not is_manager(uow):
        raise Forbidden("Only sales managers (staff) agree rebates")
    d = _dealer(uow, data.dealer_id)
    parse_steps(data.steps, data.currency)
    if uow.session.scalar(sa.select(RebateAgreement.id).where(RebateAgreement.dealer_id == d.id,
                                                              RebateAgreement.year == data.year)):
        raise Conflict(f"dealer {d.id} already has a rebate agreement for {data.year}", type_slug="duplicate-agreement",
                       errors=[FieldError("year", "already has an agreement", "duplicate")])
    a = RebateAgreement(dealer_id=d.id, year=data.year, currency=data.currency,
                        steps=[{"from": str(s.from_), "rate": str(s.rate)} for s in data.steps])
    uow.session.add(a)
    uow.session.flush()
    uow.audit("create", "sales_rebate_agreement", a.id, after=to_jsonable_python(agreement_out(a)))
    uow.commit()
    return agreement_out(a)


class _Step:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.from_, self.rate = raw["from"], raw["rate"]


def net_volume_by_month(uow: UnitOfWork, account_id: int, year: int, currency: str) -> list[int]:
    """The account's net purchases (ledger revenue less returns) per month of `year`, minor units."""
    start, end = targets.at(dt.date(year, 1, 1)), targets.at(dt.date(year + 1, 1, 1))
    ll, lr = LedgerLine, LedgerReturn
    months = [0] * 12
    for placed_at, rev in uow.session.execute(sa.select(ll.placed_at, ll.revenue_minor).where(
            ll.account_id == account_id, ll.currency == currency, ll.cancelled.is_(False),
            ll.placed_at >= start, ll.placed_at < end)):
        months[placed_at.month - 1] += int(rev)
    for returned_at, value in uow.session.execute(sa.select(lr.returned_at, lr.value_minor).join(
            ll, sa.and_(ll.order_id == lr.order_id, ll.line_no == lr.line_no)).where(
            ll.account_id == account_id, ll.currency == currency, ll.cancelled.is_(False),
            lr.returned_at >= start, lr.returned_at < end)):
        months[returned_at.month - 1] -= int(value)
    return months


def accrual(uow: UnitOfWork, agreement_id: int) -> dict[str, Any]:
    """Month by month: the volume, the year-to-date volume, the step reached, the rebate earned
    to date and the month's accrual (the change; a step crossed accrues its catch-up)."""
    a = uow.session.get(RebateAgreement, agreement_id)
    if a is None:
        raise NotFound(f"Rebate agreement {agreement_id} does not exist")
    d = _dealer(uow, a.dealer_id)
    steps = parse_steps([_Step(s) for s in a.steps], a.currency)
    volumes = net_volume_by_month(uow, d.account_id, a.year, a.currency)
    months, ytd, accrued_before = [], 0, 0
    for m, v in enumerate(volumes, start=1):
        ytd += v
        rate = rate_for(steps, ytd)
        earned = int((Decimal(max(ytd, 0)) * rate).quantize(Decimal(1), ROUND_HALF_EVEN))
        months.append({"month": f"{a.year}-{m:02d}", "volume": Money.from_minor(v, a.currency).as_dict()["amount"],
                       "ytd_volume": Money.from_minor(ytd, a.currency).as_dict()["amount"], "rate": format(rate, "f"),
                       "earned_to_date": Money.from_minor(earned, a.currency).as_dict()["amount"],
                       "accrual": Money.from_minor(earned - accrued_before, a.currency).as_dict()["amount"]})
        accrued_before = earned
    return agreement_out(a) | {"months": months,
                               "total": Money.from_minor(accrued_before, a.currency).as_dict(),
                               "volume": Money.from_minor(ytd, a.currency).as_dict()}


def settle(uow: UnitOfWork, agreement_id: int, now: dt.datetime | None = None) -> dict[str, Any]:
    """Settle a finished year's rebate once: the credit is the accrual over the whole year."""
    if not is_manager(uow):
        raise Forbidden("Only sales managers (staff) settle rebates")
    now = now or utcnow()
    a = uow.session.scalar(sa.select(RebateAgreement).where(RebateAgreement.id == agreement_id).with_for_update())
    if a is None:
        raise NotFound(f"Rebate agreement {agreement_id} does not exist")
    if a.settled_at is not None:
        raise Conflict(f"The {a.year} rebate is already settled ({a.settlement_ref})", type_slug="rebate-settled")
    if now < targets.at(dt.date(a.year + 1, 1, 1)):
        raise Conflict(f"The {a.year} rebate is settled after the year ends", type_slug="rebate-year-open")
    figures = accrual(uow, a.id)
    d = _dealer(uow, a.dealer_id)
    total = Money.of(figures["total"]["amount"], a.currency)
    a.settled_minor, a.settled_at = total.minor, now
    a.settlement_ref = f"REB-{a.year}-{d.id:05d}"
    a.credit_note_number = _credit_note(uow, a, d, total)
    uow.emit(RebateSettled(agreement_id=a.id, dealer_id=d.id, account_id=d.account_id, year=a.year,
                           volume=Money.of(figures["volume"]["amount"], a.currency, allow_negative=True), amount=total,
                           reference=a.settlement_ref))
    uow.audit("settle", "sales_rebate_agreement", a.id, after=to_jsonable_python(agreement_out(a)))
    uow.commit()
    return agreement_out(a)


def _credit_note(uow: UnitOfWork, a: RebateAgreement, d: Dealer, total: Money) -> str | None:
    """The settlement's credit note, issued by invoicing in this transaction (its `source` makes
    a second settlement attempt get the same note, never a second one); None for no rebate."""
    from merx.invoicing import public as invoicing

    acc = uow.session.get(Account, d.account_id)
    if acc is None or acc.customer_id is None:
        raise Conflict(f"Dealer {d.id}'s account has no buying customer to credit", type_slug="rebate-no-customer")
    addresses = list(acc.addresses or [])
    billing = next((x for x in addresses if x.get("kind") == "billing"), addresses[0] if addresses else {})
    note = invoicing.issue_account_credit_note(
        uow, customer_id=acc.customer_id, currency=a.currency, amount_minor=total.minor, reference=a.settlement_ref or "",
        source=f"rebate:{a.id}", reason=f"Volume rebate {a.year}", basis_from=dt.date(a.year, 1, 1),
        basis_to=dt.date(a.year + 1, 1, 1),  # the tax split follows the year's invoices
        buyer={"name": acc.name, "vat_id": acc.tax_id, "address": ", ".join(
            str(billing[k]) for k in ("line1", "line2", "postal_code", "city", "country") if billing.get(k))})
    return note.number if note else None


def list_agreements(uow: UnitOfWork, *, dealer_id: int | None = None) -> list[dict[str, Any]]:
    visible = {d["id"] for d in list_dealers(uow)}
    stmt = sa.select(RebateAgreement).order_by(RebateAgreement.year.desc(), RebateAgreement.id)
    if dealer_id is not None:
        stmt = stmt.where(RebateAgreement.dealer_id == dealer_id)
    return [agreement_out(a) for a in uow.session.scalars(stmt) if a.dealer_id in visible]


# -- scorecard ----------------------------------------------------------------------------------------------

SCORE_WEIGHTS = {"volume": 30, "growth": 20, "margin": 20, "payment": 15, "stock": 15}


def _rank_points(values: dict[int, float | None], higher_is_better: bool = True) -> dict[int, float]:
    """Points 0..1 by rank among the dealers with a figure (none: 0.5, neither good nor bad)."""
    known = sorted((v, k) for k, v in values.items() if v is not None)
    out = {k: 0.5 for k in values}
    if len(known) == 1:
        out[known[0][1]] = 1.0
    for i, (_v, k) in enumerate(known if higher_is_better else list(reversed(known))):
        if len(known) > 1:
            out[k] = i / (len(known) - 1)
    return out


def scorecard(uow: UnitOfWork, year: int, currency: str, *, bottom: int = 3) -> dict[str, Any]:
    """Active dealers ranked by volume (net purchases of the year), growth on the year before,
    margin (known costs), payment behaviour (share of the year's revenue paid within 30 days) and
    stock health (latest reported stock against a month's sell-out: lower is better). Each part
    gives rank points 0..1 times its weight; the lowest `bottom` (of more than `bottom`) are
    marked for replacement, with their reserve dealers named."""
    ds = [d for d in list_dealers(uow) if d["status"] == "active"]
    start, end = targets.at(dt.date(year, 1, 1)), targets.at(dt.date(year + 1, 1, 1))
    ll = LedgerLine
    volume, growth, margin, payment, stock = {}, {}, {}, {}, {}
    for d in ds:
        now_v = sum(net_volume_by_month(uow, d["account_id"], year, currency))
        before = sum(net_volume_by_month(uow, d["account_id"], year - 1, currency))
        volume[d["id"]] = float(now_v)
        growth[d["id"]] = float((now_v - before) / before) if before > 0 else None
        known = ll.unit_cost_minor.is_not(None)
        rev, prof, paid30 = uow.session.execute(sa.select(
            sa.func.coalesce(sa.func.sum(sa.case((known, ll.revenue_minor), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((known, ll.revenue_minor - ll.unit_cost_minor * ll.quantity),
                                                 else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((ll.paid_at.is_not(None), ll.revenue_minor), else_=0)), 0))
            .where(ll.account_id == d["account_id"], ll.currency == currency, ll.cancelled.is_(False),
                   ll.placed_at >= start, ll.placed_at < end)).one()
        margin[d["id"]] = float(prof) / float(rev) if rev else None
        lines = uow.session.execute(sa.select(ll.placed_at, ll.paid_at, ll.revenue_minor).where(
            ll.account_id == d["account_id"], ll.currency == currency, ll.cancelled.is_(False),
            ll.placed_at >= start, ll.placed_at < end)).all()
        total = sum(r[2] for r in lines)
        on_time = sum(r[2] for r in lines if r[1] is not None and (r[1] - r[0]).days <= 30)
        payment[d["id"]] = on_time / total if total else None
        last = uow.session.scalar(sa.select(sa.func.max(DealerReport.month)).where(DealerReport.dealer_id == d["id"]))
        share = stock_health(uow, d["id"], last)["stock_share"] if last else None
        stock[d["id"]] = float(share) if share is not None else None
    parts = {"volume": _rank_points(volume), "growth": _rank_points(growth), "margin": _rank_points(margin),
             "payment": _rank_points(payment), "stock": _rank_points(stock, higher_is_better=False)}
    reserve = reserves(uow)
    rows = []
    for d in ds:
        score = sum(SCORE_WEIGHTS[k] * parts[k][d["id"]] for k in SCORE_WEIGHTS)
        rows.append({"dealer_id": d["id"], "name": d["name"], "territory": d["territory"], "score": round(score, 1),
                     "volume": Money.from_minor(int(volume[d["id"]]), currency).as_dict()["amount"],
                     "growth": None if growth[d["id"]] is None else round(growth[d["id"]], 4),
                     "margin": None if margin[d["id"]] is None else round(margin[d["id"]], 4),
                     "paid_within_30_days": None if payment[d["id"]] is None else round(payment[d["id"]], 4),
                     "stock_share": stock[d["id"]],
                     "points": {k: round(SCORE_WEIGHTS[k] * parts[k][d["id"]], 1) for k in SCORE_WEIGHTS}})
    rows.sort(key=lambda r: (r["score"], r["dealer_id"]))
    for i, r in enumerate(rows):
        r["replace"] = len(rows) > bottom and i < bottom
        r["reserves"] = [x["name"] for x in reserve.get(r["territory"], {}).get("reserve", [])] if r["replace"] else []
    return {"year": year, "currency": currency, "weights": SCORE_WEIGHTS, "dealers": rows}


# -- slow movers: returns and exchanges under a policy ------------------------------------------------------

def slow_mover_returns(uow: UnitOfWork, dealer_id: int, data: Any, now: dt.datetime | None = None) -> dict[str, Any]:
    """Which of a dealer's slow movers it may send back (or exchange) under the policy: a line is
    accepted when the goods are at least `min_age_days` old and the dealer's returns of that SKU
    stay within `max_share` of what it bought of it in the last 12 months (from the ledger, less
    what it already returned). A decision, not the return itself: accepted lines go back through
    the orders context's returns of the dealer's orders."""
    d = _dealer(uow, dealer_id)
    now = now or utcnow()
    since = now - dt.timedelta(days=365)
    ll, lr = LedgerLine, LedgerReturn
    skus = [ln.sku for ln in data.lines]
    bought = dict(uow.session.execute(sa.select(ll.sku, sa.func.sum(ll.quantity)).where(
        ll.account_id == d.account_id, ll.cancelled.is_(False), ll.placed_at >= since, ll.placed_at < now,
        ll.sku.in_(skus))
        .group_by(ll.sku)).all())
    back = dict(uow.session.execute(sa.select(ll.sku, sa.func.sum(lr.quantity)).join(
        ll, sa.and_(ll.order_id == lr.order_id, ll.line_no == lr.line_no)).where(
        ll.account_id == d.account_id, lr.returned_at >= since, lr.returned_at < now, ll.sku.in_(skus))
        .group_by(ll.sku)).all())
    max_share = _share(data.max_share, "max_share")
    out = []
    for ln in data.lines:
        purchased, returned = int(bought.get(ln.sku, 0)), int(back.get(ln.sku, 0))
        allowance = int(purchased * max_share) - returned
        reasons = []
        if ln.age_days < data.min_age_days:
            reasons.append(f"only {ln.age_days} days old; slow movers are taken back from {data.min_age_days} days")
        if ln.quantity > allowance:
            reasons.append(f"{ln.quantity} units exceed the allowance of {max(allowance, 0)} "
                           f"({max_share} of {purchased} bought in 12 months, {returned} already returned)")
        out.append({"sku": ln.sku, "quantity": ln.quantity, "kind": data.kind, "accepted": not reasons,
                    "purchased_12m": purchased, "returned_12m": returned, "allowance": max(allowance, 0),
                    "reasons": reasons})
    uow.audit("check", "sales_dealer_slow_movers", d.id, after={"lines": len(out),
                                                                "accepted": sum(1 for x in out if x["accepted"])})
    return {"dealer_id": d.id, "policy": {"max_share": format(max_share, "f"), "min_age_days": data.min_age_days},
            "lines": out}
