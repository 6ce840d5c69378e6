"""Journeys: event-triggered flows of waits and sends with a stop condition. Each person's
position is a row (`mkt_journey_enrolments`: step, state, next_at), so it survives restarts
and is visible in the console. Triggers: `cart.abandoned` (abandoned cart), `order.placed`
(post-purchase follow-up), `consent.granted` (welcome series), `segment` (win-back: enrolled
by the `marketing.journeys` job from a CRM segment such as RFM "At risk"), `product.viewed`
(browse abandonment: an identified shopper's product views, read from CRM by the job, at most
one enrolment per person and local day), `replenishment` (a consumable bought: the first step
waits the days its rule gives per SKU or category; buying it again restarts the wait).

The job (`advance`) moves due enrolments on: a step whose condition stops the journey (the
person bought since they entered) exits it; otherwise the step's message is queued (the
sender then applies windows, quiet hours, the cap and consent) and the next step is timed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from merx.core.errors import Conflict, NotFound, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.catalog import public as catalog
from merx.crm import public as crm
from merx.customers import public as customers
from merx.marketing.messages import _insert, customer_context, insert_rows, message_row, shop_context
from merx.marketing import inapp, rules
from merx.marketing.models import Journey, JourneyEnrolment, Message, OrderNote
from merx.marketing.settings import get_marketing_settings
from merx.marketing.templating import TemplateBook

TRIGGERS = ("cart.abandoned", "order.placed", "consent.granted", "segment", "product.viewed", "replenishment")
BROWSE_LOOKBACK = dt.timedelta(hours=48)

BUILT_IN_JOURNEYS = [
    {"key": "abandoned_cart", "name": "Abandoned cart", "trigger": "cart.abandoned",
     "steps": [{"wait_hours": 4, "template": "abandoned_cart", "stop_if_purchased": True}]},
    {"key": "post_purchase", "name": "Post-purchase follow-up", "trigger": "order.placed",
     "steps": [{"wait_hours": 24 * 7, "template": "post_purchase", "stop_if_purchased": False}]},
    {"key": "welcome", "name": "Welcome series", "trigger": "consent.granted",
     "steps": [{"wait_hours": 0, "template": "welcome", "stop_if_purchased": False}]},
    {"key": "browse_abandonment", "name": "Browse abandonment", "trigger": "product.viewed",
     "steps": [{"wait_hours": 2, "template": "browse_abandonment", "stop_if_purchased": True}]},
]


def check_replenish(rules: Any) -> list[dict[str, Any]]:
    """A replenishment journey's intervals: [{"sku": ..., "days": N} | {"category": ..., "days": N}]."""
    if not isinstance(rules, list) or not rules or len(rules) > 500:
        raise ValidationProblem.for_field("steps[0].replenish", "between 1 and 500 rules of {sku or category, days}")
    out = []
    for i, rule in enumerate(rules):
        field = f"steps[0].replenish[{i}]"
        if not isinstance(rule, dict) or set(rule) - {"sku", "category", "days"}:
            raise ValidationProblem.for_field(field, "a rule has sku or category, and days")
        target = [k for k in ("sku", "category") if isinstance(rule.get(k), str) and rule[k].strip()]
        if len(target) != 1:
            raise ValidationProblem.for_field(field, "name exactly one of sku or category")
        days = rule.get("days")
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 730:
            raise ValidationProblem.for_field(f"{field}.days", "whole days between 1 and 730")
        out.append({target[0]: rule[target[0]].strip(), "days": days})
    return out


def replenish_days(rules: list[dict[str, Any]], sku: str, category: str | None) -> int | None:
    """The interval for a bought line: a SKU rule wins over its category's rule."""
    for rule in rules:
        if rule.get("sku") == sku:
            return int(rule["days"])
    for rule in rules:
        if category is not None and rule.get("category") == category:
            return int(rule["days"])
    return None


def check_steps(steps: Any, trigger: str | None = None) -> list[dict[str, Any]]:
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
    if trigger == "replenishment":
        out[0]["replenish"] = check_replenish(steps[0].get("replenish") if isinstance(steps[0], dict) else None)
        if any(step["stop_if_purchased"] for step in out):
            # the purchase that enrols would stop it at once; buying the item again restarts it instead
            raise ValidationProblem.for_field("steps[0].stop_if_purchased", "a replenishment journey cannot stop on "
                                              "a purchase (buying the item again restarts its wait)")
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
    checked = check_steps(steps, trigger)
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


