"""Product reviews: a customer's review is a verified purchase when one of their received
orders holds the product; otherwise it is kept, marked unverified, and never counts towards
the rating. Staff moderate (publish or reject) and reply. The product's rating (mean of its
published verified reviews) and count go out as `product.rating_changed`, which search
takes as its rating features."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable

import sqlalchemy as sa

from merx.core.auth import Role
from merx.core.db import utcnow
from merx.core.errors import Conflict, Forbidden, NotFound, ValidationProblem
from merx.core.pagination import check_limit, paginate
from merx.core.schemas import Page
from merx.core.uow import UnitOfWork
from merx.support.events import ProductRatingChanged
from merx.support.models import Review
from merx.support.schemas import ReviewIn, ReviewOut

RECEIVED = frozenset({"fulfilled", "delivered", "picked_up", "completed", "returned", "refunded"})
MODERATORS = (Role.admin, Role.staff, Role.support_agent)


def _out(r: Review) -> ReviewOut:
    return ReviewOut.model_validate(r, from_attributes=True)


def purchase_of(uow: UnitOfWork, customer_id: int, product_id: int) -> int | None:
    """The customer's received order holding the product, if any."""
    from merx.orders.public import orders_for_customer

    for order in reversed(orders_for_customer(uow, customer_id)):
        if order["status"] in RECEIVED and any(ln.get("product_id") == product_id for ln in order["lines"]):
            return int(order["id"])
    return None


def submit(uow: UnitOfWork, data: ReviewIn) -> ReviewOut:
    actor = uow.actor
    if actor.role == Role.customer:
        customer_id = actor.customer_id
        if data.customer_id is not None and data.customer_id != customer_id:
            raise Forbidden("A customer reviews in their own name")
    elif actor.role in MODERATORS:
        customer_id = data.customer_id
    else:
        raise Forbidden("Reviews are written by customers (or recorded by staff for one)")
    from merx.catalog.public import get_product

    try:
        product = get_product(uow, data.product_id)
    except NotFound:
        raise ValidationProblem.for_field("product_id", "no such product") from None
    if customer_id is not None and uow.session.scalar(sa.select(Review.id).where(
            Review.customer_id == customer_id, Review.product_id == data.product_id,
            Review.status != "rejected")) is not None:
        raise Conflict("This customer has already reviewed this product", type_slug="duplicate")
    order_id = purchase_of(uow, customer_id, data.product_id) if customer_id is not None else None
    review = Review(product_id=data.product_id, seller_id=product.seller_id, customer_id=customer_id,
                    order_id=order_id, rating=data.rating, title=data.title, body=data.body,
                    tags=sorted({t.strip().lower() for t in data.tags if t.strip()}),
                    verified=order_id is not None, status="pending", created_at=utcnow())
    uow.session.add(review)
    uow.session.flush()
    uow.audit("create", "review", review.id, after={"product_id": review.product_id, "verified": review.verified})
    uow.created("review", review.id)
    uow.commit()
    return _out(review)


def product_rating(uow: UnitOfWork, product_id: int) -> tuple[Decimal | None, int]:
    avg, count = uow.session.execute(sa.select(sa.func.avg(Review.rating), sa.func.count()).where(
        Review.product_id == product_id, Review.status == "published", Review.verified.is_(True))).one()
    if not count:
        return None, 0
    return Decimal(str(avg)).quantize(Decimal("0.01"), ROUND_HALF_UP), int(count)


@dataclass(frozen=True)
class ReviewStats:
    average: Decimal | None  # mean of the published verified reviews (1-5), None without any
    count: int


