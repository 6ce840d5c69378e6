"""Feedback: CSAT after a solved ticket, NPS surveys to a segment on a schedule (detractors
open tickets), follow-up tasks after events, feedback statistics and the customer profile
canvas (jobs, pains and gains ranked by the tickets and reviews tagged with them)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections import Counter, defaultdict
from typing import Any

import sqlalchemy as sa

from merx.core.auth import Role
from merx.core.db import Database, utcnow
from merx.core.errors import Conflict, Forbidden, NotFound, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.support import rules
from merx.support.events import SurveyAnswered
from merx.support.models import (CanvasItem, FollowUpRule, FollowUpTask, Review, Survey, SurveyResponse, Ticket)
from merx.support.schemas import (CanvasItemIn, CanvasItemOut, CanvasOut, FollowUpRuleIn, FollowUpTaskOut, SurveyIn,
                                  SurveyOut, TicketCreate)

AGENTS = (Role.admin, Role.staff, Role.support_agent)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _invite(uow: UnitOfWork, *, kind: str, email: str | None, customer_id: int | None, ticket_id: int | None = None,
            survey_id: int | None = None, subject: str, question: str) -> str:
    token = secrets.token_urlsafe(24)
    uow.session.add(SurveyResponse(kind=kind, survey_id=survey_id, ticket_id=ticket_id, customer_id=customer_id,
                                   email=email, token_hash=_hash(token), requested_at=utcnow()))
    if email:
        from merx.support.service import queue_mail

        scale = "1 (very unhappy) to 5 (very happy)" if kind == "csat" else "0 (not at all) to 10 (extremely)"
        queue_mail(uow, to=email, subject=subject, purpose=kind, ticket_id=ticket_id,
                   text=f"{question}\n\nAnswer from {scale}: POST /api/v1/surveys/answers/{token} "
                        f"with {{\"score\": N, \"comment\": \"...\"}}\n")
    return token


def request_csat(uow: UnitOfWork, t: Ticket) -> str | None:
    """One rating request per solved ticket (a ticket solved again is not asked twice)."""
    if uow.session.scalar(sa.select(SurveyResponse.id).where(SurveyResponse.ticket_id == t.id,
                                                             SurveyResponse.kind == "csat")) is not None:
        return None
    return _invite(uow, kind="csat", email=t.requester_email, customer_id=t.customer_id, ticket_id=t.id,
                   subject=f"How did we do? {rules.subject_with_token(t.subject, t.token)}",
                   question=f"Your request “{t.subject}” was solved. How satisfied are you with our help?")


def answer(uow: UnitOfWork, token: str, score: int, comment: str | None) -> dict[str, Any]:
    """The answer behind an invitation token (anyone holding the token; once). A detractor
    (NPS 0-6, CSAT 1-2) opens a complaint ticket with the verbatim."""
    row = uow.session.scalar(sa.select(SurveyResponse).where(SurveyResponse.token_hash == _hash(token)))
    if row is None:
        raise NotFound("No survey invitation for this link")
    if row.answered_at is not None:
        raise Conflict("This survey was already answered", type_slug="already-answered")
    if row.kind == "csat" and not 1 <= score <= 5:
        raise ValidationProblem.for_field("score", "a satisfaction rating is 1 to 5")
    row.score, row.comment, row.answered_at = score, comment, utcnow()
    detractor = rules.is_detractor(row.kind, score)
    if detractor:
        from merx.core.auth import SYSTEM
        from merx.support.service import open_ticket

        actor, uow.actor = uow.actor, SYSTEM
        try:
            what = "NPS" if row.kind == "nps" else "satisfaction"
            t, _ = open_ticket(uow, TicketCreate(kind="complaint", subject=f"Detractor: {what} score {score}",
                                                 body=comment or "(no comment)", channel="web_form",
                                                 priority="high", reason=f"{row.kind}_detractor",
                                                 requester_email=row.email, customer_id=row.customer_id,
                                                 tags=[f"{row.kind}-detractor"]), commit=False)
        finally:
            uow.actor = actor
        row.follow_up_ticket_id = t.id
    uow.session.flush()
    uow.emit(SurveyAnswered(response_id=row.id, kind=row.kind, score=score, customer_id=row.customer_id,
                            detractor=detractor))
    uow.commit()
    return {"kind": row.kind, "score": score, "follow_up_ticket_id": row.follow_up_ticket_id}


# ----------------------------------------------------------------------------------------------
# NPS surveys
# ----------------------------------------------------------------------------------------------


def _survey_out(uow: UnitOfWork, s: Survey) -> SurveyOut:
    scores = [r for r in uow.session.scalars(sa.select(SurveyResponse.score).where(
        SurveyResponse.survey_id == s.id, SurveyResponse.score.is_not(None)))]
    invited = uow.session.scalar(sa.select(sa.func.count()).select_from(SurveyResponse)
                                 .where(SurveyResponse.survey_id == s.id)) or 0
    return SurveyOut(id=s.id, name=s.name, kind=s.kind, segment_id=s.segment_id, question=s.question,
                     every_days=s.every_days, next_run_at=s.next_run_at, active=s.active, invited=int(invited),
                     answered=len(scores), nps=rules.nps(scores))


def create_survey(uow: UnitOfWork, data: SurveyIn, *, now: dt.datetime | None = None) -> SurveyOut:
    if uow.actor.role not in (Role.admin, Role.staff):
        raise Forbidden("Surveys are set up by admins and staff")
    if data.segment_id is not None:
        from merx.crm.public import get_segment

        try:
            get_segment(uow, data.segment_id)
        except NotFound:
            raise ValidationProblem.for_field("segment_id", "no such segment") from None
    s = Survey(name=data.name, kind="nps", segment_id=data.segment_id, question=data.question,
               every_days=data.every_days, next_run_at=now or utcnow(), active=True)
    uow.session.add(s)
    uow.session.flush()
    uow.created("survey", s.id)
    out = _survey_out(uow, s)
    uow.commit()
    return out


def update_survey(uow: UnitOfWork, survey_id: int, data: SurveyIn, *, active: bool = True) -> SurveyOut:
    """Changes the survey's name, question, segment and period (and pauses or resumes it);
    invitations already sent keep their question."""
    if uow.actor.role not in (Role.admin, Role.staff):
        raise Forbidden("Surveys are set up by admins and staff")
    s = uow.session.get(Survey, survey_id)
    if s is None:
        raise NotFound(f"No survey {survey_id}")
    if data.segment_id is not None:
        from merx.crm.public import get_segment

        try:
            get_segment(uow, data.segment_id)
        except NotFound:
            raise ValidationProblem.for_field("segment_id", "no such segment") from None
    s.name, s.segment_id, s.question, s.every_days, s.active = (data.name, data.segment_id, data.question,
                                                                 data.every_days, active)
    uow.session.flush()
    uow.audit("update", "support_survey", s.id, after={**data.model_dump(mode="json"), "active": active})
    out = _survey_out(uow, s)
    uow.commit()
    return out


def get_survey(uow: UnitOfWork, survey_id: int) -> SurveyOut:
    s = uow.session.get(Survey, survey_id)
    if s is None:
        raise NotFound(f"No survey {survey_id}")
    return _survey_out(uow, s)


def list_surveys(uow: UnitOfWork) -> list[SurveyOut]:
    return [_survey_out(uow, s) for s in uow.session.scalars(sa.select(Survey).order_by(Survey.id))]


def send_survey(uow: UnitOfWork, survey_id: int, *, now: dt.datetime | None = None,
                tokens: list[str] | None = None) -> int:
    """Invite the segment's members (each at most once per run period). Does not commit.
    `tokens` collects the invitation tokens (the demo answers some of its own invitations)."""
    now = now or utcnow()
    s = uow.session.get(Survey, survey_id)
    if s is None:
        raise NotFound(f"Survey {survey_id} does not exist")
    from merx.crm.public import member_ids
    from merx.customers.public import raw_customers

    ids = member_ids(uow, s.segment_id) if s.segment_id is not None else []
    since = now - dt.timedelta(days=s.every_days)
    asked = set(uow.session.scalars(sa.select(SurveyResponse.customer_id).where(
        SurveyResponse.survey_id == s.id, SurveyResponse.requested_at > since)))
    records = raw_customers(uow, [i for i in ids if i not in asked])
    sent = 0
    for cid, rec in sorted(records.items()):
        if getattr(rec, "erased_at", None) is not None or not rec.email:
            continue
        token = _invite(uow, kind="nps", email=rec.email, customer_id=cid, survey_id=s.id, subject=s.name,
                        question=s.question)
        if tokens is not None:
            tokens.append(token)
        sent += 1
    s.next_run_at = now + dt.timedelta(days=s.every_days)
    return sent


def run_due_surveys(db: Database, *, now: dt.datetime) -> dict[str, int]:
    invited = 0
    with UnitOfWork(db) as uow:
        due = list(uow.session.scalars(sa.select(Survey.id).where(Survey.active.is_(True), Survey.next_run_at <= now)))
        for sid in due:
            invited += send_survey(uow, sid, now=now)
        uow.commit()
    if invited:
        from merx.support import mailout

        mailout.send_pending(db, now=now)
    return {"surveys": len(due), "invited": invited}


def scores_trend(uow: UnitOfWork, kind: str) -> list[dict[str, Any]]:
    """Per month: answers, the score (NPS or CSAT %) and the verbatims' count."""
    by_month: dict[str, list[int]] = defaultdict(list)
    comments: Counter[str] = Counter()
    for score, at, comment in uow.session.execute(sa.select(SurveyResponse.score, SurveyResponse.answered_at,
                                                            SurveyResponse.comment).where(
            SurveyResponse.kind == kind, SurveyResponse.score.is_not(None))):
        month = at.strftime("%Y-%m")
        by_month[month].append(score)
        if comment:
            comments[month] += 1
    calc = rules.nps if kind == "nps" else rules.csat
    return [{"month": m, "answers": len(v), "score": calc(v), "verbatims": comments[m]} for m, v in sorted(by_month.items())]


