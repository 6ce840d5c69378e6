"""The computed seller rating (rules.seller_rating) over the rolling window, and violations.
It is the seller's ONE rating: the operational parts (shipments, refusals, cancellations,
incidents) from this context, the review part from support's public `seller_review_stats`
(support sits below sellers and no longer writes a rating itself). It is recomputed when a
seller decides, ships or gets an incident or a violation, when a review of what it sold is
published or withdrawn (`product.rating_changed`, durable subscriber `sellers.reviews`), and
nightly. The rating, its parts and the violation count are stored on the seller
(marketplace), whose seller.updated event makes search re-rank the seller's products."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.pagination import check_limit, paginate
from merx.core.schemas import Page
from merx.core.uow import UnitOfWork
from merx.marketplace import public as marketplace
from merx.support import public as support
from merx.sellers import rules
from merx.sellers.access import check_visible, own_seller_id, require_staff, seller_for_write
from merx.sellers.events import ViolationRecorded
from merx.sellers.models import Incident, Offer, SellerOrder, SellerOrderLine, Violation
from merx.sellers.schemas import RatingOut, ViolationIn, ViolationOut

REFUSED = ("refused", "expired")


def facts(uow: UnitOfWork, seller_id: int, now: dt.datetime) -> rules.RatingFacts:
    since = now - dt.timedelta(days=rules.RATING_WINDOW_DAYS)
    counts = dict(uow.session.execute(
        sa.select(SellerOrderLine.status, sa.func.count())
        .join(SellerOrder, SellerOrder.id == SellerOrderLine.seller_order_id)
        .where(SellerOrder.seller_id == seller_id, SellerOrderLine.decided_at >= since,
               SellerOrderLine.decided_at <= now)
        .group_by(SellerOrderLine.status)).all())
    refused = sum(int(counts.get(s, 0)) for s in REFUSED)
    accepted = sum(int(counts.get(s, 0)) for s in ("accepted", "shipped", "refunded", "cancelled"))
    shipped = uow.session.execute(
        sa.select(sa.func.count(), sa.func.count().filter(SellerOrder.shipped_late.is_(True)))
        .where(SellerOrder.seller_id == seller_id, SellerOrder.shipped_at >= since, SellerOrder.shipped_at <= now)
    ).one()
    incidents = uow.session.scalar(sa.select(sa.func.count()).where(
        Incident.seller_id == seller_id, Incident.created_at >= since, Incident.created_at <= now)) or 0
    penalties = list(uow.session.scalars(sa.select(Violation.penalty).where(
        Violation.seller_id == seller_id, Violation.occurred_at >= since, Violation.occurred_at <= now)))
    reviews = support.seller_review_stats(uow, seller_id, sold=sold_products(uow, seller_id),
                                          since=now - dt.timedelta(days=rules.REVIEW_WINDOW_DAYS))
    return rules.RatingFacts(decided_lines=refused + accepted, refused_lines=refused, accepted_lines=accepted,
                             cancelled_lines=int(counts.get("cancelled", 0)), shipments=int(shipped[0]),
                             late_shipments=int(shipped[1]), incidents=int(incidents), penalties=penalties,
                             review_average=reviews.average, review_count=reviews.count)


def sold_products(uow: UnitOfWork, seller_id: int) -> list[tuple[int, int]]:
    """(order_id, product_id) of the lines the seller shipped: what its customers may review."""
    return [(o, p) for o, p in uow.session.execute(
        sa.select(SellerOrderLine.order_id, Offer.product_id)
        .join(SellerOrder, SellerOrder.id == SellerOrderLine.seller_order_id)
        .join(Offer, Offer.id == SellerOrderLine.offer_id)
        .where(SellerOrder.seller_id == seller_id, SellerOrderLine.status.in_(("shipped", "refunded")))).all()]


def sellers_of_review(uow: UnitOfWork, product_id: int, order_id: int | None, own_seller: int | None) -> set[int]:
    """The sellers a published (or withdrawn) review counts for: the product's own seller and
    the seller whose line of that order sold the product."""
    found = {own_seller} if own_seller is not None else set()
    if order_id is not None:
        found |= set(uow.session.scalars(
            sa.select(SellerOrder.seller_id).join(SellerOrderLine, SellerOrderLine.seller_order_id == SellerOrder.id)
            .join(Offer, Offer.id == SellerOrderLine.offer_id)
            .where(SellerOrderLine.order_id == order_id, Offer.product_id == product_id,
                   SellerOrder.seller_id.is_not(None))))
    return found


def recompute(uow: UnitOfWork, seller_id: int, now: dt.datetime | None = None) -> RatingOut:
    """Compute and store one seller's rating (in the caller's transaction, not committed)."""
    now = now or utcnow()
    f = facts(uow, seller_id, now)
    rating, parts = rules.seller_rating(f)
    marketplace.record_rating(uow, seller_id, rating=rating, parts=parts, violations=len(f.penalties),
                              computed_at=now)
    return RatingOut(seller_id=seller_id, rating=rating, parts=parts, violations=len(f.penalties), computed_at=now)


def recompute_all(uow: UnitOfWork, now: dt.datetime) -> int:
    """The scheduler's job: every seller's rating, one transaction per seller."""
    n = 0
    for seller_id in marketplace.all_seller_ids(uow):
        uow.rollback()
        recompute(uow, seller_id, now)
        uow.commit()
        n += 1
    return n


def recompute_now(uow: UnitOfWork, seller_id: int) -> RatingOut:
    require_staff(uow)
    seller_for_write(uow, seller_id)
    out = recompute(uow, seller_id)
    uow.commit()
    return out


def get_rating(uow: UnitOfWork, seller_id: int) -> RatingOut:
    check_visible(uow, seller_id, f"Seller {seller_id}")
    s = marketplace.get_seller_out(uow, seller_id)
    return RatingOut(seller_id=s.id, rating=s.rating, parts=s.rating_parts, violations=s.violations,
                     computed_at=s.rating_computed_at)


def record_violation(uow: UnitOfWork, data: ViolationIn) -> ViolationOut:
    """Staff record a violation; the seller's rating is recomputed in the same transaction."""
    require_staff(uow)
    seller_for_write(uow, data.seller_id)
    v = Violation(seller_id=data.seller_id, kind=data.kind, note=data.note, penalty=data.penalty,
                  created_by_user_id=uow.actor.user_id, occurred_at=utcnow())
    uow.session.add(v)
    uow.session.flush()
    uow.emit(ViolationRecorded(seller_id=v.seller_id, violation_id=v.id, kind=v.kind, penalty=v.penalty), version=1)
    uow.audit("create", "violation", v.id, after={"seller_id": v.seller_id, "kind": v.kind, "penalty": str(v.penalty)})
    recompute(uow, data.seller_id, v.occurred_at)
    uow.commit()
    return ViolationOut.model_validate(v, from_attributes=True)


def list_violations(uow: UnitOfWork, *, seller_id: int | None = None) -> list[ViolationOut]:
    stmt = _violations(uow, seller_id).order_by(Violation.id.desc()).limit(500)
    return [ViolationOut.model_validate(v, from_attributes=True) for v in uow.session.scalars(stmt)]


def violation_page(uow: UnitOfWork, *, seller_id: int | None = None, limit: int | None = None,
                   cursor: str | None = None) -> Page[ViolationOut]:
    """`GET /seller-violations`: newest first; a seller sees its own."""
    items, nxt = paginate(uow.session, _violations(uow, seller_id), Violation.id, limit=check_limit(limit, 50, 500),
                          cursor=cursor, convert=lambda v: ViolationOut.model_validate(v, from_attributes=True),
                          descending=True)
    return Page[ViolationOut](items=items, next_cursor=nxt)


def _violations(uow: UnitOfWork, seller_id: int | None) -> sa.Select[Any]:
    own = own_seller_id(uow)
    sid = own if own is not None else seller_id
    stmt = sa.select(Violation)
    if sid is not None:
        stmt = stmt.where(Violation.seller_id == sid)
    return stmt

