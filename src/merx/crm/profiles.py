"""Profile facts (the fields rule segments filter on), per-profile aggregates, the funnel,
and the customer 360 overview."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any, Iterable

import numpy as np
import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.money import minor_to_str
from merx.core.uow import UnitOfWork
from merx.crm.events_vocab import EVENT_TYPES, FUNNEL_STAGES
from merx.crm.models import (Consent, Identity, LoyaltyAccount, LoyaltyProgram, Merge, OrderFact, ProfileStats,
                             RfmScore, Segment, SegmentMember, TrackedEvent)
from merx.crm.segments.lang import Columns
from merx.customers import public as customers

# The fields of the segment language and their types (see segments/lang.py).
FIELDS: dict[str, str] = {
    "customer_id": "number",
    "country": "string",
    "locale": "string",
    "is_guest": "bool",
    "has_email": "bool",
    "has_phone": "bool",
    "days_since_signup": "number",
    "orders_count": "number",
    "lifetime_value": "number",
    "average_order_value": "number",
    "days_since_first_order": "number",
    "days_since_last_order": "number",
    "events_count": "number",
    "days_since_last_event": "number",
    "loyalty_points": "number",
    "loyalty_tier": "string",
    "rfm_segment": "string",
    "rfm_score": "string",
    "rfm_r": "number",
    "rfm_f": "number",
    "rfm_m": "number",
    "email_consent": "bool",
    "sms_consent": "bool",
    "sales_rep_user_id": "number",
}

# Orders in these states do not count as purchases.
NOT_PURCHASES = ("cancelled",)


def shown_status(fact: OrderFact) -> str:
    """The order's status as a customer's history shows it: money paid back decides between
    refunded and partially refunded (an order half refunded is not "refunded")."""
    if 0 < fact.refunded_minor < fact.total_minor:
        return "partially_refunded"
    if fact.total_minor and fact.refunded_minor >= fact.total_minor:
        return "refunded"
    return fact.status


def recompute_stats(uow: UnitOfWork, customer_ids: Iterable[int]) -> None:
    ids = sorted(set(customer_ids))
    if not ids:
        return
    rows = {r.customer_id: r for r in uow.session.execute(
        sa.select(TrackedEvent.customer_id, sa.func.count().label("n"), sa.func.min(TrackedEvent.occurred_at).label("first"),
                  sa.func.max(TrackedEvent.occurred_at).label("last"))
        .where(TrackedEvent.customer_id.in_(ids)).group_by(TrackedEvent.customer_id))}
    existing = {s.customer_id: s for s in uow.session.scalars(sa.select(ProfileStats).where(ProfileStats.customer_id.in_(ids)))}
    for cid in ids:
        row = rows.get(cid)
        stats = existing.get(cid)
        if row is None:
            if stats is not None:
                uow.session.delete(stats)
            continue
        if stats is None:
            stats = ProfileStats(customer_id=cid)
            uow.session.add(stats)
        stats.events_count = row.n
        stats.first_event_at = _aware(row.first)
        stats.last_event_at = _aware(row.last)
        stats.updated_at = utcnow()
    uow.session.flush()


def bump_stats(uow: UnitOfWork, per_profile: dict[int, tuple[int, dt.datetime, dt.datetime]]) -> None:
    """Incremental update after ingesting events: (count, earliest, latest) per profile.

    One atomic upsert per profile, in customer id order: concurrent batches for the same
    profile add up instead of losing an increment or colliding on the insert, and always
    lock rows in the same order (no deadlock)."""
    if not per_profile:
        return
    table = ProfileStats.__table__
    if uow.dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert

        earliest, latest = sa.func.least, sa.func.greatest
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]

        earliest, latest = sa.func.min, sa.func.max  # SQLite's multi-argument scalar min/max
    now = utcnow()
    rows = [{"customer_id": cid, "events_count": count, "first_event_at": first, "last_event_at": last,
             "updated_at": now} for cid, (count, first, last) in sorted(per_profile.items())]
    stmt = upsert(table)
    new = stmt.excluded
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.customer_id], set_={
        "events_count": table.c.events_count + new.events_count,
        "first_event_at": earliest(sa.func.coalesce(table.c.first_event_at, new.first_event_at), new.first_event_at),
        "last_event_at": latest(sa.func.coalesce(table.c.last_event_at, new.last_event_at), new.last_event_at),
        "updated_at": new.updated_at,
    })
    uow.session.execute(stmt, rows)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or isinstance(value, str):
        return dt.datetime.fromisoformat(value).replace(tzinfo=dt.timezone.utc) if isinstance(value, str) else None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _chunks(ids: list[int] | None, size: int = 500) -> Iterable[list[int] | None]:
    if ids is None:
        yield None
        return
    for i in range(0, len(ids), size):
        yield ids[i:i + size]


def _where(stmt: sa.Select, column: Any, chunk: list[int] | None) -> sa.Select:
    return stmt if chunk is None else stmt.where(column.in_(chunk))


def profile_columns(uow: UnitOfWork, ids: Iterable[int] | None = None, *,
                    now: dt.datetime | None = None) -> tuple[np.ndarray, Columns]:
    """Facts for the given live profiles (all when ids is None) as columns for segment evaluation."""
    now = now or utcnow()
    id_list = None if ids is None else sorted(set(ids))
    attrs = customers.customer_attributes(uow, id_list)
    attrs.sort(key=lambda a: a["id"])
    order = np.array([a["id"] for a in attrs], dtype=np.int64)
    position = {cid: i for i, cid in enumerate(order.tolist())}
    n = len(order)
    live = None if id_list is None else list(position)

    def column() -> np.ndarray:
        return np.full(n, np.nan)

    cols = Columns(n)
    days = lambda t: (now - _aware(t)).total_seconds() / 86400.0  # noqa: E731
    cols.add_number("customer_id", order.astype(np.float64))
    cols.add_strings("country", [a["country"] for a in attrs])
    cols.add_strings("locale", [a["locale"] for a in attrs])
    cols.add_number("is_guest", [1.0 if a["is_guest"] else 0.0 for a in attrs])
    cols.add_number("has_email", [1.0 if a["email"] else 0.0 for a in attrs])
    cols.add_number("has_phone", [1.0 if a["phone"] else 0.0 for a in attrs])
    cols.add_number("days_since_signup", [days(a["created_at"]) if a["created_at"] else np.nan for a in attrs])
    cols.add_number("sales_rep_user_id", [a["sales_rep_user_id"] if a["sales_rep_user_id"] is not None else np.nan
                                          for a in attrs])

    orders_count, ltv, first_order, last_order = column(), column(), column(), column()
    orders_count[:] = 0
    ltv[:] = 0
    events_count, last_event = column(), column()
    events_count[:] = 0
    points = column()
    points[:] = 0
    tiers: list[str | None] = [None] * n
    rfm_seg: list[str | None] = [None] * n
    rfm_score: list[str | None] = [None] * n
    r, f, m = column(), column(), column()
    consent = {"email": column(), "sms": column()}
    for chunk in _chunks(live):
        stmt = sa.select(OrderFact.customer_id, OrderFact.currency, sa.func.count(), sa.func.sum(OrderFact.total_minor - OrderFact.refunded_minor),
                         sa.func.min(OrderFact.placed_at), sa.func.max(OrderFact.placed_at)) \
            .where(OrderFact.status.notin_(NOT_PURCHASES)).group_by(OrderFact.customer_id, OrderFact.currency)
        for cid, currency, count, total, first, last in uow.session.execute(_where(stmt, OrderFact.customer_id, chunk)):
            i = position.get(cid)
            if i is None:
                continue
            orders_count[i] += count
            ltv[i] += float(minor_to_str(int(total or 0), currency))
            d_first, d_last = days(first), days(last)
            first_order[i] = d_first if np.isnan(first_order[i]) else max(first_order[i], d_first)
            last_order[i] = d_last if np.isnan(last_order[i]) else min(last_order[i], d_last)
        for s in uow.session.scalars(_where(sa.select(ProfileStats), ProfileStats.customer_id, chunk)):
            i = position.get(s.customer_id)
            if i is not None:
                events_count[i] = s.events_count
                last_event[i] = days(s.last_event_at) if s.last_event_at else np.nan
        stmt = sa.select(LoyaltyAccount.customer_id, LoyaltyAccount.balance, LoyaltyAccount.tier)
        for cid, balance, tier in uow.session.execute(_where(stmt, LoyaltyAccount.customer_id, chunk)):
            i = position.get(cid)
            if i is not None:
                points[i] += balance
                tiers[i] = tiers[i] or tier
        for score in uow.session.scalars(_where(sa.select(RfmScore), RfmScore.customer_id, chunk)):
            i = position.get(score.customer_id)
            if i is not None:
                rfm_seg[i], rfm_score[i] = score.segment, f"{score.r}{score.f}{score.m}"
                r[i], f[i], m[i] = score.r, score.f, score.m
        stmt = sa.select(Consent.customer_id, Consent.channel, Consent.granted).where(Consent.channel.in_(("email", "sms"))) \
            .order_by(Consent.recorded_at, Consent.id)
        for cid, channel, granted in uow.session.execute(_where(stmt, Consent.customer_id, chunk)):
            i = position.get(cid)
            if i is not None:
                consent[channel][i] = 1.0 if granted else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        aov = np.where(orders_count > 0, ltv / np.maximum(orders_count, 1), np.nan)
    cols.add_number("orders_count", orders_count)
    cols.add_number("lifetime_value", ltv)
    cols.add_number("average_order_value", aov)
    cols.add_number("days_since_first_order", first_order)
    cols.add_number("days_since_last_order", last_order)
    cols.add_number("events_count", events_count)
    cols.add_number("days_since_last_event", last_event)
    cols.add_number("loyalty_points", points)
    cols.add_strings("loyalty_tier", tiers)
    cols.add_strings("rfm_segment", rfm_seg)
    cols.add_strings("rfm_score", rfm_score)
    cols.add_number("rfm_r", r)
    cols.add_number("rfm_f", f)
    cols.add_number("rfm_m", m)
    cols.add_number("email_consent", consent["email"])
    cols.add_number("sms_consent", consent["sms"])
    return order, cols


# -- funnel and overview -------------------------------------------------------------------------

def funnel_path(events: list[tuple[str, dt.datetime]]) -> dict[str, Any]:
    """The stages a profile reached, in funnel order, each with when it was first reached
    after the previous one; the furthest is its current stage."""
    path: list[dict[str, Any]] = []
    reached = -1
    for etype, at in sorted(events, key=lambda e: e[1]):
        stage = EVENT_TYPES.get(etype, {}).get("funnel")
        if stage is None:
            continue
        index = FUNNEL_STAGES.index(stage)
        if index > reached:
            # Stages skipped on the way (a store purchase without a web visit) are not invented.
            path.append({"stage": stage, "at": at})
            reached = index
    return {"stage": path[-1]["stage"] if path else None, "path": path}


def _money_list(totals: dict[str, int]) -> list[dict[str, str]]:
    return [{"amount": minor_to_str(v, c), "currency": c} for c, v in sorted(totals.items())]


def overview(uow: UnitOfWork, customer_id: int, *, timeline_limit: int = 500) -> dict[str, Any]:
    """Customer 360. Visibility (rep's own accounts, a customer itself) is enforced by
    customers.get_customer."""
    from merx.crm import consent as consent_module
    from merx.crm import loyalty

    record = customers.get_customer(uow, customer_id)
    identities = list(uow.session.scalars(sa.select(Identity).where(Identity.customer_id == customer_id).order_by(Identity.id)))
    facts = list(uow.session.scalars(sa.select(OrderFact).where(OrderFact.customer_id == customer_id)
                                     .order_by(OrderFact.placed_at.desc())))
    ltv: dict[str, int] = defaultdict(int)
    for o in facts:
        if o.status not in NOT_PURCHASES:
            ltv[o.currency] += o.total_minor - o.refunded_minor
    events_total = uow.session.scalar(sa.select(sa.func.count()).select_from(TrackedEvent)
                                      .where(TrackedEvent.customer_id == customer_id)) or 0
    timeline = list(uow.session.scalars(sa.select(TrackedEvent).where(TrackedEvent.customer_id == customer_id)
                                        .order_by(TrackedEvent.occurred_at.desc(), TrackedEvent.id.desc())
                                        .limit(timeline_limit)))
    funnel_rows = uow.session.execute(sa.select(TrackedEvent.type, TrackedEvent.occurred_at).where(
        TrackedEvent.customer_id == customer_id,
        TrackedEvent.type.in_([t for t, s in EVENT_TYPES.items() if s.get("funnel")]))).all()
    funnel = funnel_path([(t, _aware(at)) for t, at in funnel_rows])
    last_candidates = [_aware(timeline[0].occurred_at)] if timeline else []
    last_candidates += [o.placed_at for o in facts[:1]]
    rfm = uow.session.get(RfmScore, customer_id)
    segs = uow.session.execute(sa.select(Segment.id, Segment.name, Segment.kind).join(
        SegmentMember, SegmentMember.segment_id == Segment.id).where(SegmentMember.customer_id == customer_id)
        .order_by(Segment.id)).all()
    merged_from = list(uow.session.scalars(sa.select(Merge.from_customer_id).where(
        Merge.into_customer_id == customer_id, Merge.undone_at.is_(None))))
    return {
        "customer": record.model_dump(mode="json"),
        "identifiers": [{"kind": i.kind, "value": i.value, "verified": i.verified, "source": i.source,
                         "added_at": i.created_at} for i in identities],
        "consent": consent_module.current_consents(uow, customer_id),
        "lifetime_value": _money_list(ltv),
        "orders_count": sum(1 for o in facts if o.status not in NOT_PURCHASES),
        "orders": [{"order_id": o.order_id, "number": o.number, "status": shown_status(o), "channel": o.channel,
                    "total": {"amount": minor_to_str(o.total_minor, o.currency), "currency": o.currency},
                    "placed_at": o.placed_at} for o in facts],
        "events_count": events_total,
        "timeline": [event_out(e) for e in timeline],
        "last_activity_at": max(last_candidates) if last_candidates else None,
        "funnel": funnel,
        "rfm": None if rfm is None else {"r": rfm.r, "f": rfm.f, "m": rfm.m, "score": f"{rfm.r}{rfm.f}{rfm.m}",
                                         "segment": rfm.segment, "reference_date": rfm.reference_date.isoformat(),
                                         "recency_days": rfm.recency_days, "frequency": rfm.frequency,
                                         "monetary": {"amount": str(rfm.monetary), "currency": rfm.currency}},
        "segments": [{"id": s.id, "name": s.name, "kind": s.kind} for s in segs],
        "loyalty": loyalty.accounts_out(uow, customer_id),
        "merged_from": merged_from,
    }


def event_out(e: TrackedEvent) -> dict[str, Any]:
    return {"id": e.id, "type": e.type, "channel": e.channel, "occurred_at": _aware(e.occurred_at),
            "anonymous_id": e.anonymous_id, "customer_id": e.customer_id, "source": e.source, "campaign": e.campaign,
            "properties": e.properties or {}}