def verbatims(uow: UnitOfWork, kind: str, limit: int = 20) -> list[dict[str, Any]]:
    rows = uow.session.execute(sa.select(SurveyResponse.score, SurveyResponse.comment, SurveyResponse.answered_at)
                               .where(SurveyResponse.kind == kind, SurveyResponse.comment.is_not(None))
                               .order_by(SurveyResponse.answered_at.desc()).limit(limit))
    return [{"score": s, "comment": c, "answered_at": a} for s, c, a in rows]


# ----------------------------------------------------------------------------------------------
# Follow-ups
# ----------------------------------------------------------------------------------------------


def create_follow_up_rule(uow: UnitOfWork, data: FollowUpRuleIn) -> dict[str, Any]:
    if uow.actor.role not in (Role.admin, Role.staff):
        raise Forbidden("Follow-up rules are set up by admins and staff")
    rule = FollowUpRule(**data.model_dump(), trigger="order.delivered", active=True)
    uow.session.add(rule)
    uow.session.flush()
    uow.commit()
    return {"id": rule.id, **data.model_dump()}


def tasks_for_delivery(uow: UnitOfWork, order_id: int, customer_id: int | None, delivered_at: dt.datetime) -> int:
    """Tasks of every active rule matching a delivered order (once per rule and order)."""
    rules_ = list(uow.session.scalars(sa.select(FollowUpRule).where(FollowUpRule.active.is_(True))))
    if not rules_:
        return 0
    categories: set[str] = set()
    if any(r.category for r in rules_):
        from merx.orders.public import get_order

        order = get_order(uow, order_id)
        categories = {str(ln.get("category")) for ln in order["lines"] if ln.get("category")}
    made = 0
    for r in rules_:
        if r.category and r.category not in categories:
            continue
        if uow.session.scalar(sa.select(FollowUpTask.id).where(FollowUpTask.rule_id == r.id,
                                                               FollowUpTask.order_id == order_id)) is not None:
            continue
        uow.session.add(FollowUpTask(rule_id=r.id, customer_id=customer_id, order_id=order_id,
                                     due_at=delivered_at + dt.timedelta(days=r.delay_days), script=r.script,
                                     status="open"))
        made += 1
    return made