def seller_review_stats(uow: UnitOfWork, seller_id: int, *, sold: Iterable[tuple[int, int]] = (),
                        since: dt.datetime | None = None) -> ReviewStats:
    """What customers said of a marketplace seller, for its rating (computed by the sellers
    context, which sits above support): the published verified reviews of the seller's own
    listings (`Review.seller_id`) and of the products it sold (`sold`: (order_id, product_id)
    of its delivered lines; the review's verified purchase is that order), written since
    `since`. Support itself no longer writes a seller's rating."""
    pairs = {(int(o), int(p)) for o, p in sold}
    base = [Review.status == "published", Review.verified.is_(True)]
    if since is not None:
        base.append(Review.created_at >= since)
    found: dict[int, int] = dict(uow.session.execute(
        sa.select(Review.id, Review.rating).where(Review.seller_id == seller_id, *base)).all())
    orders = sorted({o for o, _ in pairs})
    for i in range(0, len(orders), 500):  # bounded IN lists
        for rid, order_id, product_id, rating in uow.session.execute(
                sa.select(Review.id, Review.order_id, Review.product_id, Review.rating)
                .where(Review.order_id.in_(orders[i:i + 500]), *base)):
            if (order_id, product_id) in pairs:
                found[rid] = rating
    if not found:
        return ReviewStats(None, 0)
    average = (Decimal(sum(found.values())) / len(found)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return ReviewStats(average, len(found))


def moderate(uow: UnitOfWork, review_id: int, decision: str) -> ReviewOut:
    if uow.actor.role not in MODERATORS:
        raise Forbidden("Reviews are moderated by staff")
    review = uow.session.get(Review, review_id)
    if review is None:
        raise NotFound(f"Review {review_id} does not exist")
    new_status = "published" if decision == "publish" else "rejected"
    if review.status == new_status:
        return _out(review)
    before = review.status
    review.status, review.moderated_by = new_status, uow.actor.user_id
    uow.session.flush()
    uow.audit("moderate", "review", review.id, before={"status": before}, after={"status": new_status})
    if review.verified and "published" in (before, new_status):
        average, count = product_rating(uow, review.product_id)
        # the marketplace re-rates the seller from this event (sellers/handlers.py): one rating,
        # computed in one place (sellers/rating.py), not written here
        uow.emit(ProductRatingChanged(product_id=review.product_id, average=average, count=count,
                                      seller_id=review.seller_id, order_id=review.order_id))
    uow.commit()
    return _out(review)


def reply(uow: UnitOfWork, review_id: int, body: str) -> ReviewOut:
    """Staff, or the seller of the product, answer a review publicly."""
    review = uow.session.get(Review, review_id)
    actor = uow.actor
    if review is None or (actor.role == Role.seller and review.seller_id != actor.seller_id):
        raise NotFound(f"Review {review_id} does not exist")
    if actor.role not in (*MODERATORS, Role.seller):
        raise Forbidden("Replies come from staff or the product's seller")
    review.reply, review.replied_by = body, actor.user_id
    uow.commit()
    return _out(review)


def list_reviews(uow: UnitOfWork, *, product_id: int | None = None, status: str | None = None,
                 limit: int | None = None, cursor: str | None = None) -> Page[ReviewOut]:
    """Anyone sees published reviews; moderators any status; a seller its products'."""
    actor = uow.actor
    stmt = sa.select(Review)
    if actor.role in MODERATORS:
        if status:
            stmt = stmt.where(Review.status == status)
    elif actor.role == Role.seller:
        stmt = stmt.where(Review.seller_id == actor.seller_id)
        if status:
            stmt = stmt.where(Review.status == status)
    else:
        stmt = stmt.where(Review.status == "published")
    if product_id is not None:
        stmt = stmt.where(Review.product_id == product_id)
    items, nxt = paginate(uow.session, stmt, Review.id, limit=check_limit(limit, 50, 200), cursor=cursor,
                          convert=_out, descending=True)
    return Page[ReviewOut](items=items, next_cursor=nxt)


def summary(uow: UnitOfWork) -> dict[str, Any]:
    rows = uow.session.execute(sa.select(Review.status, sa.func.count()).group_by(Review.status)).all()
    return {status: int(n) for status, n in rows}
