"""Console pages for costs and margins, and for competitor prices and pricing proposals.

/console/costs: how much of the catalog has a cost (per category, with the average cost
share of price and a chart), what the margin reports assume where a cost is missing (the
products, lines and revenue, from analytics), a CSV upload of costs, CSV/XLSX export.
/console/pricing: where our prices stand against the competitors seen (lowest, median, our
rank, index; chart; CSV/XLSX), the pricing rules with a Run button, and the pending
proposals to approve (writes the rule's price list) or reject. Costs and margins are for
admin and staff only, as in the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from merx.analytics import public as analytics
from merx.catalog import public as catalog
from merx.core.auth import Role
from merx.core.errors import Problem
from merx.core.spreadsheet import table_file
from merx.pricing import public as pricing
from merx.web.common import PageRoute, console_user, csrf_form, problem_sentence, redirect, render, unit_of_work

router = APIRouter(route_class=PageRoute)
MANAGERS = (Role.admin, Role.staff)
POSITION_COLOURS = {"cheapest": "#27ae60", "at_or_below_median": "#2453d4", "above_median": "#e67e22",
                    "most_expensive": "#c0392b", "no_data": "#95a5a6"}


def _sheet(name: str, columns: list[str], rows: list[dict[str, Any]], fmt: str) -> Response:
    """CSV or XLSX of `rows` (core.spreadsheet.table_file) as a download."""
    body, media = table_file(name, columns, rows, fmt)
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'})


# -- costs and margins ---------------------------------------------------------------------------


def _costs_data(request: Request, me: Any) -> dict[str, Any]:
    currency = request.app.state.settings.default_currency
    year_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=365)
    with unit_of_work(request, me, readonly=True) as uow:
        coverage = catalog.cost_coverage(uow, currency)
        report = analytics.portfolio_report(uow, analytics.SalesScope(date_from=year_ago, currency=currency),
                                            data_dir=request.app.state.settings.data_dir)
    return {"coverage": coverage, "missing": report.get("cost_missing") or {}, "categories": report.get("categories", []),
            "cost_basis": report.get("cost_basis"), "currency": currency}


@router.get("/console/costs")
def costs_page(request: Request) -> Response:
    me = console_user(request, *MANAGERS)
    data = _costs_data(request, me)
    cats = data["coverage"].categories
    chart = {"type": "bar", "data": {"labels": [c["category"] for c in cats], "datasets": [
        {"label": "variants with a cost", "data": [c["with_cost"] for c in cats], "backgroundColor": "#27ae60"},
        {"label": "variants without", "data": [c["variants"] - c["with_cost"] for c in cats],
         "backgroundColor": "#c0392b"}]},
        "options": {"scales": {"x": {"stacked": True}, "y": {"stacked": True, "beginAtZero": True}}}}
    return render(request, "console/costs.html", data | {"chart": chart,
                                                         "gap_sentence": analytics.cost_gap_summary(data["missing"])},
                  principal=me)


@router.get("/console/costs.{fmt}")
def costs_export(request: Request, fmt: str) -> Response:
    """The variants without a cost now and the products whose margin the reports assume."""
    me = console_user(request, *MANAGERS)
    if fmt not in ("csv", "xlsx"):
        raise Problem("Export as csv or xlsx", status=404)
    data = _costs_data(request, me)
    rows = [{"kind": "variant without cost", **m} for m in data["coverage"].missing]
    rows += [{"kind": "sold without cost (last 365 days)", "sku": p["sku"], "name": p.get("name"),
              "category": p.get("category"), "lines": p["lines"], "orders": p["orders"], "revenue": p["revenue"],
              "assumed_cost": p["assumed_cost"]} for p in data["missing"].get("products", [])]
    columns = ["kind", "sku", "product_id", "name", "category", "price", "lines", "orders", "revenue", "assumed_cost"]
    return _sheet("costs-missing", columns, rows, fmt)


@router.post("/console/costs/import")
async def costs_import(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *MANAGERS)
    upload = form.get("file")
    if upload is None or isinstance(upload, str) or not upload.filename:
        return redirect("/console/costs", flash="Choose a CSV file with the columns sku, amount, currency.")
    raw = await upload.read()

    def run() -> Any:
        with unit_of_work(request, me) as uow:
            return catalog.import_cost_csv(uow, raw, reference=upload.filename)

    from fastapi.concurrency import run_in_threadpool

    try:
        report = await run_in_threadpool(run)
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect("/console/costs", flash=f"Not imported: {problem_sentence(e)}")
    errors = "; ".join(f"row {e['row']} {e['field']}: {e['message']}" for e in report.errors[:5])
    return redirect("/console/costs", flash=f"{report.recorded} costs recorded"
                                            + (f", {len(report.errors)} rows refused ({errors})" if report.errors else "."))


# -- competitor prices, rules and proposals --------------------------------------------------------


@router.get("/console/pricing")
def pricing_page(request: Request, max_age_days: int = Query(30, ge=1, le=365)) -> Response:
    me = console_user(request, *MANAGERS)
    with unit_of_work(request, me, readonly=True) as uow:
        position = pricing.price_position(uow, max_age_days=max_age_days)
        proposals, _ = pricing.proposals_page(uow, status="pending", rule=None, limit=200, cursor=None)
        decided, _ = pricing.proposals_page(uow, status=None, rule=None, limit=30, cursor=None)
        rules, _ = pricing.rules_page(uow, limit=100, cursor=None)
        competitors, _ = pricing.competitors_page(uow, limit=100, cursor=None)
    charted = [r for r in position.rows if r.index is not None][:40]
    chart = {"type": "bar", "data": {"labels": [r.sku for r in charted], "datasets": [{
        "label": "our price as % of the competitors' median", "data": [float(r.index) for r in charted],
        "backgroundColor": [POSITION_COLOURS[r.position] for r in charted]}]},
        "options": {"plugins": {"legend": {"display": False}},
                    "scales": {"y": {"title": {"display": True, "text": "price index (median = 100)"}}}}}
    return render(request, "console/pricing.html", {
        "position": position, "proposals": proposals, "decided": [p for p in decided if p.status != "pending"],
        "rules": rules, "competitors": competitors, "chart": chart, "max_age_days": max_age_days}, principal=me)


@router.get("/console/pricing/position.{fmt}")
def position_export(request: Request, fmt: str, max_age_days: int = Query(30, ge=1, le=365)) -> Response:
    me = console_user(request, *MANAGERS)
    if fmt not in ("csv", "xlsx"):
        raise Problem("Export as csv or xlsx", status=404)
    with unit_of_work(request, me, readonly=True) as uow:
        position = pricing.price_position(uow, max_age_days=max_age_days)
    rows = [r.model_dump() for r in position.rows]
    columns = list(rows[0]) if rows else ["sku", "our_price", "lowest", "median", "rank", "index"]
    return _sheet(f"price-position-{position.currency}", columns, rows, fmt)


def _act(request: Request, run: Any, done: str) -> Response:
    me = console_user(request, *MANAGERS)
    try:
        with unit_of_work(request, me) as uow:
            run(uow)
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect("/console/pricing", flash=f"Not done: {problem_sentence(e)}")
    return redirect("/console/pricing", flash=done)


@router.post("/console/pricing/rules/{code}/run")
def run_rule(request: Request, code: str, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    result: dict[str, Any] = {}

    def run(uow: Any) -> None:
        result["out"] = pricing.run_rule(uow, code)

    response = _act(request, run, "")
    out = result.get("out")
    if out is None:
        return response
    skipped = ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in out.skipped.items())
    return redirect("/console/pricing", flash=f"Rule {code}: {out.proposed} prices proposed"
                                              + (f"; skipped: {skipped}" if skipped else "") + ".")


@router.post("/console/pricing/proposals/{proposal_id}/{action}")
def decide(request: Request, proposal_id: int, action: str, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    if action not in ("approve", "reject"):
        raise Problem(f"Unknown action {action}", status=404)
    note = str(form.get("note") or "").strip()[:500] or None
    fn = pricing.approve_proposal if action == "approve" else pricing.reject_proposal
    return _act(request, lambda uow: fn(uow, proposal_id, note=note),
                f"Proposal {proposal_id} {'approved: the price list has the new price' if action == 'approve' else 'rejected'}.")
