"""Reactions of the sellers context (durable subscribers: the bookkeeping must not be lost):
a cancelled customer order cancels its sub-orders' open and accepted lines; a review published
or withdrawn re-rates the seller who sold the product."""

from __future__ import annotations

from merx.core.events import DomainEvent, MessageBus
from merx.core.uow import UnitOfWork
from merx.orders.events import OrderCancelled
from merx.support.events import ProductRatingChanged


def on_order_cancelled(events: list[DomainEvent], uow: UnitOfWork) -> None:
    from merx.sellers.seller_orders import cancel_for_order

    for e in events:
        data = e.data
        cancel_for_order(uow, data.order_id, f"order cancelled: {data.reason}"[:500])
    uow.commit()


def on_review_rating_changed(events: list[DomainEvent], uow: UnitOfWork) -> None:
    """A review of something a seller sold was published or withdrawn: re-rate that seller
    (its one rating: sellers/rating.py)."""
    from merx.sellers.rating import recompute, sellers_of_review

    due: set[int] = set()
    for e in events:
        data = e.data
        assert isinstance(data, ProductRatingChanged)
        due |= sellers_of_review(uow, data.product_id, data.order_id, data.seller_id)
    for seller_id in sorted(due):
        recompute(uow, seller_id)
    uow.commit()


def register(bus: MessageBus) -> None:
    bus.subscribe(OrderCancelled, on_order_cancelled, batch=True, durable="sellers.orders")
    bus.subscribe(ProductRatingChanged, on_review_rating_changed, batch=True, durable="sellers.reviews")
