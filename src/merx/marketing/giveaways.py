"""Giveaways: entries (a purchase in the period, or added by staff after checking e.g. a photo
post), and a draw that can be reproduced: the seed and a SHA-256 digest of the sorted entries
are recorded and audited, so anyone can re-run `rules.draw(entries, seed, n)` and get the same
winners. Winners get the `giveaway_winner` message (transactional: they entered)."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.errors import Conflict, NotFound, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.customers import public as customers
from merx.marketing import rules
from merx.marketing.messages import customer_context, insert_rows, message_row, shop_context
from merx.marketing.models import Giveaway, GiveawayEntry, OrderNote
from merx.marketing.templating import TemplateBook

RULES = ("purchase", "manual")


def _giveaway(uow: UnitOfWork, giveaway_id: int) -> Giveaway:
    g = uow.session.get(Giveaway, giveaway_id)
    if g is None:
        raise NotFound(f"No giveaway {giveaway_id}")
    return g


def create_giveaway(uow: UnitOfWork, *, name: str, rule: str, starts_at: dt.datetime, ends_at: dt.datetime,
                    winners: int = 1) -> Giveaway:
    if rule not in RULES:
        raise ValidationProblem.for_field("rule", f"one of {', '.join(RULES)}")
    if ends_at <= starts_at:
        raise ValidationProblem.for_field("ends_at", "must be after starts_at")
    g = Giveaway(name=name, rule=rule, starts_at=starts_at, ends_at=ends_at, winners_count=winners, status="open")
    uow.session.add(g)
    uow.session.flush()
    uow.audit("create", "giveaway", g.id, after={"name": name, "rule": rule, "winners": winners})
    uow.created("giveaway", g.id)
    uow.commit()
    return g


def add_entry(uow: UnitOfWork, giveaway_id: int, customer_id: int, evidence: str | None) -> GiveawayEntry:
    g = _giveaway(uow, giveaway_id)
    if g.status != "open":
        raise Conflict("The draw has taken place; entries are closed", type_slug="giveaway-drawn")
    if g.rule != "manual":
        raise ValidationProblem.for_field("customer_id", "entries of a purchase giveaway come from orders")
    try:
        customers.get_customer(uow, customer_id)
    except NotFound:
        raise ValidationProblem.for_field("customer_id", "no such customer", "unknown_customer") from None
    if uow.session.scalar(sa.select(GiveawayEntry.id).where(GiveawayEntry.giveaway_id == g.id,
                                                            GiveawayEntry.customer_id == customer_id)):
        raise Conflict("This customer has entered already", type_slug="duplicate")
    e = GiveawayEntry(giveaway_id=g.id, customer_id=customer_id, evidence=evidence)
    uow.session.add(e)
    uow.audit("enter", "giveaway", g.id, after={"customer_id": customer_id, "evidence": evidence})
    uow.commit()
    return e


def entries(uow: UnitOfWork, g: Giveaway) -> list[int]:
    if g.rule == "purchase":
        return sorted(set(uow.session.scalars(sa.select(OrderNote.customer_id).where(
            OrderNote.customer_id.is_not(None), OrderNote.status != "cancelled",
            OrderNote.placed_at >= g.starts_at, OrderNote.placed_at < g.ends_at))))
    return sorted(uow.session.scalars(sa.select(GiveawayEntry.customer_id).where(GiveawayEntry.giveaway_id == g.id)))


def draw(uow: UnitOfWork, giveaway_id: int, *, seed: int | None = None, now: dt.datetime | None = None) -> Giveaway:
    g = _giveaway(uow, giveaway_id)
    now = now or utcnow()
    if g.status != "open":
        raise Conflict("This giveaway was drawn already", type_slug="giveaway-drawn")
    if now < g.ends_at:
        raise Conflict(f"Entries are open until {g.ends_at.isoformat()}", type_slug="giveaway-open")
    pool = entries(uow, g)
    if not pool:
        raise Conflict("No entries to draw from", type_slug="giveaway-empty")
    g.seed = seed if seed is not None else secrets.randbits(48)
    g.entries_digest = rules.entries_digest(pool)
    g.winners = rules.draw(pool, g.seed, g.winners_count)
    g.status, g.drawn_at = "drawn", now
    uow.audit("draw", "giveaway", g.id, after={"seed": g.seed, "entries": len(pool), "entries_sha256": g.entries_digest,
                                               "winners": g.winners})
    people = {p["id"]: p for p in customers.customer_attributes(uow, g.winners)}
    book = TemplateBook(uow)
    insert_rows(uow, [message_row(uow, book, idem_key=f"giveaway:{g.id}:{cid}", kind="transactional", channel="email",
                                  customer=people.get(cid, {"id": cid}), address=people.get(cid, {}).get("email"),
                                  template_key="giveaway_winner", due_at=now,
                                  context={"customer": customer_context(people.get(cid, {})), "shop": shop_context(),
                                           "giveaway": {"id": g.id, "name": g.name}})
                      for cid in g.winners])
    uow.commit()
    return g


def giveaway_out(uow: UnitOfWork, g: Giveaway) -> dict[str, Any]:
    return {"id": g.id, "name": g.name, "rule": g.rule, "starts_at": g.starts_at, "ends_at": g.ends_at,
            "winners_count": g.winners_count, "status": g.status, "seed": g.seed, "entries_sha256": g.entries_digest,
            "winners": g.winners or [], "drawn_at": g.drawn_at, "entries": len(entries(uow, g))}


def list_out(uow: UnitOfWork) -> list[dict[str, Any]]:
    return [giveaway_out(uow, g) for g in uow.session.scalars(sa.select(Giveaway).order_by(Giveaway.id.desc()))]
