"""The pipeline: deals moving through configurable stages (rules.DEFAULT_STAGES until staff set
their own), the stage history (time in stage, conversion between stages), and the weighted
pipeline and forecast by month."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.errors import Conflict, FieldError, ValidationProblem
from merx.core.money import Money
from merx.core.pagination import check_limit, paginate
from merx.core.schemas import MoneyOut, Page
from merx.core.uow import UnitOfWork
from merx.sales import rules
from merx.sales.events import DealCreated, DealStageChanged, DealUpdated
from merx.sales.models import Account, Deal, Stage, StageChange
from merx.sales.schemas import (DealCreate, DealMove, DealOut, DealPatch, ForecastMonth, PipelineReport, StageChangeOut,
                                StageConversion, StageOut, StagesIn)
from merx.sales.scope import is_manager, load, owner_for_new, scoped


def stages(uow: UnitOfWork) -> list[rules.StageDef]:
    rows = uow.session.scalars(sa.select(Stage).order_by(Stage.position)).all()
    if not rows:
        return list(rules.DEFAULT_STAGES)
    return [rules.StageDef(r.code, r.name, r.position, Decimal(r.probability), r.kind) for r in rows]


def stages_out(uow: UnitOfWork) -> list[StageOut]:
    return [StageOut(code=s.code, name=s.name, position=s.position, probability=str(s.probability), kind=s.kind)
            for s in stages(uow)]


def set_stages(uow: UnitOfWork, data: StagesIn) -> list[StageOut]:
    """Replace the stage list. It needs open stages, exactly one won and one lost stage, and must
    keep every stage an open deal is in."""
    codes = [s.code for s in data.stages]
    if len(set(codes)) != len(codes):
        raise ValidationProblem.for_field("stages", "stage codes must be unique")
    kinds = [s.kind for s in data.stages]
    if kinds.count("won") != 1 or kinds.count("lost") != 1 or "open" not in kinds:
        raise ValidationProblem.for_field("stages", "needs open stages, exactly one won and exactly one lost stage")
    used = set(uow.session.scalars(sa.select(Deal.stage).distinct()))
    missing = sorted(used - set(codes))
    if missing:
        raise Conflict(f"stages: deals are in {', '.join(missing)}; keep those stages", type_slug="stage-in-use",
                       errors=[FieldError("stages", f"{m} has deals", "in_use") for m in missing])
    uow.session.execute(sa.delete(Stage))
    for i, s in enumerate(data.stages, start=1):
        uow.session.add(Stage(code=s.code, name=s.name, position=i, probability=s.probability, kind=s.kind))
    uow.audit("set", "sales_stages", "pipeline", after={"stages": codes})
    uow.session.flush()
    out = stages_out(uow)
    uow.commit()
    return out


def deal_out(uow: UnitOfWork, d: Deal, *, history: bool = False, by_code: dict[str, rules.StageDef] | None = None) -> DealOut:
    by_code = by_code or {s.code: s for s in stages(uow)}
    prob = by_code[d.stage].probability if d.stage in by_code else Decimal(0)
    amount = Money.from_minor(d.amount_minor, d.currency)
    hist = []
    if history:
        hist = [StageChangeOut(from_stage=h.from_stage, to_stage=h.to_stage, at=h.at,
                               seconds_in_previous=h.seconds_in_previous)
                for h in uow.session.scalars(sa.select(StageChange).where(StageChange.deal_id == d.id)
                                             .order_by(StageChange.id))]
    return DealOut(id=d.id, title=d.title, account_id=d.account_id, lead_id=d.lead_id, owner_user_id=d.owner_user_id,
                   stage=d.stage, probability=str(prob), amount=MoneyOut.of(amount),
                   weighted=MoneyOut.of(Money(rules.weighted(amount.amount, prob), d.currency)),
                   expected_close=d.expected_close, lost_reason=d.lost_reason, stage_entered_at=d.stage_entered_at,
                   version=d.version, history=hist)


def create_deal(uow: UnitOfWork, data: DealCreate, *, lead_id: int | None = None, commit: bool = True) -> DealOut:
    account = load(uow, Account, data.account_id, "Account")
    owner = owner_for_new(uow, data.owner_user_id) if data.owner_user_id is not None or not is_manager(uow) \
        else account.owner_user_id
    known = stages(uow)
    first_open = min((s for s in known if s.kind == "open"), key=lambda s: s.position)
    stage = data.stage or first_open.code
    by_code = {s.code: s for s in known}
    if stage not in by_code or by_code[stage].kind != "open":
        raise ValidationProblem.for_field("stage", f"a new deal starts in an open stage "
                                                   f"({', '.join(s.code for s in known if s.kind == 'open')})")
    money = data.amount.to_money()
    if money.currency != account.currency:
        raise ValidationProblem.for_field("amount.currency", f"must be the account's currency {account.currency}")
    now = utcnow()
    deal = Deal(title=data.title, account_id=account.id, lead_id=lead_id, owner_user_id=owner, stage=stage,
                amount_minor=money.minor, currency=money.currency, expected_close=data.expected_close,
                stage_entered_at=now, version=1, created_at=now)
    uow.session.add(deal)
    uow.session.flush()
    uow.session.add(StageChange(deal_id=deal.id, from_stage=None, to_stage=stage, at=now, user_id=uow.actor.user_id))
    uow.emit(DealCreated(deal_id=deal.id, account_id=account.id, owner_user_id=owner, stage=stage, amount=money),
             version=1)
    uow.audit("create", "sales_deal", deal.id, after={"stage": stage, "amount": str(money.amount)})
    uow.created("sales_deal", deal.id)
    out = deal_out(uow, deal, by_code=by_code)
    if commit:
        uow.commit()
    return out


def _check_version(deal: Deal, seen: int | None) -> None:
    if seen is not None and seen != deal.version:
        raise Conflict(f"Deal {deal.id} changed meanwhile (version {deal.version}, you saw {seen}); reload",
                       type_slug="stale-version")


def _apply_move(uow: UnitOfWork, deal: Deal, stage: str, lost_reason: str | None, now: dt.datetime) -> None:
    """Move `deal` to `stage` if the pipeline allows it (409 naming the field otherwise), with its
    history row, event and audit entry; the caller commits."""
    known = stages(uow)
    problem = rules.move_problem(known, deal.stage, stage, lost_reason)
    if problem:
        field = "lost_reason" if "lost_reason" in problem else "stage"
        raise Conflict(f"{field}: {problem}", type_slug="invalid-stage-move",
                       errors=[FieldError(field, problem, "invalid_move")])
    seconds = max(0, int((now - deal.stage_entered_at).total_seconds()))
    before = deal.stage
    kind = {s.code: s.kind for s in known}[stage]
    deal.stage, deal.stage_entered_at = stage, now
    deal.lost_reason = lost_reason if kind == "lost" else None
    deal.closed_at = now if kind != "open" else None
    deal.version += 1
    uow.session.add(StageChange(deal_id=deal.id, from_stage=before, to_stage=stage, at=now,
                                seconds_in_previous=seconds, user_id=uow.actor.user_id))
    uow.emit(DealStageChanged(deal_id=deal.id, account_id=deal.account_id, owner_user_id=deal.owner_user_id,
                              from_stage=before, to_stage=stage, lost_reason=deal.lost_reason,
                              seconds_in_previous=seconds), version=deal.version)
    uow.audit("move", "sales_deal", deal.id, before={"stage": before}, after={"stage": stage})


def move_deal(uow: UnitOfWork, deal_id: int, data: DealMove, *, now: dt.datetime | None = None) -> DealOut:
    deal = load(uow, Deal, deal_id, "Deal", for_update=True)
    _check_version(deal, data.version)
    _apply_move(uow, deal, data.stage, data.lost_reason, now or utcnow())
    uow.session.flush()
    out = deal_out(uow, deal, history=True)
    uow.commit()
    return out


def update_deal(uow: UnitOfWork, deal_id: int, data: DealPatch, *, now: dt.datetime | None = None) -> DealOut:
    """Change a deal's title, amount (in its currency), expected close date, owner and stage. A rep
    sees only their own deals (another's is a 404) and may not hand one to someone else (403
    naming `owner_user_id`); staff give a deal to any active rep or staff member. A stage change
    follows the pipeline's moves, as `move_deal`."""
    deal = load(uow, Deal, deal_id, "Deal", for_update=True)
    _check_version(deal, data.version)
    sent = data.model_dump(exclude_unset=True)
    before = {"title": deal.title, "amount": str(Money.from_minor(deal.amount_minor, deal.currency).amount),
              "expected_close": deal.expected_close.isoformat() if deal.expected_close else None,
              "owner_user_id": deal.owner_user_id}
    if sent.get("title") is not None:
        deal.title = data.title  # type: ignore[assignment]
    if data.amount is not None:
        money = data.amount.to_money()
        if money.currency != deal.currency:
            raise ValidationProblem.for_field("amount.currency", f"must be the deal's currency {deal.currency}")
        deal.amount_minor = money.minor
    if "expected_close" in sent:
        deal.expected_close = data.expected_close
    if data.owner_user_id is not None and data.owner_user_id != deal.owner_user_id:
        deal.owner_user_id = owner_for_new(uow, data.owner_user_id)
    after = {"title": deal.title, "amount": str(Money.from_minor(deal.amount_minor, deal.currency).amount),
             "expected_close": deal.expected_close.isoformat() if deal.expected_close else None,
             "owner_user_id": deal.owner_user_id}
    changed = sorted(k for k in after if after[k] != before[k])
    if changed:
        deal.version += 1
        uow.emit(DealUpdated(deal_id=deal.id, account_id=deal.account_id, owner_user_id=deal.owner_user_id,
                             changes=changed), version=deal.version)
        uow.audit("update", "sales_deal", deal.id, before={k: before[k] for k in changed},
                  after={k: after[k] for k in changed})
    if data.stage is not None and data.stage != deal.stage:
        _apply_move(uow, deal, data.stage, data.lost_reason, now or utcnow())
    uow.session.flush()
    out = deal_out(uow, deal, history=True)
    uow.commit()
    return out