def _task_out(t: FollowUpTask, ticket_id: int | None = None) -> FollowUpTaskOut:
    return FollowUpTaskOut(id=t.id, rule_id=t.rule_id, customer_id=t.customer_id, order_id=t.order_id, due_at=t.due_at,
                           script=t.script, status=t.status, outcome=t.outcome, outcome_note=t.outcome_note,
                           follow_up_ticket_id=ticket_id)


def task_out(t: FollowUpTask) -> FollowUpTaskOut:
    return _task_out(t)


def list_tasks(uow: UnitOfWork, *, due_by: dt.datetime | None = None, status: str | None = "open") -> list[FollowUpTaskOut]:
    stmt = sa.select(FollowUpTask).order_by(FollowUpTask.due_at, FollowUpTask.id).limit(500)
    if status:
        stmt = stmt.where(FollowUpTask.status == status)
    if due_by is not None:
        stmt = stmt.where(FollowUpTask.due_at <= due_by)
    return [_task_out(t) for t in uow.session.scalars(stmt)]


def complete_task(uow: UnitOfWork, task_id: int, outcome: str, note: str | None) -> FollowUpTaskOut:
    """The call's outcome is feedback: a `problem` opens a complaint ticket with the note,
    `happy` is recorded as praise."""
    if uow.actor.role not in AGENTS:
        raise Forbidden("Follow-up calls are made by support staff")
    task = uow.session.get(FollowUpTask, task_id)
    if task is None:
        raise NotFound(f"Follow-up task {task_id} does not exist")
    if task.status == "done":
        raise Conflict("This follow-up is already done", type_slug="already-done")
    task.status, task.outcome, task.outcome_note = "done", outcome, note
    task.done_by, task.done_at = uow.actor.user_id, utcnow()
    ticket_id = None
    if outcome in ("problem", "happy"):
        from merx.support.service import open_ticket

        kind = "complaint" if outcome == "problem" else "praise"
        t, _ = open_ticket(uow, TicketCreate(kind=kind, subject=f"Follow-up call: {outcome}", body=note or "",
                                             channel="phone", customer_id=task.customer_id, order_id=task.order_id,
                                             reason="follow_up", tags=["follow-up"]), commit=False)
        if outcome == "happy":
            t.status, t.solved_at = "solved", utcnow()
        ticket_id = t.id
    uow.commit()
    return _task_out(task, ticket_id)


