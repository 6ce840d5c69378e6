"""Console: store reports (per store and per associate: assisted orders, carts held and sent
and how many were ordered, kiosk sessions and their conversion, pickups handed over and
refused, returns taken), with a chart and a CSV, and the list of the held carts."""

from __future__ import annotations

import csv
import datetime as dt
import io

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from merx.core.auth import Role
from merx.core.db import utcnow
from merx.core.spreadsheet import safe_row
from merx.instore import public as instore
from merx.web.common import PageRoute, console_user, render, unit_of_work

router = APIRouter(route_class=PageRoute)
ROLES = (Role.admin, Role.staff)


def _report(request: Request, days: int, *, with_carts: bool = False) -> tuple[instore.StoreReport, list]:
    me = console_user(request, *ROLES)
    until = utcnow()
    since = until - dt.timedelta(days=days)
    with unit_of_work(request, me, readonly=True) as uow:
        report = instore.store_report(uow, since=since, until=until)
        carts = instore.list_held_carts(uow, since=since, until=until) if with_carts else []
    return report, carts


@router.get("/console/stores")
def stores_page(request: Request, days: int = Query(30, ge=1, le=3650)) -> Response:
    report, carts = _report(request, days, with_carts=True)
    labels = [r.store for r in report.stores]
    chart = {"type": "bar", "data": {"labels": labels, "datasets": [
        {"label": "Assisted orders", "data": [r.assisted_orders for r in report.stores]},
        {"label": "Carts held", "data": [r.carts_held for r in report.stores]},
        {"label": "Kiosk orders", "data": [r.kiosk_orders for r in report.stores]},
        {"label": "Pickups handed over", "data": [r.pickups_handed_over for r in report.stores]},
        {"label": "Returns taken", "data": [r.returns_taken for r in report.stores]}]},
        "options": {"responsive": True, "scales": {"y": {"beginAtZero": True, "ticks": {"precision": 0}}}}}
    return render(request, "console/instore_reports.html", {"report": report, "days": days, "chart": chart,
                                                             "carts": carts})


@router.get("/console/stores.csv")
def stores_csv(request: Request, days: int = Query(30, ge=1, le=3650)) -> Response:
    report, _ = _report(request, days)
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(["store", "assisted_orders", "assisted_value", "currency", "carts_held", "carts_ordered",
                  "kiosk_sessions", "kiosk_orders",
                  "pickups_handed_over", "pickups_refused", "returns_taken", "units_returned", "units_restocked"])
    for r in report.stores:
        values = sorted(r.assisted_value.items()) or [("", 0)]
        for currency, value in values:
            out.writerow(safe_row([r.store, r.assisted_orders, str(value), currency, r.carts_held, r.carts_ordered,
                                   r.kiosk_sessions, r.kiosk_orders,
                                   r.pickups_handed_over, r.pickups_refused, r.returns_taken, r.units_returned,
                                   r.units_restocked]))
    return Response(buf.getvalue(), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="store-report-{days}d.csv"'})
