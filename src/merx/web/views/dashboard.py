"""Console dashboard: today's sales and orders, the funnel, top products and low-stock
alerts, each from the context that owns it."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from merx.core.auth import Role
from merx.core.errors import Problem
from merx.inventory import public as inventory
from merx.support import public as support
from merx.web.common import PageRoute, console_user, render, unit_of_work
from merx.web.views import analytics_data
from merx.web.views.helpers import reader_locale

log = logging.getLogger("merx.web.dashboard")
router = APIRouter(route_class=PageRoute)
LOW_STOCK_ROWS = 10


def _low_stock(uow: Any) -> list[dict[str, Any]]:
    rows = [r for r in inventory.stock_levels(uow) if r["status"] != "in_stock"]
    rows.sort(key=lambda r: (r["status"] != "out_of_stock", r["available"], r["sku"]))
    return rows[:LOW_STOCK_ROWS]


def _overdue_tasks(uow: Any) -> list[dict[str, Any]]:
    """Open sales tasks past their due date per rep (a rep sees their own, staff the team's)."""
    from merx.core import accounts
    from merx.sales import public as sales

    counts = sales.overdue_by_owner(uow)
    names = accounts.user_names(uow, list(counts))
    return [{"name": names.get(uid, f"user {uid}"), "overdue": n} for uid, n in sorted(counts.items(), key=lambda kv: -kv[1])]


def _safely(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """A dashboard tile whose source fails says so (and the log has the trace) instead of
    failing the whole page."""
    try:
        return fn(*args, **kwargs)
    except Exception:
        log.exception("dashboard tile %s failed", getattr(fn, "__name__", fn))
        return None


TILES = {
    # name: (roles, builder(uow, today, locale)); locale: the reader's language (product names)
    "sales": ((Role.admin, Role.staff), lambda uow, today, locale: analytics_data.today_sales(uow, today)),
    "funnel": ((Role.admin, Role.staff), lambda uow, today, locale: analytics_data.funnel_chart(uow, days=30)),
    "top": ((Role.admin, Role.staff), lambda uow, today, locale: analytics_data.top_products(uow, days=30,
                                                                                          locale=locale)),
    "stock": ((Role.admin, Role.staff), lambda uow, today, locale: _low_stock(uow)),
    "tickets": ((Role.admin, Role.staff, Role.support_agent), lambda uow, today, locale: support.list_tickets(
        uow, open_only=True, limit=8)),
    "tasks": ((Role.admin, Role.staff, Role.sales_rep), lambda uow, today, locale: _overdue_tasks(uow)),
}


@router.get("/console")
def dashboard(request: Request) -> Response:
    """The frame only: each tile loads on its own (HTMX), so a slow report never holds up
    the page and the tiles are computed in parallel."""
    me = console_user(request)
    today = dt.datetime.now(dt.timezone.utc).date()
    tiles = [name for name, (roles, _) in TILES.items() if me.role in roles]
    return render(request, "console/dashboard.html", {"tiles": tiles, "today": today}, principal=me)


@router.get("/console/tiles/{name}")
def dashboard_tile(request: Request, name: str) -> Response:
    me = console_user(request)
    if name not in TILES or me.role not in TILES[name][0]:
        raise Problem("There is no such dashboard tile for your role.", status=404, title="Not found")
    today = dt.datetime.now(dt.timezone.utc).date()
    with unit_of_work(request, me, readonly=True) as uow:
        value = _safely(TILES[name][1], uow, today, reader_locale(request))
    return render(request, "console/tile.html", {"name": name, "value": value, "today": today}, principal=me)
