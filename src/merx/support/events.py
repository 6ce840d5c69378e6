"""Events of the support context: tickets (aggregate "ticket"; CRM turns them into timeline
entries), SLA warnings and breaches, chats, surveys, and product ratings from reviews
(aggregate "product"; search takes them as its rating features)."""

from __future__ import annotations

from typing import ClassVar, Literal

from merx.core.events import Amount, Event, Timestamp

TicketKind = Literal["complaint", "return_request", "question", "wish", "objection", "praise"]
TicketStatus = Literal["new", "open", "waiting_on_customer", "waiting_on_us", "solved", "closed"]
TicketChannel = Literal["email", "chat", "phone", "store_visit", "messaging", "web_form"]


class _TicketEvent(Event):
    aggregate_type: ClassVar[str] = "ticket"
    aggregate_field: ClassVar[str] = "ticket_id"

    ticket_id: int
    customer_id: int | None
    subject: str
    kind: TicketKind
    status: TicketStatus


class TicketOpened(_TicketEvent):
    """A ticket was opened (by mail, chat, an agent, a survey detractor or a follow-up)."""

    event_type: ClassVar[str] = "ticket.opened"

    channel: TicketChannel
    priority: str
    order_id: int | None
    product_id: int | None


class TicketUpdated(_TicketEvent):
    """A ticket's status, assignee, team, priority or tags changed (`changes`: field names)."""

    event_type: ClassVar[str] = "ticket.updated"

    changes: list[str]


class TicketMessageAdded(_TicketEvent):
    """A customer message (`in`), an agent reply (`out`) or an internal note arrived."""

    event_type: ClassVar[str] = "ticket.message_added"

    message_kind: Literal["in", "out", "note"]
    ticket_message_id: int


class TicketResolved(_TicketEvent):
    """A ticket was solved (a CSAT request goes out)."""

    event_type: ClassVar[str] = "ticket.resolved"


class TicketClosed(_TicketEvent):
    """A ticket was closed."""

    event_type: ClassVar[str] = "ticket.closed"


class TicketSlaWarning(_TicketEvent):
    """An SLA target is near (within the policy's warning time, in business hours)."""

    event_type: ClassVar[str] = "ticket.sla_warning"

    target: Literal["first_response", "resolution"]
    due_at: Timestamp


class TicketSlaBreached(_TicketEvent):
    """An SLA target passed unmet."""

    event_type: ClassVar[str] = "ticket.sla_breached"

    target: Literal["first_response", "resolution"]
    due_at: Timestamp


class ChatEscalated(Event):
    """A chat became a ticket for follow-up."""

    aggregate_type: ClassVar[str] = "chat"
    aggregate_field: ClassVar[str] = "chat_id"
    event_type: ClassVar[str] = "chat.escalated"

    chat_id: int
    ticket_id: int
    customer_id: int | None


class SurveyAnswered(Event):
    """A CSAT or NPS answer came in (`detractor`: a ticket was opened for it)."""

    aggregate_type: ClassVar[str] = "survey_response"
    aggregate_field: ClassVar[str] = "response_id"
    event_type: ClassVar[str] = "survey.answered"

    response_id: int
    kind: Literal["csat", "nps"]
    score: int
    customer_id: int | None
    detractor: bool


class ProductRatingChanged(Event):
    """A product's published-review rating changed (`average` None when none remain).
    `seller_id` (the product's own seller, if any) and `order_id` (the verified purchase of the
    review that was published or withdrawn) let the marketplace re-rate the seller who sold it;
    both were added later and are None in older payloads."""

    aggregate_type: ClassVar[str] = "product"
    aggregate_field: ClassVar[str] = "product_id"
    event_type: ClassVar[str] = "product.rating_changed"

    product_id: int
    average: Amount | None
    count: int
    seller_id: int | None = None
    order_id: int | None = None
