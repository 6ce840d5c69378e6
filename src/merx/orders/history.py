"""An order's timeline and its staff notes, for the console's order page.

The timeline is the order's own domain events from the outbox, oldest first, each told as a
sentence; nothing is recorded twice, so the timeline cannot disagree with what webhooks and
the CRM were told. Notes are internal (staff only) and append-only."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from merx.core.errors import Forbidden, ValidationProblem
from merx.core.outbox import aggregate_history
from merx.core.uow import UnitOfWork
from merx.orders.models import OrderNote
from merx.orders.state import READ_ALL, _load

MAX_NOTE = 4000


def _money(value: Any) -> str:
    return f"{value['amount']} {value['currency']}" if isinstance(value, dict) else ""


def describe(event_type: str, p: dict[str, Any]) -> str:
    """One sentence per order event a merchant reads on the order page."""
    kind = event_type.split(".", 1)[1] if "." in event_type else event_type
    if kind == "placed":
        where = f" for pickup at {p['fulfilment'].get('location')}" if (p.get("fulfilment") or {}).get("type") == "pickup" else ""
        return f"Placed on the {p.get('channel', 'web')} channel{where}: {p.get('total')} {p.get('currency')}"
    if kind == "confirmed":
        return "Confirmed: payment arranged"
    if kind == "paid":
        return f"Payment of {_money(p.get('amount'))} received ({p.get('provider')})"
    if kind == "fulfilled":
        t = p.get("tracking") or {}
        return f"Shipped with {t.get('carrier')}, tracking {t.get('number')}"
    if kind == "delivered":
        return "Delivered"
    if kind == "ready_for_pickup":
        return f"Ready for pickup at {p.get('location_name') or p.get('location')}"
    if kind == "picked_up":
        return f"Handed over at {p.get('location')}"
    if kind == "completed":
        return "Completed"
    if kind == "cancelled":
        return f"Cancelled: {p.get('reason') or 'no reason given'}"
    if kind == "returned":
        items = ", ".join(f"{ln['quantity']} × {ln['sku']}" + ("" if ln.get("restocked") else " (not restocked)")
                          for ln in p.get("lines", []))
        return f"Returned at {p.get('location')}: {items}"
    if kind == "refunded":
        return f"Refunded {_money(p.get('amount'))} (refunded in all: {_money(p.get('refunded_total'))})"
    return kind.replace("_", " ").capitalize()


def timeline(uow: UnitOfWork, order_id: int) -> list[dict[str, Any]]:
    order = _load(uow, order_id)
    events = [{"at": e.occurred_at, "kind": "event", "type": e.type, "text": describe(e.type, e.payload or {})}
              for e in aggregate_history(uow.session, "order", order.id)]
    notes = [{"at": n["created_at"], "kind": "note", "type": "note", "text": n["text"], "author": n["author"]}
             for n in notes_of(uow, order_id)]
    return sorted(events + notes, key=lambda item: item["at"])


def _staff(uow: UnitOfWork) -> None:
    if uow.actor.role not in READ_ALL:
        raise Forbidden("Only staff read and write order notes")


def notes_of(uow: UnitOfWork, order_id: int) -> list[dict[str, Any]]:
    _staff(uow)
    _load(uow, order_id)
    rows = uow.session.scalars(sa.select(OrderNote).where(OrderNote.order_id == order_id).order_by(OrderNote.id))
    return [{"id": n.id, "text": n.text, "author": n.author_name, "created_at": n.created_at} for n in rows]


def add_note(uow: UnitOfWork, order_id: int, text: str) -> dict[str, Any]:
    _staff(uow)
    text = (text or "").strip()
    if not text:
        raise ValidationProblem.for_field("text", "write the note")
    if len(text) > MAX_NOTE:
        raise ValidationProblem.for_field("text", f"at most {MAX_NOTE} characters")
    order = _load(uow, order_id)
    note = OrderNote(order_id=order.id, author_user_id=uow.actor.user_id, author_name=uow.actor.name, text=text)
    uow.session.add(note)
    uow.session.flush()
    uow.audit("note", "order", order.id, after={"note_id": note.id})
    uow.commit()
    return {"id": note.id, "text": note.text, "author": note.author_name, "created_at": note.created_at}
