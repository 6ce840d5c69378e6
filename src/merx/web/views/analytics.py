"""Console analytics: funnel, cohorts, sales, portfolio quadrant, inventory health and the
forecast with its backtest, Pareto (80/20) and cart abandonment, drawn with Chart.js from the
analytics context's results.

Every page covers a period picked with a date range bounded by the data's own range (first
and last sale line): imported history (Online Retail II, 2009-2011) shows as well as this
week's orders. Without a choice a page shows the last year of the data, not of the clock."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Callable

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from merx.analytics import public as analytics
from merx.core.auth import Role
from merx.core.errors import Problem
from merx.web.common import PageRoute, console_user, problem_sentence, render, unit_of_work
from merx.web.views import analytics_data
from merx.web.views.analytics_data import Period
from merx.web.views.helpers import reader_locale

log = logging.getLogger("merx.web.analytics")
router = APIRouter(route_class=PageRoute)
ANALYTICS_ROLES = (Role.admin, Role.staff)
DEFAULT_DAYS = 365
SECTIONS: dict[str, tuple[str, Callable[..., dict[str, Any]]]] = {
    "funnel": ("Funnel", analytics_data.funnel_section),
    "cohorts": ("Cohorts", analytics_data.cohorts_section),
    "sales": ("Sales", analytics_data.sales_section),
    "portfolio": ("Portfolio", analytics_data.portfolio_section),
    "inventory": ("Inventory health", analytics_data.inventory_section),
    "forecast": ("Forecast", analytics_data.forecast_section),
    "pareto": ("Pareto", analytics_data.pareto_section),
    "abandonment": ("Abandonment", analytics_data.abandonment_section),
}
PRESETS = ((30, "Last 30 days"), (90, "Last 90 days"), (365, "Last year"))


@router.get("/console/analytics")
def analytics_index(request: Request) -> Response:
    # called directly, FastAPI fills no defaults: pass every parameter
    return analytics_page(request, "funnel", date_from=None, date_to=None, days=None)


def _date(text: str | None, field: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{field}: {text!r} is not a date (YYYY-MM-DD)") from None


def choose_period(first: dt.date | None, last: dt.date | None, date_from: str | None, date_to: str | None,
                  days: int | None, today: dt.date) -> tuple[Period, list[str]]:
    """The period a page covers, inside the data's range [first, last] (both inclusive days).
    Returns the period and notes for the user (a choice limited to the data, say)."""
    notes: list[str] = []
    lo, hi = first or today, last or today
    start, end = _date(date_from, "from"), _date(date_to, "to")
    if start and end and end < start:
        raise ValueError("to: must not be before from")
    if end is None:
        end = hi
    if start is None:
        start = end - dt.timedelta(days=(days or DEFAULT_DAYS) - 1)
        start = max(start, lo)
    elif start < lo or start > hi:
        notes.append(f"The data starts on {lo.isoformat()}; the period starts there.")
        start = min(max(start, lo), hi)
    if end > hi or end < lo:
        if date_to:
            notes.append(f"The data ends on {hi.isoformat()}; the period ends there.")
        end = max(min(end, hi), lo)
    if end < start:
        start = end
    return Period(start=start, end=end, first=first, last=last), notes


@router.get("/console/analytics/{section}")
def analytics_page(request: Request, section: str,
                   date_from: str | None = Query(None, alias="from", description="first day (YYYY-MM-DD)"),
                   date_to: str | None = Query(None, alias="to", description="last day, inclusive (YYYY-MM-DD)"),
                   days: int | None = Query(None, ge=1, le=36500, description="the last N days of the data")) -> Response:
    me = console_user(request, *ANALYTICS_ROLES)
    if section not in SECTIONS:
        from merx.core.errors import NotFound

        raise NotFound("There is no such analytics page.")
    title = SECTIONS[section][0]
    builder = SECTIONS[section][1]
    data: dict[str, Any] | None = None
    error = None
    period: Period | None = None
    notes: list[str] = []
    with unit_of_work(request, me, readonly=True) as uow:
        try:
            bounds = analytics.data_range(uow, data_dir=uow.settings.data_dir)
            first = bounds["first"].date() if bounds["first"] else None
            last = bounds["last"].date() if bounds["last"] else None
            period, notes = choose_period(first, last, date_from, date_to, days,
                                          dt.datetime.now(dt.timezone.utc).date())
            # product names in the reader's language (?lang=, cookie, Accept-Language, default)
            data = builder(uow, period=period, locale=reader_locale(request))
        except ValueError as e:
            error = str(e)[:1].upper() + str(e)[1:]
        except Problem as e:
            error = problem_sentence(e)
        except Exception:  # one report failing must not take the console down; the log has the trace
            log.exception("analytics report %s failed", section)
            error = f"The {title.lower()} report could not be computed right now; the error has been logged."
    presets = []
    if period is not None and period.last is not None:
        for n, label in PRESETS:
            presets.append({"label": label, "from": max(period.last - dt.timedelta(days=n - 1),
                                                        period.first or period.last).isoformat(),
                            "to": period.last.isoformat()})
        presets.append({"label": "All data", "from": (period.first or period.last).isoformat(),
                        "to": period.last.isoformat()})
    return render(request, "console/analytics.html", {"section": section, "title": title, "sections": SECTIONS,
                                                       "data": data, "period": period, "presets": presets,
                                                       "period_notes": notes, "error": error}, principal=me)
