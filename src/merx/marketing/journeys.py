"""Journeys: event-triggered flows of waits and sends with a stop condition. Each person's
position is a row (`mkt_journey_enrolments`: step, state, next_at), so it survives restarts
and is visible in the console. Triggers: `cart.abandoned` (abandoned cart), `order.placed`
(post-purchase follow-up, replenishment), `consent.granted` (welcome series), `segment`
(win-back: enrolled by the `marketing.journeys` job from a CRM segment such as RFM "At risk").

The job (`advance`) moves due enrolments on: a step whose condition stops the journey (the
person bought since they entered) exits it; otherwise the step's message is queued (the
sender then applies windows, quiet hours, the cap and consent) and the next step is timed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from merx.core.errors import Conflict, NotFound, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.crm import public as crm
from merx.customers import public as customers
from merx.marketing.messages import _insert, customer_context, insert_rows, message_row, shop_context
from merx.marketing.models import Journey, JourneyEnrolment, Message, OrderNote
from merx.marketing.templating import TemplateBook

TRIGGERS = ("cart.abandoned", "order.placed", "consent.granted", "segment")

BUILT_IN_JOURNEYS = [
    {"key": "abandoned_cart", "name": "Abandoned cart", "trigger": "cart.abandoned",
     "steps": [{"wait_hours": 4, "template": "abandoned_cart", "stop_if_purchased": True}]},
    {"key": "post_purchase", "name": "Post-purchase follow-up", "trigger": "order.placed",
     "steps": [{"wait_hours": 24 * 7, "template": "post_purchase", "stop_if_purchased": False}]},
    {"key": "welcome", "name": "Welcome series", "trigger": "consent.granted",
     "steps": [{"wait_hours": 0, "template": "welcome", "stop_if_purchased": False}]},
]


def check_steps(steps: Any) -> list[dict[str, Any]]:
    if not isinstance(steps, list) or not steps:
        raise ValidationProblem.for_field("steps", "at least one step")
    out = []
    for i, step in enumerate(steps):
        if not isinstance(step, dict) or not isinstance(step.get("template"), str):
            raise ValidationProblem.for_field(f"steps[{i}].template", "is required")
        wait = step.get("wait_hours", 0)
        if not isinstance(wait, (int, float)) or wait < 0 or wait > 24 * 365:
            raise ValidationProblem.for_field(f"steps[{i}].wait_hours", "between 0 and 8760")
        out.append({"wait_hours": float(wait), "template": step["template"],
                    "stop_if_purchased": bool(step.get("stop_if_purchased", False))})
    return out


def ensure_built_in(uow: UnitOfWork) -> None:
    """The built-in journeys exist (active) unless someone created or changed them. No commit."""
    known = set(uow.session.scalars(sa.select(Journey.key)))
    for j in BUILT_IN_JOURNEYS:
        if j["key"] not in known:
            uow.session.add(Journey(key=j["key"], name=j["name"], trigger=j["trigger"], steps=j["steps"], active=True))
    uow.session.flush()


def create_journey(uow: UnitOfWork, *, key: str, name: str, trigger: str, steps: Any, segment_id: int | None = None,
                   active: bool = True) -> Journey:
    if trigger not in TRIGGERS:
        raise ValidationProblem.for_field("trigger", f"one of {', '.join(TRIGGERS)}")
    if uow.session.scalar(sa.select(Journey.id).where(Journey.key == key)) is not None:
        raise Conflict(f"A journey with key {key!r} exists", type_slug="duplicate")
    checked = check_steps(steps)
    if trigger == "segment":
        if segment_id is None:
            raise ValidationProblem.for_field("segment_id", "a segment journey needs its segment")
        crm.get_segment(uow, segment_id)
        checked[0]["segment_id"] = segment_id
    j = Journey(key=key, name=name, trigger=trigger, steps=checked, active=active)
    uow.session.add(j)
    uow.session.flush()
    uow.audit("create", "journey", j.id, after={"key": key, "trigger": trigger, "steps": checked})
    uow.commit()
    return j


def set_active(uow: UnitOfWork, journey_id: int, active: bool) -> Journey:
    j = uow.session.get(Journey, journey_id)
    if j is None:
        raise NotFound(f"No journey {journey_id}")
    j.active = active
    uow.audit("update", "journey", j.id, after={"active": active})
    uow.commit()
    return j


def enrol(uow: UnitOfWork, trigger: str, customer_id: int, reference: str, at: dt.datetime) -> int:
    """Enrols the person in every active journey with this trigger (once per reference). No commit."""
    n = 0
    for j in uow.session.scalars(sa.select(Journey).where(Journey.trigger == trigger, Journey.active.is_(True))):
        n += enrol_one(uow, j, customer_id, reference[:64], at)
    return n


def on_purchase(uow: UnitOfWork, customer_id: int, placed_at: dt.datetime) -> None:
    """A purchase ends the journeys that stop on one: waiting enrolments exit, and a reminder
    still in the queue is cancelled. No commit."""
    stoppers = [j.id for j in uow.session.scalars(sa.select(Journey))
                if any(s.get("stop_if_purchased") for s in j.steps)]
    if not stoppers:
        return
    enrolments = list(uow.session.scalars(sa.select(JourneyEnrolment).where(
        JourneyEnrolment.customer_id == customer_id, JourneyEnrolment.journey_id.in_(stoppers),
        JourneyEnrolment.entered_at <= placed_at, JourneyEnrolment.state.in_(("waiting", "completed")))))
    for e in enrolments:
        if e.state == "waiting":
            e.state, e.exit_reason, e.next_at, e.updated_at = "exited", "purchased", None, placed_at
    ids = [e.id for e in enrolments]
    if ids:
        uow.session.execute(sa.update(Message).where(Message.enrolment_id.in_(ids), Message.status == "queued")
                            .values(status="cancelled", reason="the customer bought after entering the journey"))


def enrol_segments(uow: UnitOfWork, now: dt.datetime) -> int:
    """Segment-triggered journeys (win-back): members not yet enrolled this month enter."""
    n = 0
    for j in uow.session.scalars(sa.select(Journey).where(Journey.trigger == "segment", Journey.active.is_(True))):
        segment_id = j.steps[0].get("segment_id")
        if segment_id is None:
            continue
        try:
            members = crm.member_ids(uow, int(segment_id))
        except NotFound:
            continue
        for cid in members:
            n += enrol_one(uow, j, cid, f"{now:%Y-%m}", now)
    return n


def enrol_one(uow: UnitOfWork, j: Journey, customer_id: int, reference: str, at: dt.datetime) -> int:
    result = uow.session.execute(_insert(uow.dialect)(JourneyEnrolment).values(
        journey_id=j.id, customer_id=customer_id, reference=reference, step=0, state="waiting",
        next_at=at + dt.timedelta(hours=float(j.steps[0].get("wait_hours", 0))), entered_at=at, updated_at=at)
        .on_conflict_do_nothing(index_elements=["journey_id", "customer_id", "reference"]))
    return max(result.rowcount or 0, 0)


def advance(uow: UnitOfWork, now: dt.datetime, limit: int = 1000) -> dict[str, int]:
    """Moves due enrolments one step. Commits."""
    counts = {"queued": 0, "exited": 0, "completed": 0}
    due = list(uow.session.scalars(sa.select(JourneyEnrolment).where(
        JourneyEnrolment.state == "waiting", JourneyEnrolment.next_at <= now)
        .order_by(JourneyEnrolment.next_at, JourneyEnrolment.id).limit(limit)))
    if not due:
        uow.commit()
        return counts
    journeys = {j.id: j for j in uow.session.scalars(sa.select(Journey).where(
        Journey.id.in_(sorted({e.journey_id for e in due}))))}
    people = {c["id"]: c for c in customers.customer_attributes(uow, sorted({e.customer_id for e in due}))}
    bought = _bought_since(uow, due)
    book = TemplateBook(uow)
    rows = []
    for e in due:
        j = journeys[e.journey_id]
        step = j.steps[e.step]
        if step.get("stop_if_purchased") and e.id in bought:
            e.state, e.exit_reason, e.next_at = "exited", "purchased", None
            counts["exited"] += 1
            continue
        person = people.get(e.customer_id)
        if person is None:
            e.state, e.exit_reason, e.next_at = "exited", "customer record gone", None
            counts["exited"] += 1
            continue
        rows.append(message_row(uow, book, idem_key=f"journey:{e.id}:{e.step}", kind="marketing", channel=j.channel,
                                customer=person, address=person.get("email") if j.channel == "email" else person.get("phone"),
                                template_key=step["template"], enrolment_id=e.id, due_at=now,
                                context={"customer": customer_context(person), "shop": shop_context(),
                                         "journey": {"key": j.key, "name": j.name, "reference": e.reference}}))
        counts["queued"] += 1
        e.updated_at = now
        if e.step + 1 < len(j.steps):
            e.step += 1
            e.next_at = now + dt.timedelta(hours=float(j.steps[e.step].get("wait_hours", 0)))
        else:
            e.state, e.next_at = "completed", None
            counts["completed"] += 1
    insert_rows(uow, rows)
    uow.commit()
    return counts


def _bought_since(uow: UnitOfWork, enrolments: list[JourneyEnrolment]) -> set[int]:
    out = set()
    ids = sorted({e.customer_id for e in enrolments})
    first: dict[int, dt.datetime] = {}
    for cid, placed in uow.session.execute(sa.select(OrderNote.customer_id, OrderNote.placed_at).where(
            OrderNote.customer_id.in_(ids), OrderNote.status != "cancelled")):
        first.setdefault(cid, placed)
        first[cid] = max(first[cid], placed)
    for e in enrolments:
        last = first.get(e.customer_id)
        if last is not None and last >= e.entered_at:
            out.add(e.id)
    return out
