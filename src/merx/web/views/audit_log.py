"""The audit log page (`/console/audit-log`, admin only, as `GET /api/v1/audit-log`): who changed
what and when, newest first, filtered by entity, user, action and a time window. A filter that
is not valid is named beside its field (422) and the list stays empty rather than unfiltered."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from merx.core import accounts, audit
from merx.core.auth import Role
from merx.core.errors import Problem
from merx.core.spreadsheet import table_file
from merx.web.common import PageRoute, console_user, render, unit_of_work
from merx.web.views.helpers import int_or_none, text_or_none
from merx.web.views.listing import list_query

router = APIRouter(route_class=PageRoute)
PAGE_SIZE = 50
EXPORT_LIMIT = 100_000  # rows in one file; the page says so beside the links
FILTERS = ("entity_type", "entity_id", "actor_user_id", "action", "since", "until")
# where an entry's record has its own console page
ENTITY_PAGES = {"promotion": "/console/promotions/{}", "order": "/console/orders/{}",
                "customer": "/console/customers/{}", "deal": "/console/sales/deals/{}",
                "lead": "/console/sales/leads/{}", "account": "/console/sales/accounts/{}"}


def _when(value: str | None, field: str, errors: dict[str, str]) -> dt.datetime | None:
    """A datetime-local value (read as UTC, as the form says), or the field's message."""
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    except ValueError:
        errors[field] = "is not a date and time like 2026-03-01T09:00"
        return None


NOT_CHANGES = {"version", "updated_at", "open_now"}  # bookkeeping or derived, not what someone changed


def changes(before: Any, after: Any, limit: int = 6) -> list[tuple[str, str, str]]:
    """(field, before, after) for what an entry changed, for the table; long values cut."""
    old = before if isinstance(before, dict) else {}
    new = after if isinstance(after, dict) else {}

    def short(v: Any) -> str:
        text = "—" if v is None else str(v)
        return text if len(text) <= 60 else text[:57] + "…"

    first = ("name", "title", "code", "sku", "email", "status", "stage", "role", "active")
    keys = sorted(set(old) | set(new), key=lambda k: (first.index(k) if k in first else len(first), k))
    # an empty value on both sides of a creation is noise ("customer groups: []")
    rows = [(k, short(old.get(k)), short(new.get(k))) for k in keys if k not in NOT_CHANGES
            and old.get(k) != new.get(k) and (old.get(k) or new.get(k) not in (None, "", [], {}))]
    return rows[:limit]


def _filters(lq: Any) -> tuple[dict[str, str], dict[str, Any], dict[str, str]]:
    """The page's filters as typed, as `audit_entries` arguments, and what is wrong with them."""
    f = {k: (text_or_none(v) or "") for k, v in lq.filters.items()}
    errors: dict[str, str] = {}
    actor = int_or_none(f["actor_user_id"]) if f["actor_user_id"] else None
    if f["actor_user_id"] and (actor is None or actor < 1):
        errors["actor_user_id"] = "is not a user"
    if len(f["action"]) > 64:
        errors["action"] = "is at most 64 characters"
    since, until = _when(f["since"], "since", errors), _when(f["until"], "until", errors)
    args = {"entity_type": f["entity_type"] or None, "entity_id": f["entity_id"] or None, "actor_user_id": actor,
            "action": f["action"] or None, "since": since, "until": until}
    return f, args, errors


def _page(request: Request, me: Any, lq: Any, *, export_refused: bool = False) -> Response:
    f, args, errors = _filters(lq)
    entries: list[Any] = []
    next_cursor = None
    with unit_of_work(request, me, readonly=True) as uow:
        if not errors:
            try:
                page = audit.audit_entries(uow, **args, limit=PAGE_SIZE, cursor=lq.cursor, newest_first=True)
                entries, next_cursor = page.items, page.next_cursor
            except Problem as e:
                if e.status >= 500:
                    raise
                errors.update({fe.field: fe.message for fe in e.errors or []} or {"_form": e.detail})
        users = accounts.active_users(uow, *(r for r in Role if r != Role.customer))
        names = dict(users) | accounts.user_names(uow, [e.actor_user_id for e in entries if e.actor_user_id])
    export_query = urlencode({k: v for k, v in f.items() if v})
    return render(request, "console/audit_log.html", {
        "entries": entries, "next_cursor": next_cursor, "lq": lq, "f": f, "errors": errors, "users": users,
        "names": names, "changes": changes, "entity_pages": ENTITY_PAGES, "export_query": export_query,
        "export_limit": EXPORT_LIMIT}, status=422 if errors else 200, principal=me)


@router.get("/console/audit-log")
def audit_log_page(request: Request) -> Response:
    return _page(request, console_user(request, Role.admin), list_query(request, *FILTERS))


@router.get("/console/audit-log.{fmt}")
def audit_log_export(request: Request, fmt: str) -> Response:
    """Every entry the page's filters select, newest first, as CSV or XLSX (up to EXPORT_LIMIT
    rows: a longer history is exported in windows with `since`/`until`). A bad filter is the
    page with the message beside the field (422), never an unfiltered file."""
    me = console_user(request, Role.admin)
    if fmt not in ("csv", "xlsx"):
        raise Problem("Export the audit log as csv or xlsx", status=404)
    lq = list_query(request, *FILTERS, path="/console/audit-log")
    f, args, errors = _filters(lq)
    if errors:
        return _page(request, me, lq)
    rows: list[dict[str, Any]] = []
    try:
        with unit_of_work(request, me, readonly=True) as uow:
            cursor = None
            while len(rows) < EXPORT_LIMIT:
                page = audit.audit_entries(uow, **args, limit=500, cursor=cursor, newest_first=True)
                rows += [_export_row(e) for e in page.items]
                cursor = page.next_cursor
                if not cursor:
                    break
            names = accounts.user_names(uow, list({r["actor_user_id"] for r in rows if r["actor_user_id"]}))
    except Problem as e:
        if e.status >= 500:
            raise
        return _page(request, me, lq)
    for r in rows[:EXPORT_LIMIT]:
        r["actor"] = names.get(r["actor_user_id"], "") if r["actor_user_id"] else "system"
    body, media = table_file("audit-log", EXPORT_COLUMNS, rows[:EXPORT_LIMIT], fmt)
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="audit-log.{fmt}"'})


EXPORT_COLUMNS = ["id", "at", "actor_user_id", "actor", "actor_role", "action", "entity_type", "entity_id",
                  "request_id", "before", "after"]


def _export_row(e: Any) -> dict[str, Any]:
    def as_json(v: Any) -> str:
        return "" if v is None else json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)

    return {"id": e.id, "at": e.at.astimezone(dt.UTC).isoformat(), "actor_user_id": e.actor_user_id,
            "actor_role": e.actor_role or "", "action": e.action, "entity_type": e.entity_type,
            "entity_id": e.entity_id, "request_id": e.request_id or "", "before": as_json(e.before),
            "after": as_json(e.after)}