# ----------------------------------------------------------------------------------------------
# Statistics
# ----------------------------------------------------------------------------------------------


def stats(uow: UnitOfWork, *, since: dt.datetime | None = None) -> dict[str, Any]:
    """Counts by kind, reason, product, product category, channel and week; objections ranked
    by reason; return requests by reason with the returns they started; review ratings."""
    stmt = sa.select(Ticket.kind, Ticket.reason, Ticket.product_id, Ticket.channel, Ticket.created_at,
                     Ticket.return_id, Ticket.tags, Ticket.order_id, Ticket.order_line)
    if since is not None:
        stmt = stmt.where(Ticket.created_at >= since)
    by_kind: Counter[str] = Counter()
    by_reason: Counter[str] = Counter()
    by_product: Counter[int] = Counter()
    by_channel: Counter[str] = Counter()
    by_week: dict[str, Counter[str]] = defaultdict(Counter)
    objections: Counter[str] = Counter()
    returns: dict[str, dict[str, int]] = defaultdict(lambda: {"requests": 0, "returns_started": 0})
    linked: list[tuple[str, int | None, tuple[int, int] | None]] = []  # kind, product, (order, line)
    for kind, reason, product_id, channel, created, return_id, tags, order_id, order_line in uow.session.execute(stmt):
        linked.append((kind, product_id, (order_id, order_line) if order_id and order_line else None))
        by_kind[kind] += 1
        by_channel[channel] += 1
        if reason:
            by_reason[reason] += 1
        if product_id:
            by_product[product_id] += 1
        iso = created.isocalendar()
        by_week[f"{iso[0]}-W{iso[1]:02d}"][kind] += 1
        if kind == "objection":
            objections[reason or (tags[0] if tags else "unspecified")] += 1
        if kind == "return_request":
            r = returns[reason or "unspecified"]
            r["requests"] += 1
            r["returns_started"] += 1 if return_id else 0
    product_names: dict[int, str] = {}
    if by_product:
        from merx.catalog.public import get_product

        for pid, _ in by_product.most_common(20):
            try:
                product_names[pid] = get_product(uow, pid).name
            except NotFound:
                continue
    ratings = uow.session.execute(sa.select(Review.rating, sa.func.count()).where(Review.status == "published")
                                  .group_by(Review.rating)).all()
    return {
        "by_kind": dict(by_kind.most_common()),
        "by_reason": dict(by_reason.most_common(30)),
        "by_channel": dict(by_channel.most_common()),
        "by_product": [{"product_id": pid, "name": product_names.get(pid), "tickets": n}
                       for pid, n in by_product.most_common(20)],
        "by_category": by_category(uow, linked),
        "by_week": [{"week": w, **dict(c)} for w, c in sorted(by_week.items())],
        "objections_ranked": [{"reason": r, "count": n} for r, n in objections.most_common(20)],
        "return_reasons": [{"reason": r, **v} for r, v in sorted(returns.items(), key=lambda kv: -kv[1]["requests"])],
        "review_ratings": {str(r): n for r, n in sorted(ratings)},
        "csat": scores_trend(uow, "csat"),
        "nps": scores_trend(uow, "nps"),
    }


