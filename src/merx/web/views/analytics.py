"""Console analytics: funnel, cohorts, sales, portfolio quadrant, inventory health and the
forecast with its backtest, Pareto (80/20) and cart abandonment, drawn with Chart.js from the analytics context's results."""

from __future__ import annotations

import logging
from typing import Any, Callable

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from merx.core.auth import Role
from merx.core.errors import Problem
from merx.web.common import PageRoute, console_user, problem_sentence, render, unit_of_work
from merx.web.views import analytics_data

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


@router.get("/console/analytics")
def analytics_index(request: Request) -> Response:
    # called directly, FastAPI fills no defaults: `days` must be passed, not left as a Query
    return analytics_page(request, "funnel", days=DEFAULT_DAYS)


@router.get("/console/analytics/{section}")
def analytics_page(request: Request, section: str, days: int = Query(DEFAULT_DAYS, ge=1, le=3650)) -> Response:
    me = console_user(request, *ANALYTICS_ROLES)
    if section not in SECTIONS:
        from merx.core.errors import NotFound

        raise NotFound("There is no such analytics page.")
    title = SECTIONS[section][0]
    builder = SECTIONS[section][1]
    data: dict[str, Any] | None = None
    error = None
    with unit_of_work(request, me, readonly=True) as uow:
        try:
            data = builder(uow, days=days)
        except Problem as e:
            error = problem_sentence(e)
        except Exception:  # one report failing must not take the console down; the log has the trace
            log.exception("analytics report %s failed", section)
            error = f"The {title.lower()} report could not be computed right now; the error has been logged."
    return render(request, "console/analytics.html", {"section": section, "title": title, "sections": SECTIONS,
                                                       "data": data, "days": days,
                                                       "error": error}, principal=me)
