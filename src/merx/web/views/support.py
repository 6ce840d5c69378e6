"""Console support pages: tickets (list, detail with reply, note and status), the live chat
inbox (messages polled by HTMX, canned replies, chat -> ticket), the SLA report, reviews
moderation, feedback statistics with charts and CSV, and the segment canvas. Everything is
read and written through `merx.support.public`."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from merx.core import accounts
from merx.core.auth import Role
from merx.core.errors import Problem
from merx.core.spreadsheet import safe_row
from merx.support import public as support
from merx.web.common import PageRoute, console_user, csrf_form, problem_sentence, redirect, render, unit_of_work
from merx.web.views.helpers import int_or_none, text_or_none

router = APIRouter(route_class=PageRoute)
AGENTS = (Role.admin, Role.staff, Role.support_agent)
KINDS = ("complaint", "return_request", "question", "wish", "objection", "praise")
STATUSES = ("new", "open", "waiting_on_customer", "waiting_on_us", "solved", "closed")


@router.get("/console/support")
def tickets_page(request: Request, status: str | None = None, kind: str | None = None, q: str | None = None,
                 mine: str | None = None, cursor: str | None = None) -> Response:
    me = console_user(request, *AGENTS)
    filters = {"status": status or "", "kind": kind or "", "q": q or "", "mine": bool(mine)}
    with unit_of_work(request, me, readonly=True) as uow:
        page = support.list_tickets(uow, cursor=cursor or None, status=text_or_none(status) if status != "open" else None,
                                    open_only=status == "open" or not status, kind=text_or_none(kind), q=text_or_none(q),
                                    assignee_id=me.user_id if mine else None)
        open_count = support.open_ticket_count(uow)
    return render(request, "console/support_tickets.html", {"rows": page.items, "next_cursor": page.next_cursor,
                                                             "filters": filters, "kinds": KINDS, "statuses": STATUSES,
                                                             "open_count": open_count}, principal=me)


@router.get("/console/support/tickets/{ticket_id}")
def ticket_page(request: Request, ticket_id: int) -> Response:
    me = console_user(request, *AGENTS)
    with unit_of_work(request, me, readonly=True) as uow:
        ticket = support.get_ticket(uow, ticket_id)
        assignee = accounts.user_names(uow, [ticket.assignee_id]).get(ticket.assignee_id) if ticket.assignee_id else None
        team = next((t.name for t in support.list_teams(uow) if t.id == ticket.team_id), None)
    return render(request, "console/support_ticket.html", {"t": ticket, "statuses": STATUSES, "assignee": assignee,
                                                            "team": team}, principal=me)


def _ticket_action(request: Request, ticket_id: int, fn: Any, done: str) -> Response:
    back = f"/console/support/tickets/{ticket_id}"
    me = console_user(request, *AGENTS)
    try:
        with unit_of_work(request, me) as uow:
            fn(uow)
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect(back, flash=f"Not done: {problem_sentence(e)}")
    return redirect(back, flash=done)


@router.post("/console/support/tickets/{ticket_id}/reply")
def ticket_reply(request: Request, ticket_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    body = str(form.get("body", "")).strip()
    status = text_or_none(form.get("status"))
    if not body:
        return redirect(f"/console/support/tickets/{ticket_id}", flash="Write a reply first.")
    return _ticket_action(request, ticket_id, lambda uow: support.reply(uow, ticket_id, body, status=status),
                          "Reply sent.")


@router.post("/console/support/tickets/{ticket_id}/note")
def ticket_note(request: Request, ticket_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    body = str(form.get("body", "")).strip()
    if not body:
        return redirect(f"/console/support/tickets/{ticket_id}", flash="Write a note first.")
    return _ticket_action(request, ticket_id, lambda uow: support.add_note(uow, ticket_id, body), "Note added.")


@router.post("/console/support/tickets/{ticket_id}/update")
def ticket_update(request: Request, ticket_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    def change(uow: Any) -> None:
        fields: dict[str, Any] = {}
        for name in ("status", "priority", "kind"):
            if text_or_none(form.get(name)):
                fields[name] = form[name]
        if "tags" in form:
            fields["tags"] = [t for t in str(form["tags"]).replace(";", ",").split(",") if t.strip()]
        support.update_ticket(uow, ticket_id, support.TicketUpdate(**fields))

    return _ticket_action(request, ticket_id, change, "Ticket updated.")


# --------------------------------------------------------------------------------------------
# Live chat inbox
# --------------------------------------------------------------------------------------------


@router.get("/console/support/chats")
def chats_page(request: Request, chat: int | None = None) -> Response:
    me = console_user(request, *AGENTS)
    with unit_of_work(request, me, readonly=True) as uow:
        chats = support.list_chats(uow, status=None)[:100]
        current = support.get_chat(uow, chat) if chat else None
        messages = support.messages_after(uow, chat, 0) if chat else []
        canned = support.canned_replies(uow)
    return render(request, "console/support_chats.html", {"chats": chats, "current": current, "messages": messages,
                                                           "canned": canned}, principal=me)


@router.get("/console/support/chats/{chat_id}/messages")
def chat_messages(request: Request, chat_id: int) -> Response:
    me = console_user(request, *AGENTS)
    with unit_of_work(request, me, readonly=True) as uow:
        messages = support.messages_after(uow, chat_id, 0)
    return render(request, "console/support_chat_messages.html", {"messages": messages}, principal=me)


@router.post("/console/support/chats/{chat_id}/messages")
def chat_send(request: Request, chat_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *AGENTS)
    body = str(form.get("body", "")).strip()
    error = None
    try:
        if body:
            with unit_of_work(request, me) as uow:
                support.post_chat_message(uow, chat_id, body[:2000])
    except Problem as e:
        if e.status >= 500:
            raise
        error = problem_sentence(e)
    with unit_of_work(request, me, readonly=True) as uow:
        messages = support.messages_after(uow, chat_id, 0)
    return render(request, "console/support_chat_messages.html", {"messages": messages, "error": error}, principal=me)


@router.post("/console/support/chats/{chat_id}/ticket")
def chat_ticket(request: Request, chat_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *AGENTS)
    kind = str(form.get("kind") or "question")
    try:
        with unit_of_work(request, me) as uow:
            chat = support.escalate(uow, chat_id, support.ChatEscalateIn(kind=kind if kind in KINDS else "question"))
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect(f"/console/support/chats?chat={chat_id}", flash=f"Not done: {problem_sentence(e)}")
    return redirect(f"/console/support/tickets/{chat.ticket_id}", flash="The chat is now a ticket.")


# --------------------------------------------------------------------------------------------
# SLA, reviews, feedback, canvas
# --------------------------------------------------------------------------------------------


@router.get("/console/support/sla")
def sla_page(request: Request) -> Response:
    me = console_user(request, *AGENTS)
    with unit_of_work(request, me, readonly=True) as uow:
        report = support.sla_report(uow)
        policies = support.list_policies(uow)
        teams = support.list_teams(uow)
    spec = {"type": "bar", "data": {"labels": [r["policy"] for r in report], "datasets": [
        {"label": "First response met %", "data": [r["first_response_attainment"] for r in report]},
        {"label": "Resolution met %", "data": [r["resolution_attainment"] for r in report]}]},
        "options": {"scales": {"y": {"min": 0, "max": 100}}}}
    return render(request, "console/support_sla.html", {"report": report, "policies": policies, "teams": teams,
                                                         "spec": spec}, principal=me)


@router.get("/console/support/reviews")
def reviews_page(request: Request, status: str | None = "pending") -> Response:
    me = console_user(request, *AGENTS)
    with unit_of_work(request, me, readonly=True) as uow:
        page = support.list_reviews(uow, status=status or None, limit=100)
        counts = support.review_summary(uow)
    return render(request, "console/support_reviews.html", {"rows": page.items, "status": status or "",
                                                             "counts": counts}, principal=me)


@router.post("/console/support/reviews/{review_id}")
def review_decide(request: Request, review_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *AGENTS)
    decision = str(form.get("decision", ""))
    try:
        with unit_of_work(request, me) as uow:
            if decision in ("publish", "reject"):
                support.moderate(uow, review_id, decision)
            if text_or_none(form.get("reply")):
                support.reply_to_review(uow, review_id, str(form["reply"]).strip())
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect("/console/support/reviews", flash=f"Not done: {problem_sentence(e)}")
    return redirect("/console/support/reviews", flash="Review updated.")


def _feedback_charts(stats: dict[str, Any]) -> list[dict[str, Any]]:
    weeks = stats["by_week"]
    kinds = [k for k in KINDS if any(w.get(k) for w in weeks)]
    return [
        {"title": "Tickets per week by kind", "spec": {"type": "bar", "data": {
            "labels": [w["week"] for w in weeks],
            "datasets": [{"label": k.replace("_", " "), "data": [w.get(k, 0) for w in weeks]} for k in kinds]},
            "options": {"scales": {"x": {"stacked": True}, "y": {"stacked": True}}}}},
        {"title": "Tickets by channel", "spec": {"type": "doughnut", "data": {
            "labels": list(stats["by_channel"]), "datasets": [{"label": "tickets", "data": list(stats["by_channel"].values())}]}}},
        {"title": "NPS by month", "spec": {"type": "line", "data": {
            "labels": [m["month"] for m in stats["nps"]],
            "datasets": [{"label": "NPS", "data": [m["score"] for m in stats["nps"]]}]},
            "options": {"scales": {"y": {"min": -100, "max": 100}}}}},
    ]


@router.get("/console/support/feedback")
def feedback_page(request: Request) -> Response:
    me = console_user(request, *AGENTS)
    with unit_of_work(request, me, readonly=True) as uow:
        stats = support.stats(uow)
        surveys = support.list_surveys(uow)
        verbatims = support.verbatims(uow, "nps", 10)
        tasks = support.list_tasks(uow)
    return render(request, "console/support_feedback.html", {"s": stats, "charts": _feedback_charts(stats),
                                                              "surveys": surveys, "verbatims": verbatims,
                                                              "tasks": tasks}, principal=me)


@router.post("/console/support/follow-ups/{task_id}")
def follow_up_done(request: Request, task_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *AGENTS)
    outcome = str(form.get("outcome", ""))
    if outcome not in ("happy", "neutral", "problem", "unreachable"):
        return redirect("/console/support/feedback", flash="Pick the call's outcome.")
    try:
        with unit_of_work(request, me) as uow:
            done = support.complete_task(uow, task_id, outcome, text_or_none(form.get("note")))
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect("/console/support/feedback", flash=f"Not done: {problem_sentence(e)}")
    if done.follow_up_ticket_id and outcome == "problem":
        return redirect(f"/console/support/tickets/{done.follow_up_ticket_id}", flash="Recorded; a ticket was opened.")
    return redirect("/console/support/feedback", flash="Follow-up recorded.")


@router.get("/console/support/feedback.csv")
def feedback_csv(request: Request) -> Response:
    me = console_user(request, *AGENTS)
    with unit_of_work(request, me, readonly=True) as uow:
        stats = support.stats(uow)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["dimension", "value", "tickets"])
    for dim in ("by_kind", "by_reason", "by_channel"):
        for value, n in stats[dim].items():
            w.writerow(safe_row([dim[3:], value, n]))
    for p in stats["by_product"]:
        w.writerow(safe_row(["product", p["name"] or p["product_id"], p["tickets"]]))
    for c in stats["by_category"]:
        w.writerow(safe_row(["category", c["name"], c["tickets"]]))
    for o in stats["objections_ranked"]:
        w.writerow(safe_row(["objection", o["reason"], o["count"]]))
    return Response(buf.getvalue(), media_type="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="feedback.csv"'})


@router.get("/console/support/canvas")
def canvas_page(request: Request, segment: int | None = None) -> Response:
    me = console_user(request, *AGENTS)
    from merx.crm import public as crm

    with unit_of_work(request, me, readonly=True) as uow:
        segments = [{"id": s.id, "name": s.name} for s in crm.list_segments(uow)]
        # Opened without a choice: the first segment that has a canvas, not an empty one.
        drawn = [i for i in support.canvas_segment_ids(uow) if any(s["id"] == i for s in segments)]
        segment = segment or next(iter(drawn), segments[0]["id"] if segments else None)
        canvas = support.canvas(uow, segment) if segment else None
    return render(request, "console/support_canvas.html", {"segments": segments, "segment": segment,
                                                            "canvas": canvas}, principal=me)


@router.post("/console/support/canvas/{segment_id}")
def canvas_add(request: Request, segment_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *AGENTS)
    back = f"/console/support/canvas?segment={segment_id}"
    try:
        with unit_of_work(request, me) as uow:
            support.add_canvas_item(uow, segment_id, support.CanvasItemIn(
                kind=str(form.get("kind", "pain")), label=str(form.get("label", "")).strip(),
                tag=str(form.get("tag", "")).strip().lower()))
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect(back, flash=f"Not added: {problem_sentence(e)}")
    except Exception as e:  # pydantic validation of the form
        from pydantic import ValidationError

        if not isinstance(e, ValidationError):
            raise
        return redirect(back, flash="Not added: give a kind, a label and a tag (lower-case letters, digits, -).")
    return redirect(back, flash="Canvas item added.")


def open_tickets_for_customer(uow: Any, customer_id: int) -> list[Any]:
    """For the customer 360 page."""
    return support.open_tickets_of(uow, customer_id)


__all__ = ["router", "open_tickets_for_customer", "int_or_none"]
