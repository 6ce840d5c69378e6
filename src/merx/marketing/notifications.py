"""Transactional notifications from order events: order confirmation, payment received, ready
for pickup (the store's name, address and opening hours), shipped (carrier, tracking link),
delivered, return received, refund issued. Queued by a durable subscriber (handlers.py), so
each is recorded once per event (idem_key = event id + template) in the subscriber's own
transaction; the sender (sending.py) delivers it. In the customer's language (the customer
record's locale, set from the shop's language at checkout), with the shop's default as
fallback.

Each message is due from the time of the event that called for it (`occurred_at`), not from
when the subscriber got to it: after a worker caught up late, or for events committed under a
simulated clock (`core.db.simulated_clock`) and handled after it, the sender's clock decides
as it would have when the event happened."""

from __future__ import annotations

import logging
from typing import Any

from merx.core.errors import Problem
from merx.core.events import DomainEvent
from merx.core.uow import UnitOfWork
from merx.customers import public as customers
from merx.inventory import public as inventory
from merx.marketplace import public as marketplace
from merx.marketing.messages import customer_context, insert_rows, message_row, shop_context
from merx.marketing.templating import TemplateBook
from merx.orders import public as orders

log = logging.getLogger("merx.marketing")

TEMPLATE_FOR = {"order.placed": "order_confirmation", "order.paid": "payment_received",
                "order.ready_for_pickup": "ready_for_pickup", "order.fulfilled": "shipped",
                "order.delivered": "delivered", "order.returned": "return_received", "order.refunded": "refund_issued"}
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def hours_text(opening_hours: dict[str, Any] | None) -> str:
    if not opening_hours:
        return "-"
    parts = []
    for day in _DAYS:
        spans = opening_hours.get(day)
        if spans:
            parts.append(f"{day.capitalize()} " + ", ".join(f"{s[0]}-{s[1]}" for s in spans))
    return "; ".join(parts) or "-"


def _store(uow: UnitOfWork, code: str, name: str) -> dict[str, Any]:
    try:
        loc = inventory.get_location_by_code(uow, code)
    except Problem:
        return {"code": code, "name": name, "address": "-", "hours": "-"}
    return {"code": code, "name": loc.name or name, "address": loc.address or "-",
            "hours": hours_text(loc.opening_hours)}


def _order_context(data: Any) -> dict[str, Any]:
    lines = [{"sku": ln.sku, "quantity": ln.quantity, "line_total": str(ln.line_total)}
             for ln in getattr(data, "lines", None) or [] if hasattr(ln, "line_total")]
    return {"id": data.order_id, "number": data.number, "total": str(data.total), "currency": data.currency,
            "status": data.status, "lines": lines}


def queue_for_events(uow: UnitOfWork, events: list[DomainEvent]) -> int:
    """Records the transactional messages these order events call for. No commit."""
    wanted = [e for e in events if e.type in TEMPLATE_FOR]
    if not wanted:
        return 0
    ids = {e.data.customer_id for e in wanted if e.data.customer_id is not None}
    people = {c["id"]: c for c in customers.customer_attributes(uow, sorted(ids))} if ids else {}
    book = TemplateBook(uow)
    rows = []
    for event in wanted:
        data = event.data
        template = TEMPLATE_FOR[event.type]
        context: dict[str, Any] = {"order": _order_context(data), "shop": shop_context()}
        if event.type == "order.refunded":
            if data.amount is None:
                continue  # the order became "refunded" after its returns: the money events told already
            if data.cause == "undelivered_lines":
                continue  # the line's own mail (queue_line_refunds) says what was refused and what came back
            context["refund"] = {"amount": str(data.amount.amount), "currency": data.amount.currency}
        elif event.type == "order.returned":
            context["refund"] = ({"amount": str(data.refund.amount), "currency": data.refund.currency}
                                 if data.refund else None)
        elif event.type == "order.paid":
            context["payment"] = {"amount": str(data.amount.amount), "currency": data.amount.currency}
        elif event.type == "order.ready_for_pickup":
            context["store"] = _store(uow, data.location, data.location_name)
        elif event.type == "order.fulfilled":
            context["tracking"] = {"carrier": data.tracking.carrier, "number": data.tracking.number,
                                   "url": data.tracking.url}
        person = people.get(data.customer_id) if data.customer_id is not None else None
        address = (person or {}).get("email") or getattr(data, "email", None)
        customer = dict(person or {}, id=data.customer_id)
        context["customer"] = customer_context(customer)
        rows.append(message_row(uow, book, idem_key=f"event:{event.id}:{template}", kind="transactional",
                                channel="email", customer=customer, address=address, template_key=template,
                                context=context, due_at=event.occurred_at))
    return insert_rows(uow, rows)


