"""Campaign results: message counts by status (sent, delivered, opened, clicked,
unsubscribed, bounced, skipped) and revenue attributed to campaigns and QR sources.

Attribution: an order is credited to one touch (QR scan or click) of the same customer in
the `attribution_days` window before it (MERX_MARKETING_ATTRIBUTION_DAYS, default 7): the
first touch or the last touch of that window, both reported. Cancelled orders count no
revenue. Amounts are summed in minor units per currency and shown as decimal strings."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from merx.core.money import Money
from merx.core.uow import UnitOfWork
from merx.marketing import rules
from merx.marketing.models import Campaign, Message, OrderNote, QrCode, Touch
from merx.marketing.settings import get_marketing_settings


def _money(minor: int, currency: str) -> str:
    return str(Money.from_minor(minor, currency).amount)


def attributed(uow: UnitOfWork, *, since: dt.datetime | None = None) -> dict[str, Any]:
    """{"first": {order_id: TouchPoint}, "last": {...}, "orders": {order_id: OrderPoint}} """
    window = dt.timedelta(days=get_marketing_settings().attribution_days)
    qr_labels = {q.id: f"{q.source}: {q.label}" for q in uow.session.scalars(sa.select(QrCode))}
    stmt = sa.select(Touch).where(Touch.customer_id.is_not(None), Touch.kind.in_(("qr_scan", "click")))
    touches = [rules.TouchPoint(t.customer_id, t.occurred_at, t.campaign_id,
                                qr_labels.get(t.qr_code_id, "qr") if t.kind == "qr_scan" else "email click")
               for t in uow.session.scalars(stmt)]
    ostmt = sa.select(OrderNote).where(OrderNote.customer_id.is_not(None), OrderNote.status != "cancelled")
    if since is not None:
        ostmt = ostmt.where(OrderNote.placed_at >= since)
    orders = {o.order_id: rules.OrderPoint(o.order_id, o.customer_id, o.placed_at, o.total_minor, o.currency)
              for o in uow.session.scalars(ostmt)}
    return {"orders": orders, "first": rules.attribute(orders.values(), touches, window, "first"),
            "last": rules.attribute(orders.values(), touches, window, "last"), "window_days": window.days}


def _revenue(credit: dict[int, rules.TouchPoint], orders: dict[int, rules.OrderPoint], key: str) -> dict[Any, dict[str, Any]]:
    out: dict[Any, dict[str, Any]] = {}
    for order_id, touch in credit.items():
        o = orders[order_id]
        k = getattr(touch, key)
        entry = out.setdefault(k, {"orders": 0, "minor": {}})
        entry["orders"] += 1
        entry["minor"][o.currency] = entry["minor"].get(o.currency, 0) + o.total_minor
    return out


def _fmt(entry: dict[str, Any] | None) -> dict[str, Any]:
    if not entry:
        return {"orders": 0, "revenue": []}
    return {"orders": entry["orders"], "revenue": [{"amount": _money(m, cur), "currency": cur}
                                                   for cur, m in sorted(entry["minor"].items())]}


def message_counts(uow: UnitOfWork, campaign_ids: list[int] | None = None) -> dict[int, dict[str, int]]:
    stmt = sa.select(Message.campaign_id, Message.status, sa.func.count(), sa.func.count(Message.opened_at),
                     sa.func.count(Message.clicked_at), sa.func.count(Message.unsubscribed_at),
                     sa.func.count(Message.bounced_at)).where(Message.campaign_id.is_not(None)).group_by(
        Message.campaign_id, Message.status)
    if campaign_ids is not None:
        stmt = stmt.where(Message.campaign_id.in_(campaign_ids))
    out: dict[int, dict[str, int]] = {}
    for cid, status, n, opened, clicked, unsub, bounced in uow.session.execute(stmt):
        c = out.setdefault(cid, {"recipients": 0, "queued": 0, "sent": 0, "delivered": 0, "opened": 0, "clicked": 0,
                                 "unsubscribed": 0, "bounced": 0, "skipped": 0, "failed": 0, "uncertain": 0})
        c["recipients"] += n
        if status in ("queued", "sending"):
            c["queued"] += n
        elif status in ("sent", "uncertain", "failed"):
            c[status if status != "sent" else "sent"] += n
        else:
            c["skipped"] += n
        c["opened"] += opened
        c["clicked"] += clicked
        c["unsubscribed"] += unsub
        c["bounced"] += bounced
    for c in out.values():
        c["delivered"] = c["sent"] - c["bounced"] if c["sent"] >= c["bounced"] else 0
    return out


def campaign_report(uow: UnitOfWork, campaign_id: int | None = None) -> list[dict[str, Any]]:
    """One row per campaign (or the one asked for): counts, first- and last-touch revenue."""
    stmt = sa.select(Campaign).order_by(Campaign.id.desc())
    if campaign_id is not None:
        stmt = stmt.where(Campaign.id == campaign_id)
    campaigns = list(uow.session.scalars(stmt))
    counts = message_counts(uow, [c.id for c in campaigns])
    attr = attributed(uow)
    first = _revenue(attr["first"], attr["orders"], "campaign_id")
    last = _revenue(attr["last"], attr["orders"], "campaign_id")
    empty = {"recipients": 0, "queued": 0, "sent": 0, "delivered": 0, "opened": 0, "clicked": 0, "unsubscribed": 0,
             "bounced": 0, "skipped": 0, "failed": 0, "uncertain": 0}
    return [{"id": c.id, "name": c.name, "status": c.status, "channel": c.channel, "segment_id": c.segment_id,
             "started_at": c.started_at, "winner": c.winner, "ab_result": c.ab_result,
             "counts": counts.get(c.id, dict(empty)), "first_touch": _fmt(first.get(c.id)),
             "last_touch": _fmt(last.get(c.id)), "window_days": attr["window_days"]} for c in campaigns]


def source_report(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Revenue per touch source (each QR code's source and label, email clicks)."""
    attr = attributed(uow)
    first = _revenue(attr["first"], attr["orders"], "source")
    last = _revenue(attr["last"], attr["orders"], "source")
    scans = dict(uow.session.execute(sa.select(Touch.qr_code_id, sa.func.count()).where(
        Touch.kind == "qr_scan").group_by(Touch.qr_code_id)).all())
    labels = {f"{q.source}: {q.label}": q for q in uow.session.scalars(sa.select(QrCode))}
    names = sorted(set(first) | set(last) | set(labels))
    return [{"source": name, "scans": scans.get(labels[name].id, 0) if name in labels else None,
             "first_touch": _fmt(first.get(name)), "last_touch": _fmt(last.get(name))} for name in names]
