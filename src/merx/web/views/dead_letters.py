"""The dead letters page (`/console/dead-letters`, admin only, as `/api/v1/subscribers`): the
durable subscribers (the reactions fed from the outbox: loyalty points, analytics, search...)
with their lag and last error, and the events they gave up on. An admin retries a letter once
the cause is fixed (`POST .../dead-letters/{id}/retry`: it runs the event through its
subscriber again) or discards it with a reason (`POST .../dead-letters/{id}/discard`), one at a
time or a selection at once. Both are audited under the signed-in admin."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from merx.core import subscribers
from merx.core.auth import Role
from merx.core.errors import Problem
from merx.web.common import PageRoute, console_user, csrf_form, problem_sentence, redirect, render, unit_of_work
from merx.web.views.helpers import text_or_none
from merx.web.views.listing import list_query, whole_list_page

router = APIRouter(route_class=PageRoute)
PAGE = "/console/dead-letters"
PAGE_SIZE = 50
MAX_REASON = 500


def _letter_row(d: Any) -> dict[str, Any]:
    return {"id": d.id, "subscriber": d.subscriber, "event_id": d.event_id, "event_seq": d.event_seq,
            "event_type": d.event_type, "error": d.error, "attempts": d.attempts, "status": d.status,
            "created_at": d.created_at, "last_tried_at": d.last_tried_at, "resolved_at": d.resolved_at}


def _page(request: Request, me: Any, *, errors: dict[str, str] | None = None, status: int = 200) -> Response:
    lq = list_query(request, "show", path=PAGE)
    everything = lq.filters.get("show") == "all"
    with unit_of_work(request, me, readonly=True) as uow:
        status_rows = subscribers.subscriber_status(uow)
        letters = [_letter_row(d) for d in subscribers.dead_letters(uow, include_retried=everything)]
    letters.sort(key=lambda d: -d["id"])  # newest first
    rows, next_cursor = whole_list_page(letters, lq, lambda d: (d["subscriber"], d["event_type"], d["error"]),
                                        key=lambda d: d["id"], limit=PAGE_SIZE)
    return render(request, "console/dead_letters.html", {
        "subscribers": status_rows, "letters": rows, "next_cursor": next_cursor, "lq": lq, "everything": everything,
        "errors": errors or {}, "max_reason": MAX_REASON}, status=status, principal=me)


@router.get(PAGE)
def dead_letters_page(request: Request) -> Response:
    return _page(request, console_user(request, Role.admin))


def _retry(request: Request, me: Any, letter_id: int) -> bool:
    """True when the event went through; False when the subscriber failed on it again."""
    letter = subscribers.retry_dead_letter(request.app.state.db, letter_id, actor=me)
    return letter.status == "retried"


@router.post(PAGE + "/{letter_id}/retry")
def retry_letter(request: Request, letter_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, Role.admin)
    try:
        ok = _retry(request, me, letter_id)
    except Problem as e:  # 404 too: the event may have left the outbox since the page was drawn
        if e.status >= 500:
            raise
        return redirect(PAGE, flash=f"Not retried: {problem_sentence(e)}")
    return redirect(PAGE, flash=f"Dead letter {letter_id} handled: the subscriber took it." if ok
                    else f"Dead letter {letter_id} failed again: see its new error below.")


@router.post(PAGE + "/{letter_id}/discard")
def discard_letter(request: Request, letter_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, Role.admin)
    reason = text_or_none(form.get("reason"))
    if reason and len(reason) > MAX_REASON:
        return _page(request, me, errors={f"reason{letter_id}": f"is at most {MAX_REASON} characters"}, status=422)
    try:
        with unit_of_work(request, me) as uow:
            subscribers.discard_dead_letter(uow, letter_id, reason)
    except Problem as e:
        if e.status >= 500 or e.status == 404:
            raise
        return redirect(PAGE, flash=f"Not discarded: {problem_sentence(e)}")
    return redirect(PAGE, flash=f"Dead letter {letter_id} discarded: it will not be retried.")


@router.post(PAGE + "/bulk")
def bulk_letters(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """Retry or discard the ticked letters; each one on its own (one failing retry does not
    stop the others), and the answer counts what happened."""
    me = console_user(request, Role.admin)
    ids = [int(i) for i in form["__multi__"].getlist("id") if str(i).isdigit()]
    action = form.get("action")
    reason = text_or_none(form.get("reason"))
    if action not in ("retry", "discard") or not ids:
        return redirect(PAGE, flash="Tick dead letters and choose retry or discard.")
    if reason and len(reason) > MAX_REASON:
        return _page(request, me, errors={"bulk_reason": f"is at most {MAX_REASON} characters"}, status=422)
    done, failed, skipped = 0, 0, 0
    for letter_id in ids:
        try:
            if action == "retry":
                if _retry(request, me, letter_id):
                    done += 1
                else:
                    failed += 1
            else:
                with unit_of_work(request, me) as uow:
                    subscribers.discard_dead_letter(uow, letter_id, reason)
                done += 1
        except Problem as e:
            if e.status >= 500:
                raise
            skipped += 1  # already resolved by someone else, or gone
    verb = "handled" if action == "retry" else "discarded"
    parts = [f"{done} {verb}"] + ([f"{failed} failed again"] if failed else []) + (
        [f"{skipped} already resolved or gone"] if skipped else [])
    return redirect(PAGE, flash=", ".join(parts) + ".")