# -- the other senders: a marketplace line that will not be delivered, a B2B quote -------------

def _person(uow: UnitOfWork, customer_id: int | None) -> dict[str, Any] | None:
    if customer_id is None:
        return None
    found = customers.customer_attributes(uow, [customer_id])
    return found[0] if found else None


def queue_line_refunds(uow: UnitOfWork, events: list[DomainEvent]) -> int:
    """`seller_order.line_refunded` -> the customer is told which line a seller refused (or
    could not deliver) and that its money went back (or was never taken). A failed refund is
    not mailed: the sellers' retry job refunds it later and emits the event again. No commit."""
    wanted = [e for e in events if e.data.outcome in ("refunded", "not_captured")]
    if not wanted:
        return 0
    sellers = marketplace.sellers_by_ids(uow, {e.data.seller_id for e in wanted if e.data.seller_id})
    book = TemplateBook(uow)
    rows = []
    for event in wanted:
        data = event.data
        try:
            order = orders.get_order(uow, data.order_id)
        except Problem:
            log.warning("line refund %s: order %s is gone; not mailed", event.id, data.order_id)
            continue
        line = next((ln for ln in order["lines"] if ln["line"] == data.line_no), {})
        seller = sellers.get(data.seller_id)
        person = _person(uow, data.customer_id if data.customer_id is not None else order.get("customer_id"))
        customer = dict(person or {}, id=(person or {}).get("id"))
        context = {
            "order": {"id": order["id"], "number": order["number"], "currency": order["currency"]},
            "line": {"line_no": data.line_no, "sku": data.sku or line.get("sku"), "name": data.name or line.get("name"),
                     "quantity": data.quantity or line.get("quantity"), "reason": data.reason,
                     "outcome": data.outcome, "seller": seller.name if seller else "The seller"},
            "refund": {"amount": str(data.amount.amount), "currency": data.amount.currency},
            "customer": customer_context(customer), "shop": shop_context()}
        rows.append(message_row(uow, book, idem_key=f"event:{event.id}:line_refused", kind="transactional",
                                channel="email", customer=customer, address=(person or {}).get("email") or order.get("email"),
                                template_key="line_refused", context=context, due_at=event.occurred_at))
    return insert_rows(uow, rows)


def queue_quotes_sent(uow: UnitOfWork, events: list[DomainEvent]) -> int:
    """`quote.sent` -> the buyer (the account's buying customer record) gets the quote's link.
    A quote of an account without a buying customer is recorded as skipped (no address). No
    commit."""
    book = TemplateBook(uow)
    rows = []
    base = shop_context()["url"]
    for event in events:
        data = event.data
        person = _person(uow, data.customer_id)
        customer = dict(person or {}, id=data.customer_id)
        context = {
            "quote": {"id": data.quote_id, "number": data.number, "revision": data.revision,
                      "account": data.account_name, "total": str(data.total.amount), "currency": data.total.currency,
                      "valid_until": data.valid_until, "url": base + data.accept_path},
            "customer": customer_context(customer), "shop": shop_context()}
        rows.append(message_row(uow, book, idem_key=f"event:{event.id}:quote_sent", kind="transactional",
                                channel="email", customer=customer, address=(person or {}).get("email"),
                                template_key="quote_sent", context=context, due_at=event.occurred_at))
    return insert_rows(uow, rows)


def queue_instore_links(uow: UnitOfWork, events: list[DomainEvent]) -> int:
    """`instore.cart_sent` / `instore.payment_link_sent` -> the customer gets the link, by
    the channel instore chose (email, or SMS to the phone when there is no email). No commit."""
    book = TemplateBook(uow)
    rows = []
    shop = shop_context()
    for event in events:
        data = event.data
        person = _person(uow, data.customer_id)
        customer = dict(person or {}, id=data.customer_id)
        address = (person or {}).get("phone" if data.channel == "sms" else "email")
        context: dict[str, Any] = {"customer": customer_context(customer), "shop": shop}
        if event.type == "instore.cart_sent":
            template = "cart_held"
            context |= {"store": {"code": data.store_code, "name": data.store_name},
                        "cart": {"id": data.cart_id, "units": data.units, "total": str(data.total.amount),
                                 "currency": data.total.currency, "url": shop["url"] + data.path,
                                 "expires_on": data.expires_at.date().isoformat()}}
        else:
            template = "payment_link"
            context["order"] = {"id": data.order_id, "number": data.number, "total": str(data.total.amount),
                                "currency": data.total.currency, "url": shop["url"] + data.path}
        rows.append(message_row(uow, book, idem_key=f"event:{event.id}:{template}", kind="transactional",
                                channel=data.channel, customer=customer, address=address, template_key=template,
                                context=context, due_at=event.occurred_at))
    return insert_rows(uow, rows)
