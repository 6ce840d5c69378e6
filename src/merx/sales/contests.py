"""Sales contests: reps ranked on one KPI over a period, with prizes per rank.

Standings come from the same KPI code as the monthly leaderboard (`kpis.metric`), over the
contest's own period. When the period is over, the standings are frozen once (`finalise`, run by
the daily job `sales.contests_daily` or by a manager) with the winners and their prizes: a return
or a late payment after that does not move a prize already announced. Ties share a rank (1, 1, 3)
and each tied rep gets that rank's prize.

Who sees what: managers (staff, admin) create contests and see them all; a rep sees the contests
they take part in (every rep for scope "all", the listed members for "team") and their standings,
a contest's standings being shared by its participants by design; others' contests are 404."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from pydantic_core import to_jsonable_python

from merx.core import accounts
from merx.core.auth import Role
from merx.core.db import utcnow
from merx.core.errors import Forbidden, NotFound, ValidationProblem
from merx.core.money import Money
from merx.core.uow import UnitOfWork
from merx.sales import kpis, targets
from merx.sales.models import Contest
from merx.sales.scope import is_manager

MONEY_METRICS = ("revenue", "margin")


def _start(c: Contest) -> dt.datetime:
    return targets.at(c.period_start)


def _end(c: Contest) -> dt.datetime:
    return targets.at(c.period_end)


def participants(uow: UnitOfWork, c: Contest) -> list[int]:
    """The reps in the contest: the listed team, or every active sales rep."""
    if c.scope == "team":
        return sorted(int(m) for m in c.members or [])
    return [uid for uid, _name in accounts.active_users(uow, Role.sales_rep)]


def _show(c: Contest, value: Any) -> Any:
    if value is None:
        return None
    if c.metric in MONEY_METRICS:
        return Money.from_minor(int(value), c.currency).as_dict()["amount"]
    return value


def _prize_out(c: Contest, p: dict[str, Any]) -> dict[str, Any]:
    amount = p.get("amount_minor")
    return {"rank": p["rank"], "text": p["text"],
            "amount": None if amount is None else Money.from_minor(int(amount), p.get("currency") or c.currency).as_dict()}


def compute_standings(uow: UnitOfWork, c: Contest) -> list[dict[str, Any]]:
    """Each participant's figure over the period (to now while it runs), ranked best first; a
    rep with no figure (win rate with no decided quote) ranks last. Ties share a rank."""
    start, end = _start(c), _end(c)
    reps = participants(uow, c)
    names = accounts.user_names(uow, reps)
    values = {r: kpis.metric(uow, c.metric, r, start, end, c.currency) for r in reps}
    order = sorted(reps, key=lambda r: (values[r] is None, -(Decimal(str(values[r])) if values[r] is not None else 0), r))
    prizes = {int(p["rank"]): p for p in c.prizes or []}
    rows: list[dict[str, Any]] = []
    for i, r in enumerate(order):
        rank = i + 1
        if rows and values[r] is not None and values[r] == values[order[i - 1]]:
            rank = rows[-1]["rank"]
        prize = prizes.get(rank) if values[r] is not None else None
        rows.append({"rank": rank, "rep_user_id": r, "name": names.get(r), "value": _show(c, values[r]),
                     "prize": _prize_out(c, prize) if prize else None})
    return rows


def contest_out(uow: UnitOfWork, c: Contest, *, with_standings: bool = True, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    state = c.status if c.status == "final" else ("ended" if now >= _end(c) else
                                                  "running" if now >= _start(c) else "upcoming")
    out: dict[str, Any] = {
        "id": c.id, "name": c.name, "metric": c.metric, "period_start": c.period_start.isoformat(),
        "period_end": c.period_end.isoformat(), "scope": c.scope, "members": list(c.members or []),
        "currency": c.currency, "prizes": [_prize_out(c, p) for p in c.prizes or []], "status": state,
        "finalised_at": c.finalised_at.isoformat() if c.finalised_at else None}
    if with_standings:
        # frozen standings once final; live (provisional) ones before, also between the end and the freeze
        out["standings"] = c.standings if c.status == "final" else compute_standings(uow, c)
        out["winners"] = [s for s in out["standings"] if s["prize"] is not None]
    return out


def _visible(uow: UnitOfWork, c: Contest | None, contest_id: int) -> Contest:
    if c is None or (not is_manager(uow) and (uow.actor.role != Role.sales_rep or
                                              (c.scope == "team" and uow.actor.user_id not in (c.members or [])))):
        raise NotFound(f"Contest {contest_id} does not exist")
    return c


def create_contest(uow: UnitOfWork, data: Any) -> dict[str, Any]:
    if not is_manager(uow):
        raise Forbidden("Only sales managers (staff) create contests")
    if data.period_end <= data.period_start:
        raise ValidationProblem.for_field("period_end", "must be after period_start")
    currency = data.currency or uow.settings.default_currency
    members = sorted(set(data.members))
    if data.scope == "team":
        if not members:
            raise ValidationProblem.for_field("members", "a team contest names its reps", "required")
        for m in members:
            if accounts.user_role(uow, m) != Role.sales_rep:
                raise ValidationProblem.for_field("members", f"user {m} is not an active sales rep")
    elif members:
        raise ValidationProblem.for_field("members", "only a team contest lists members")
    ranks = [p.rank for p in data.prizes]
    if len(set(ranks)) != len(ranks):
        raise ValidationProblem.for_field("prizes", "one prize per rank")
    prizes = []
    for i, p in enumerate(sorted(data.prizes, key=lambda p: p.rank)):
        row: dict[str, Any] = {"rank": p.rank, "text": p.text}
        if p.amount is not None:
            money = Money.of(p.amount.amount, p.amount.currency)
            row.update(amount_minor=money.minor, currency=money.currency)
        prizes.append(row)
    c = Contest(name=data.name, metric=data.metric, period_start=data.period_start, period_end=data.period_end,
                scope=data.scope, members=members, currency=currency, prizes=prizes, status="open",
                created_by=uow.actor.user_id)
    uow.session.add(c)
    uow.session.flush()
    out = contest_out(uow, c, with_standings=False)
    uow.audit("create", "sales_contest", c.id, after=to_jsonable_python(out))
    uow.commit()
    return out


def list_contests(uow: UnitOfWork, *, status: str | None = None) -> list[dict[str, Any]]:
    rows = uow.session.scalars(sa.select(Contest).order_by(Contest.period_start.desc(), Contest.id)).all()
    out = []
    for c in rows:
        try:
            _visible(uow, c, c.id)
        except NotFound:
            continue
        item = contest_out(uow, c, with_standings=False)
        if status is None or item["status"] == status:
            out.append(item)
    return out


def get_contest(uow: UnitOfWork, contest_id: int) -> dict[str, Any]:
    c = _visible(uow, uow.session.get(Contest, contest_id), contest_id)
    return contest_out(uow, c)


def _freeze(uow: UnitOfWork, c: Contest, now: dt.datetime) -> bool:
    """Freeze an ended contest's standings once; False when it is not over or already final."""
    if c.status == "final" or now < _end(c):
        return False
    c.standings = compute_standings(uow, c)
    c.status, c.finalised_at = "final", now
    uow.audit("finalise", "sales_contest", c.id, after={"winners": [
        {"rank": s["rank"], "rep_user_id": s["rep_user_id"], "value": s["value"]} for s in c.standings if s["prize"]]})
    return True


