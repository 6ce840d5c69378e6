"""The customer at the counter: look them up by phone, email, loyalty card or name (every
match is shown, none picked silently), see the essentials of their 360, or create them with
their consent captured."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from merx.core.errors import NotFound, Problem, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.crm import public as crm
from merx.customers import public as customers
from merx.instore import rules
from merx.instore.access import acting_for_store
from merx.support import public as support

OPEN_ORDER_STATUSES = ("pending", "confirmed", "paid", "ready_for_pickup", "fulfilled")
MAX_MATCHES = 20


@dataclass(frozen=True)
class CustomerMatch:
    id: int
    name: str
    email: str | None
    phone: str | None
    matched_by: str  # phone | email | loyalty_card | name


def _name(c: Any) -> str:
    return " ".join(p for p in (c.first_name, c.last_name) if p) or (c.email or c.phone or f"customer {c.id}")


def find_customers(uow: UnitOfWork, query: str) -> list[CustomerMatch]:
    """Every live customer the query points at, by the kind of query: an email, a phone number
    (the customer record and the CRM's identifiers: a shared household phone finds each
    person), or text (a loyalty card number, or part of a name). Several matches come back
    as several: the associate chooses."""
    q = (query or "").strip()
    if len(q) < 2:
        raise ValidationProblem.for_field("q", "type a phone number, an email, a loyalty card or a name", "required")
    if len(q) > 200:
        raise ValidationProblem.for_field("q", "is too long", "too_long")
    kind = rules.lookup_kind(q)
    found: dict[int, CustomerMatch] = {}

    def add(c: Any, how: str) -> None:
        if c is not None and c.id not in found and c.merged_into_id is None:
            found[c.id] = CustomerMatch(id=c.id, name=_name(c), email=c.email, phone=c.phone, matched_by=how)

    with acting_for_store(uow):
        if kind in ("email", "phone"):
            try:
                add(customers.find_customer(uow, **{kind: q}), kind)
            except ValidationProblem as e:
                raise ValidationProblem.for_field("q", f"is not a valid {kind}: {e.detail}", f"bad_{kind}") from None
        identifier_kinds = {"email": ["email"], "phone": ["phone", "loyalty_card"], "text": ["loyalty_card"]}[kind]
        for ident in identifier_kinds:
            try:
                add(crm.lookup(uow, {ident: q}), ident)
            except (NotFound, ValidationProblem):
                pass
        if kind == "text":
            stmt = customers.list_customers_stmt(uow, q=q).limit(MAX_MATCHES + 1)  # one more: "more than"
            for row in uow.session.scalars(stmt):
                add(customers.CustomerOut.model_validate(row, from_attributes=True), "name")
    return list(found.values())


def customer_essentials(uow: UnitOfWork, customer_id: int) -> dict[str, Any]:
    """The counter's slice of the customer 360: name and contacts, loyalty tier and points,
    open orders, open support tickets (a customer may come in about one), consent per channel."""
    with acting_for_store(uow):
        view = crm.overview(uow, customer_id, timeline_limit=1)
        tickets = support.open_tickets_of(uow, customer_id)[:10]
    loyalty = view.get("loyalty") or []
    return {"customer": view["customer"], "name": _name(customers.CustomerOut.model_validate(view["customer"])),
            "tier": loyalty[0]["tier"] if loyalty else None, "points": loyalty[0]["balance"] if loyalty else None,
            "orders_count": view["orders_count"],
            "open_orders": [o for o in view["orders"] if o["status"] in OPEN_ORDER_STATUSES][:10],
            "open_tickets": [{"id": t.id, "subject": t.subject, "status": t.status, "priority": t.priority,
                              "kind": t.kind, "created_at": t.created_at.isoformat() if t.created_at else None}
                             for t in tickets],
            "consent": view["consent"], "segments": [s["name"] for s in view["segments"]][:5]}


def create_customer_at_counter(uow: UnitOfWork, *, first_name: str | None, last_name: str | None,
                               email: str | None, phone: str | None, consents: dict[str, bool],
                               store_code: str) -> Any:
    """A new customer record with the consent the customer gave at the counter. The consent
    answer for each channel offered is recorded (granted or refused), with the store as source."""
    if not (email or phone):
        raise ValidationProblem.for_field("email", "give an email or a phone number", "required")
    for channel in consents:
        if channel not in crm.CONSENT_CHANNELS:
            raise ValidationProblem.for_field(f"consent.{channel}", "is not a consent channel", "unknown_channel")
    data = customers.CustomerCreate(first_name=first_name, last_name=last_name, email=email, phone=phone)
    with acting_for_store(uow):
        try:
            created = customers.create_customer(uow, data, commit=False)
        except Problem:
            uow.rollback()
            raise
        # The first consent's commit writes the customer with it (record_consent commits).
        for channel, granted in consents.items():
            crm.record_consent(uow, created.id, channel=channel, granted=granted, source=f"store:{store_code}")
        if not consents:
            uow.commit()
    return created