def enrol_browsers(uow: UnitOfWork, now: dt.datetime) -> int:
    """Browse abandonment: identified shoppers' product views (CRM) enter the active
    `product.viewed` journeys, entered at the view's time, at most once per person and local
    day (the first product viewed that day). Views are read from the last enrolment on (an hour
    back, for late-arriving events), at most BROWSE_LOOKBACK. No commit."""
    flows = list(uow.session.scalars(sa.select(Journey).where(Journey.trigger == "product.viewed",
                                                              Journey.active.is_(True))))
    if not flows:
        return 0
    last = uow.session.scalar(sa.select(sa.func.max(JourneyEnrolment.entered_at)).where(
        JourneyEnrolment.journey_id.in_([j.id for j in flows])))
    since = now - BROWSE_LOOKBACK
    if last is not None:
        since = max(since, last - dt.timedelta(hours=1))
    views = crm.product_views(uow, since, now)
    if not views:
        return 0
    zone = rules.zone_for(None, get_marketing_settings().timezone)
    n = 0
    for j in flows:
        days = {(cid, ref.split(":")[1]) for cid, ref in uow.session.execute(
            sa.select(JourneyEnrolment.customer_id, JourneyEnrolment.reference).where(
                JourneyEnrolment.journey_id == j.id, JourneyEnrolment.entered_at >= since - dt.timedelta(days=1)))}
        for view in views:
            day = view.occurred_at.astimezone(zone).date().isoformat()
            if (view.customer_id, day) in days:
                continue
            days.add((view.customer_id, day))
            n += enrol_one(uow, j, view.customer_id, f"view:{day}:{view.sku}"[:64], view.occurred_at)
    return n


def enrol_replenishment(uow: UnitOfWork, customer_id: int, order_id: int, lines: list[Any],
                        placed_at: dt.datetime) -> int:
    """An order's consumables enter the active replenishment journeys: the first step is due
    the rule's days after the purchase. A waiting enrolment for the same SKU (an earlier
    purchase) exits: the new purchase restarts the wait. No commit."""
    n = 0
    for j in uow.session.scalars(sa.select(Journey).where(Journey.trigger == "replenishment",
                                                          Journey.active.is_(True))):
        rules_ = j.steps[0].get("replenish") or []
        for line in lines:
            days = replenish_days(rules_, line.sku, line.category)
            if days is None:
                continue
            prefix = f"replenish:{line.sku}:"[:64]
            uow.session.execute(sa.update(JourneyEnrolment).where(
                JourneyEnrolment.journey_id == j.id, JourneyEnrolment.customer_id == customer_id,
                JourneyEnrolment.state == "waiting", JourneyEnrolment.entered_at < placed_at,
                JourneyEnrolment.reference.startswith(prefix, autoescape=True))
                .values(state="exited", exit_reason="bought again", next_at=None, updated_at=placed_at))
            n += enrol_one(uow, j, customer_id, f"replenish:{line.sku}:{order_id}"[:64], placed_at,
                           first_due=placed_at + dt.timedelta(days=days))
    return n


def enrol_one(uow: UnitOfWork, j: Journey, customer_id: int, reference: str, at: dt.datetime, *,
              first_due: dt.datetime | None = None) -> int:
    next_at = first_due if first_due is not None else at + dt.timedelta(hours=float(j.steps[0].get("wait_hours", 0)))
    result = uow.session.execute(_insert(uow.dialect)(JourneyEnrolment).values(
        journey_id=j.id, customer_id=customer_id, reference=reference, step=0, state="waiting",
        next_at=next_at, entered_at=at, updated_at=at)
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
    products = _products_of(uow, due)
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
                                customer=person, address=inapp.address_for(j.channel, person),
                                template_key=step["template"], enrolment_id=e.id, due_at=now,
                                context={"customer": customer_context(person), "shop": shop_context(),
                                         "journey": {"key": j.key, "name": j.name, "reference": e.reference},
                                         "product": products.get(_sku_of(e.reference))}))
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


def _sku_of(reference: str) -> str | None:
    """The product a browse ("view:DAY:SKU") or replenishment ("replenish:SKU:ORDER") enrolment is about."""
    kind, _, rest = reference.partition(":")
    if kind == "view":
        return rest.partition(":")[2] or None
    if kind == "replenish":
        return rest.rpartition(":")[0] or None
    return None


def _products_of(uow: UnitOfWork, enrolments: list[JourneyEnrolment]) -> dict[str, dict[str, Any]]:
    skus = {sku for e in enrolments if (sku := _sku_of(e.reference))}
    if not skus:
        return {}
    base = shop_context()["url"]
    return {sku: {"sku": sku, "name": info.name, "url": f"{base}/product/{info.product_id}"}
            for sku, info in catalog.lookup_skus(uow, sorted(skus)).items()}