def get_deal(uow: UnitOfWork, deal_id: int) -> DealOut:
    return deal_out(uow, load(uow, Deal, deal_id, "Deal"), history=True)


def deals_stmt(uow: UnitOfWork, *, stage: str | None = None, account_id: int | None = None) -> sa.Select[Any]:
    stmt = scoped(uow, sa.select(Deal), Deal)
    if stage:
        stmt = stmt.where(Deal.stage == stage)
    if account_id is not None:
        stmt = stmt.where(Deal.account_id == account_id)
    return stmt


def list_deals(uow: UnitOfWork, *, stage: str | None = None, account_id: int | None = None,
               limit: int | None = None, cursor: str | None = None) -> Page[DealOut]:
    by_code = {s.code: s for s in stages(uow)}
    items, nxt = paginate(uow.session, deals_stmt(uow, stage=stage, account_id=account_id), Deal.id,
                          limit=check_limit(limit, 50, 500), cursor=cursor,
                          convert=lambda d: deal_out(uow, d, by_code=by_code))
    return Page(items=items, next_cursor=nxt)


def pipeline_report(uow: UnitOfWork, *, currency: str | None = None) -> PipelineReport:
    """Open pipeline and weighted value per stage, the forecast by expected close month, and per
    stage how many deals entered it, how many moved on to a later open or won stage, and the
    average days spent in it (from the stage history) - over the deals the caller sees."""
    currency = currency or uow.settings.default_currency
    known = stages(uow)
    by_code = {s.code: s for s in known}
    deals = uow.session.scalars(deals_stmt(uow).where(Deal.currency == currency)).all()
    by_stage = []
    for s in known:
        in_stage = [d for d in deals if d.stage == s.code]
        total = sum((Money.from_minor(d.amount_minor, currency).amount for d in in_stage), Decimal(0))
        by_stage.append({"stage": s.code, "name": s.name, "kind": s.kind, "probability": str(s.probability),
                         "deals": len(in_stage), "amount": str(total),
                         "weighted": str(rules.weighted(total, s.probability))})
    forecast = rules.forecast_by_month(
        (d.expected_close, Money.from_minor(d.amount_minor, currency).amount, by_code[d.stage].probability)
        for d in deals if d.stage in by_code and by_code[d.stage].kind == "open")
    ids = [d.id for d in deals]
    history = uow.session.scalars(sa.select(StageChange).where(StageChange.deal_id.in_(ids))
                                  .order_by(StageChange.deal_id, StageChange.id)).all() if ids else []
    entered: dict[str, int] = {}
    moved_on: dict[str, int] = {}
    seconds: dict[str, list[int]] = {}
    pos = {s.code: s.position for s in known}
    for h in history:
        entered[h.to_stage] = entered.get(h.to_stage, 0) + 1
        if h.from_stage is not None:
            if h.seconds_in_previous is not None:
                seconds.setdefault(h.from_stage, []).append(h.seconds_in_previous)
            if by_code.get(h.to_stage) and by_code[h.to_stage].kind != "lost" and \
                    pos.get(h.to_stage, 0) > pos.get(h.from_stage, 0):
                moved_on[h.from_stage] = moved_on.get(h.from_stage, 0) + 1
    conversion = []
    for s in known:
        if s.kind != "open":
            continue
        n, m = entered.get(s.code, 0), moved_on.get(s.code, 0)
        secs = seconds.get(s.code)
        conversion.append(StageConversion(
            stage=s.code, entered=n, moved_on=m,
            conversion_percent=str((Decimal(m) * 100 / n).quantize(Decimal("0.1"))) if n else None,
            avg_days_in_stage=str((Decimal(sum(secs)) / len(secs) / 86400).quantize(Decimal("0.1"))) if secs else None))
    return PipelineReport(currency=currency, by_stage=by_stage,
                          forecast=[ForecastMonth(month=k, pipeline=str(v["pipeline"]), weighted=str(v["weighted"]))
                                    for k, v in forecast.items()], conversion=conversion)