UNCATEGORISED = "uncategorised"
ORDER_LOOKUPS = 2000  # order-line tickets without a product: the orders read to find it (newest kept)


def by_category(uow: UnitOfWork, linked: list[tuple[str, int | None, tuple[int, int] | None]]) -> list[dict[str, Any]]:
    """Tickets per product category (of the ticket's product, else of its order line's
    product), with their kinds, and the published reviews per category with the average
    rating. Tickets linked to neither are left out; a product without a category counts as
    "uncategorised"."""
    from merx.catalog.public import product_categories

    line_products: dict[tuple[int, int], int | None] = {}
    wanted_lines = list(dict.fromkeys(ln for _, pid, ln in linked if pid is None and ln is not None))
    if wanted_lines:
        from merx.orders.public import get_order

        for order_id in list(dict.fromkeys(o for o, _ in reversed(wanted_lines)))[:ORDER_LOOKUPS]:
            try:
                order = get_order(uow, order_id)
            except (NotFound, Forbidden):
                continue
            for line in order["lines"]:
                line_products[(order_id, int(line["line"]))] = line.get("product_id")
    products = [pid if pid is not None else line_products.get(ln) if ln else None for _, pid, ln in linked]
    reviews = uow.session.execute(sa.select(Review.product_id, sa.func.count(), sa.func.sum(Review.rating))
                                  .where(Review.status == "published").group_by(Review.product_id)).all()
    categories = product_categories(uow, [p for p in products if p] + [r[0] for r in reviews])
    rows: dict[str, dict[str, Any]] = {}

    def row(pid: int) -> dict[str, Any] | None:
        if pid not in categories:
            return None
        code, name = categories[pid] or (UNCATEGORISED, UNCATEGORISED)
        return rows.setdefault(code, {"category": code, "name": name, "tickets": 0, "kinds": Counter(),
                                      "reviews": 0, "rating_sum": 0})

    for (kind, _, _), pid in zip(linked, products):
        r = row(pid) if pid else None
        if r is not None:
            r["tickets"] += 1
            r["kinds"][kind] += 1
    for pid, count, total in reviews:
        r = row(pid)
        if r is not None:
            r["reviews"] += int(count)
            r["rating_sum"] += int(total or 0)
    out = []
    for r in sorted(rows.values(), key=lambda r: (-r["tickets"], -r["reviews"], r["category"])):
        rating_sum = r.pop("rating_sum")
        r["kinds"] = dict(r["kinds"].most_common())
        r["average_rating"] = round(rating_sum / r["reviews"], 2) if r["reviews"] else None
        out.append(r)
    return out