def finalise(uow: UnitOfWork, contest_id: int, now: dt.datetime | None = None) -> dict[str, Any]:
    """Freeze an ended contest now (idempotent: a final contest is returned as it is)."""
    if not is_manager(uow):
        raise Forbidden("Only sales managers (staff) finalise contests")
    now = now or utcnow()
    c = uow.session.scalar(sa.select(Contest).where(Contest.id == contest_id).with_for_update())
    if c is None:
        raise NotFound(f"Contest {contest_id} does not exist")
    if c.status != "final" and now < _end(c):
        raise ValidationProblem.for_field("contest_id", f"the contest runs until {c.period_end.isoformat()}")
    _freeze(uow, c, now)
    uow.commit()
    return contest_out(uow, c, now=now)


def finalise_ended(uow: UnitOfWork, now: dt.datetime) -> int:
    """The job's pass: freeze every open contest whose period is over. Each one is locked and
    re-checked, so two runners never freeze one twice."""
    ids = uow.session.scalars(sa.select(Contest.id).where(Contest.status == "open",
                                                          Contest.period_end <= now.date())).all()
    done = 0
    for cid in ids:
        c = uow.session.scalar(sa.select(Contest).where(Contest.id == cid).with_for_update()
                               .execution_options(populate_existing=True))
        if c is not None and _freeze(uow, c, now):
            done += 1
    uow.commit()
    return done
