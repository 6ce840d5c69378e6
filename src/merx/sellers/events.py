"""Events of the sellers context: offers (aggregate "offer"), seller orders (aggregate
"seller_order", version = the sub-order's version), payouts (aggregate "payout") and
violations (aggregate "seller")."""

from __future__ import annotations

from typing import ClassVar, Literal

from merx.core.events import Amount, Currency, Event, EventMoney, EventPart, Timestamp


class _OfferEvent(Event):
    aggregate_type: ClassVar[str] = "offer"
    aggregate_field: ClassVar[str] = "offer_id"

    offer_id: int
    seller_id: int
    sku: str


class OfferCreated(_OfferEvent):
    """A seller offered a catalog SKU (price, stock, lead time, condition)."""

    event_type: ClassVar[str] = "offer.created"

    price: EventMoney
    quantity: int


class OfferUpdated(_OfferEvent):
    """An offer's price, stock, terms or activity changed (`changes`: the field names)."""

    event_type: ClassVar[str] = "offer.updated"

    changes: list[str]


class _SellerOrderEvent(Event):
    aggregate_type: ClassVar[str] = "seller_order"
    aggregate_field: ClassVar[str] = "seller_order_id"

    seller_order_id: int
    order_id: int
    seller_id: int
    status: str  # the sub-order's status after this event


class SplitLine(EventPart):

    line_id: int
    line_no: int
    sku: str
    quantity: int
    total: Amount


class SellerOrderCreated(_SellerOrderEvent):
    """A customer order's lines of one seller became its sub-order, awaiting acceptance
    until `acceptance_deadline`."""

    event_type: ClassVar[str] = "seller_order.created"

    currency: Currency
    acceptance_deadline: Timestamp
    lines: list[SplitLine]


class LineDecision(EventPart):

    line_id: int
    line_no: int
    decision: Literal["accepted", "refused", "expired"]
    reason: str | None


class SellerOrderDecided(_SellerOrderEvent):
    """The seller accepted or refused lines (or their deadline passed: `expired`). Refused
    and expired lines are cancelled and refunded to the customer."""

    event_type: ClassVar[str] = "seller_order.decided"

    decisions: list[LineDecision]


class SellerOrderShipped(_SellerOrderEvent):
    """The seller shipped the accepted lines with `carrier` and `tracking_number`."""

    event_type: ClassVar[str] = "seller_order.shipped"

    carrier: str
    tracking_number: str
    tracking_url: str | None
    late: bool


class SellerOrderCancelled(_SellerOrderEvent):
    """The customer order was cancelled: the sub-order's open lines are cancelled."""

    event_type: ClassVar[str] = "seller_order.cancelled"

    reason: str


class SellerLineRefunded(_SellerOrderEvent):
    """The customer's money for a line that will not be delivered went back (`outcome`:
    refunded, or not_captured when the payment had not been taken yet so nothing is charged
    for it, or failed: retried by the scheduler). Carries what a customer mail needs: the
    order number, the line's SKU, product name and quantity, the amount with its currency,
    why (`cause`: refused, expired, incident) and the seller's `reason`. (Those fields were
    added after the first payloads were written: older stored events decode with None.)"""

    event_type: ClassVar[str] = "seller_order.line_refunded"

    line_id: int
    line_no: int
    amount: EventMoney
    outcome: Literal["refunded", "not_captured", "failed"]
    customer_id: int | None
    order_number: str | None = None
    sku: str | None = None
    name: str | None = None
    quantity: int | None = None
    cause: Literal["refused", "expired", "incident"] | None = None
    reason: str | None = None


class IncidentOpened(_SellerOrderEvent):
    """A customer reported a problem with a shipped line (a ticket for the seller)."""

    event_type: ClassVar[str] = "seller_order.incident_opened"

    incident_id: int
    line_id: int
    kind: Literal["not_received", "damaged"]


class PayoutIssued(Event):
    """A payout cycle paid a seller `amount` = sales - commission - refunds + adjustments of
    the entries it closed (commission and refunds are the amounts deducted, not negative;
    adjustments may be negative): for the finance system to transfer."""

    event_type: ClassVar[str] = "payout.issued"
    aggregate_type: ClassVar[str] = "payout"
    aggregate_field: ClassVar[str] = "payout_id"

    payout_id: int
    cycle_id: int
    seller_id: int
    period_end: Timestamp
    amount: EventMoney
    sales: EventMoney
    commission: EventMoney
    refunds: EventMoney
    adjustments: Amount


class ViolationRecorded(Event):
    """Staff recorded a violation against a seller (it lowers the rating by `penalty`)."""

    event_type: ClassVar[str] = "seller.violation_recorded"
    aggregate_type: ClassVar[str] = "seller"
    aggregate_field: ClassVar[str] = "seller_id"

    seller_id: int
    violation_id: int
    kind: str
    penalty: Amount


class _ProposalEvent(Event):
    aggregate_type: ClassVar[str] = "product_proposal"
    aggregate_field: ClassVar[str] = "proposal_id"

    proposal_id: int
    seller_id: int
    sku: str


class ProductProposed(_ProposalEvent):
    """A seller proposed a new catalog product; staff moderate it."""

    event_type: ClassVar[str] = "product_proposal.submitted"

    name: str
    category: str | None


class ProductProposalApproved(_ProposalEvent):
    """Staff approved a proposal: `product_id` is the new active catalog product."""

    event_type: ClassVar[str] = "product_proposal.approved"

    product_id: int


class ProductProposalRejected(_ProposalEvent):
    """Staff rejected a proposal, saying why."""

    event_type: ClassVar[str] = "product_proposal.rejected"

    reason: str