# ----------------------------------------------------------------------------------------------
# Customer profile canvas
# ----------------------------------------------------------------------------------------------


def add_canvas_item(uow: UnitOfWork, segment_id: int, data: CanvasItemIn) -> CanvasItemOut:
    if uow.actor.role not in AGENTS:
        raise Forbidden("The canvas is edited by staff and support agents")
    from merx.crm.public import get_segment

    get_segment(uow, segment_id)
    item = CanvasItem(segment_id=segment_id, **data.model_dump())
    uow.session.add(item)
    uow.session.flush()
    uow.commit()
    return CanvasItemOut(id=item.id, kind=item.kind, label=item.label, tag=item.tag, notes=item.notes, tickets=0,
                         reviews=0, evidence=0, examples=[])


def delete_canvas_item(uow: UnitOfWork, segment_id: int, item_id: int) -> None:
    if uow.actor.role not in AGENTS:
        raise Forbidden("The canvas is edited by staff and support agents")
    item = uow.session.get(CanvasItem, item_id)
    if item is None or item.segment_id != segment_id:
        raise NotFound(f"Canvas item {item_id} does not exist")
    uow.session.delete(item)
    uow.commit()


def canvas_segment_ids(uow: UnitOfWork) -> list[int]:
    """The segments that have a canvas (at least one item), in the order their canvases began."""
    return list(uow.session.scalars(sa.select(CanvasItem.segment_id).group_by(CanvasItem.segment_id)
                                    .order_by(sa.func.min(CanvasItem.id))))


def canvas(uow: UnitOfWork, segment_id: int) -> CanvasOut:
    """Each item with its evidence among the segment's members: tickets and reviews carrying
    its tag (counts and a few examples); items ranked by evidence, most first."""
    from merx.crm.public import member_ids

    members = set(member_ids(uow, segment_id))
    items = list(uow.session.scalars(sa.select(CanvasItem).where(CanvasItem.segment_id == segment_id)))
    tags = {i.tag for i in items}
    ticket_hits: dict[str, list[str]] = defaultdict(list)
    review_hits: dict[str, list[str]] = defaultdict(list)
    if tags and members:
        for subject, t_tags, cid in uow.session.execute(sa.select(Ticket.subject, Ticket.tags, Ticket.customer_id)
                                                        .where(Ticket.customer_id.is_not(None))):
            if cid in members:
                for tag in set(t_tags or []) & tags:
                    ticket_hits[tag].append(subject)
        for title, body, r_tags, cid in uow.session.execute(sa.select(Review.title, Review.body, Review.tags,
                                                                      Review.customer_id)
                                                            .where(Review.customer_id.is_not(None))):
            if cid in members:
                for tag in set(r_tags or []) & tags:
                    review_hits[tag].append(title or body[:120])
    out: dict[str, list[CanvasItemOut]] = {"job": [], "pain": [], "gain": []}
    for i in items:
        t, r = ticket_hits.get(i.tag, []), review_hits.get(i.tag, [])
        out[i.kind].append(CanvasItemOut(id=i.id, kind=i.kind, label=i.label, tag=i.tag, notes=i.notes,
                                         tickets=len(t), reviews=len(r), evidence=len(t) + len(r),
                                         examples=(t + r)[:3]))
    for lst in out.values():
        lst.sort(key=lambda x: (-x.evidence, x.label))
    return CanvasOut(segment_id=segment_id, members=len(members), jobs=out["job"], pains=out["pain"], gains=out["gain"])
