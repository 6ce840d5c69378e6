"""Adapters from the analytics context's reports to chart specs and tables."""

from __future__ import annotations

import datetime as dt
from typing import Any

from merx.analytics import public as analytics
from merx.catalog import public as catalog
from merx.web.common import status_label


def _num(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, dict) and "amount" in value:
        value = value["amount"]
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def today_sales(uow: Any, today: dt.date) -> dict[str, Any]:
    start = dt.datetime.combine(today, dt.time(), tzinfo=dt.timezone.utc)
    report = analytics.sales_analysis(uow, analytics.SalesScope(date_from=start, date_to=start + dt.timedelta(days=1),
                                                      currency=None), data_dir=_data_dir(uow), by="day")
    rows = report.get("rows", [])
    return {"revenue": sum((_num(r.get("revenue")) or 0) for r in rows),
            "orders": sum(int(r.get("orders") or 0) for r in rows), "currency": report.get("currency")}


def funnel_chart(uow: Any, *, days: int = 30) -> dict[str, Any]:
    return _dashboard_funnel(uow, days)


def top_products(uow: Any, *, days: int = 30, limit: int = 10) -> list[dict[str, Any]]:
    report = analytics.sales_analysis(uow, _scope(days), data_dir=_data_dir(uow), by="product", limit=limit)
    rows = report.get("rows", [])[:limit]
    names = {sku: info.name for sku, info in catalog.lookup_skus(uow, [str(r.get("key")) for r in rows]).items()}
    return [{"name": r.get("name") or names.get(str(r.get("key"))) or r.get("key"), "sku": r.get("key"),
             "units": r.get("units"), "revenue": r.get("revenue"), "currency": report.get("currency")} for r in rows]


# --------------------------------------------------------------------------------------------
# The analytics pages: one builder per section, each returning charts and tables
# --------------------------------------------------------------------------------------------

PORTFOLIO_COLOURS = {"gold": "#d4a017", "sunrise": "#e67e22", "sunset": "#8e44ad", "rest": "#95a5a6"}
MAX_TABLE_ROWS = 50


def _scope(days: int) -> analytics.SalesScope:
    end = dt.datetime.now(dt.timezone.utc)
    return analytics.SalesScope(date_from=end - dt.timedelta(days=days), date_to=end, currency=None)


def _data_dir(uow: Any) -> Any:
    return uow.settings.data_dir


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".") if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, (list, dict)):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) if isinstance(value, dict) else ", ".join(map(str, value))
    return str(value)


def _table(title: str, rows: list[dict[str, Any]], columns: list[str] | None = None) -> dict[str, Any]:
    if columns is None:
        columns = []
        for r in rows[:MAX_TABLE_ROWS]:
            columns += [k for k in r if k not in columns]
        columns = columns[:9]
    return {"title": title, "headers": [c.replace("_", " ") for c in columns],
            "rows": [[_cell(r.get(c)) for c in columns] for r in rows[:MAX_TABLE_ROWS]]}


def funnel_section(uow: Any, *, days: int) -> dict[str, Any]:
    end = dt.datetime.now(dt.timezone.utc)
    report = analytics.funnel_report(uow, data_dir=_data_dir(uow), date_from=end - dt.timedelta(days=days), date_to=end)
    stages = report.get("stages", [])
    spec = {"type": "bar", "data": {"labels": [s["stage"] for s in stages],
                                    "datasets": [{"label": "People", "data": [s["count"] for s in stages]}]},
            "options": {"indexAxis": "y"}}
    conv = {"type": "line", "data": {"labels": [s["stage"] for s in stages], "datasets": [
        {"label": "Share of awareness", "data": [s.get("overall_conversion") or 0 for s in stages], "fill": True}]},
        "options": {"scales": {"y": {"min": 0, "max": 1}}}}
    return {"charts": [{"title": "People per stage", "spec": spec}, {"title": "Conversion from awareness", "spec": conv}],
            "tables": [_table("Stages", stages)]}


def cohorts_section(uow: Any, *, days: int) -> dict[str, Any]:
    report = analytics.cohort_report(uow, _scope(days), data_dir=_data_dir(uow))
    rows = analytics.cohort_table_rows(report, months=12)
    datasets = [{"label": r["cohort"], "data": [r.get(f"m{k}") for k in range(13)], "fill": False}
                for r in rows[-8:]]
    spec = {"type": "line", "data": {"labels": [f"M{k}" for k in range(13)], "datasets": datasets},
            "options": {"scales": {"y": {"min": 0}}, "plugins": {"legend": {"display": True}}}}
    return {"charts": [{"title": "Retention by monthly cohort (latest 8)", "spec": spec}],
            "tables": [_table("Cohorts", rows)]}


def sales_section(uow: Any, *, days: int) -> dict[str, Any]:
    by_period = analytics.sales_analysis(uow, _scope(days), data_dir=_data_dir(uow), by="week" if days <= 120 else "month")
    by_category = analytics.sales_analysis(uow, _scope(days), data_dir=_data_dir(uow), by="category", limit=15)
    period_rows, cat_rows = by_period.get("rows", []), by_category.get("rows", [])
    currency = by_period.get("currency") or ""
    trend = {"type": "line", "data": {"labels": [str(r["key"]) for r in period_rows], "datasets": [
        {"label": f"Revenue {currency}", "data": [_num(r.get("revenue")) for r in period_rows], "fill": True}]}}
    cats = {"type": "bar", "data": {"labels": [str(r["key"]) for r in cat_rows], "datasets": [
        {"label": f"Revenue {currency}", "data": [_num(r.get("revenue")) for r in cat_rows]}]}}
    return {"charts": [{"title": f"Revenue by {by_period.get('by', 'period')}", "spec": trend},
                       {"title": "Revenue by category", "spec": cats}],
            "tables": [_table("By period", period_rows), _table("By category", cat_rows)],
            "note": by_period.get("cost_basis")}


def portfolio_section(uow: Any, *, days: int) -> dict[str, Any]:
    report = analytics.portfolio_report(uow, _scope(days), data_dir=_data_dir(uow))
    products = report.get("products", [])
    datasets = []
    for klass, colour in PORTFOLIO_COLOURS.items():
        points = [{"x": _num(p.get("units")), "y": _num(p.get("margin"))} for p in products if p.get("class") == klass]
        datasets.append({"label": klass, "data": points[:2000], "color": colour, "pointRadius": 3})
    thresholds = report.get("thresholds") or {}
    spec = {"type": "scatter", "data": {"datasets": datasets}, "options": {
        "plugins": {"legend": {"display": True}},
        "scales": {"x": {"type": "logarithmic", "title": {"display": True, "text": "units sold"}},
                   "y": {"title": {"display": True, "text": f"margin ({report.get('margin_basis', '')})"}}}}}
    mix = report.get("mix") or []
    mix_rows = (list(mix) if isinstance(mix, list)
                else [{"class": k, **(v if isinstance(v, dict) else {"share": v})} for k, v in mix.items()])
    return {"charts": [{"title": "Portfolio quadrant: volume × margin", "spec": spec}],
            "tables": [_table("Mix against target", mix_rows),
                       _table("Candidates to drop (bottom 3 per category)", report.get("drop_candidates", [])),
                       _table("Products", products)],
            "note": (f"Thresholds: margin {thresholds.get('margin')}, units {thresholds.get('units')} "
                     f"(quantile {thresholds.get('quantile')}).") if thresholds else None}


def inventory_section(uow: Any, *, days: int) -> dict[str, Any]:
    report = analytics.inventory_report(uow, _scope(days), data_dir=_data_dir(uow))
    counts = report.get("counts", {})
    spec = {"type": "bar", "data": {"labels": [status_label(c) for c in counts], "datasets": [
        {"label": "SKU-locations", "data": list(counts.values()),
         "backgroundColor": ["#c0392b", "#e67e22", "#27ae60", "#95a5a6", "#2453d4"][:len(counts)]}]}}
    return {"charts": [{"title": "SKU-locations by status", "spec": spec}],
            "tables": [_table("Stock against sales", [r | {"status": status_label(r.get("status"))} if "status" in r else r
                                                      for r in report.get("rows", [])])],
            "note": f"As of {report.get('as_of', '')[:10]}, looking back {report.get('lookback_days')} days; overstock "
                    f"above {report.get('overstock_ratio')} of monthly sales, risk below {report.get('safety_days')} "
                    f"days of cover."}


def forecast_section(uow: Any, *, days: int) -> dict[str, Any]:
    from merx.core.errors import Problem

    try:
        report = analytics.forecast_report(uow, _scope(max(days, 365)), data_dir=_data_dir(uow), freq="week",
                                           horizon=4, folds=8)
    except Problem as e:
        return {"charts": [], "tables": [], "note": f"No forecast yet: {e.detail}."}
    history, future = report.get("history", []), report.get("forecast", [])
    labels = [h["period"][:10] for h in history] + [f["period"][:10] for f in future]
    pad = [None] * len(history)
    spec = {"type": "line", "data": {"labels": labels, "datasets": [
        {"label": "Actual", "data": [h["value"] for h in history] + [None] * len(future), "color": "#34495e"},
        {"label": "Seasonal naive", "data": pad + [f["seasonal_naive"] for f in future], "borderDash": [6, 4],
         "color": "#7f8c8d"},
        {"label": "ETS", "data": pad + [f["ets"] for f in future], "color": "#c0392b"}]},
        "options": {"plugins": {"legend": {"display": True}}}}
    tables = [_table("Forecast", future)]
    bt = report.get("backtest")
    if bt:
        rows = [{"model": name, **{k: v for k, v in (bt.get(name) or {}).items() if k in ("mape", "smape", "mase")}}
                for name in ("seasonal_naive", "ets")]
        tables.insert(0, _table(f"Rolling-origin backtest ({bt.get('folds')} folds, horizon {bt.get('horizon')}); "
                                f"better on MASE: {bt.get('winner_on_mase', '').replace('_', ' ')}", rows))
    model = report.get("model") or {}
    return {"charts": [{"title": f"Weekly {report.get('measure', '')} and the next {len(future)} weeks", "spec": spec}],
            "tables": tables, "note": (bt or {}).get("note") or f"Model: {model.get('model', '')}"}


PARETO_CLASS_COLOURS = {"A": "#27ae60", "B": "#e67e22", "C": "#95a5a6"}


def _pareto_curve(report: dict[str, Any], label: str) -> dict[str, Any]:
    rows = report.get("rows", [])
    return {"type": "line", "data": {"labels": [str(r["rank"]) for r in rows], "datasets": [
        {"label": label, "data": [r.get("cumulative_share") for r in rows], "fill": True}]},
        "options": {"scales": {"y": {"min": 0, "max": 1, "title": {"display": True, "text": "share of revenue"}},
                               "x": {"title": {"display": True, "text": "rank"}}}}}


def pareto_section(uow: Any, *, days: int) -> dict[str, Any]:
    products = analytics.pareto_report(uow, _scope(days), data_dir=_data_dir(uow), of="products")
    customers = analytics.pareto_report(uow, _scope(days), data_dir=_data_dir(uow), of="customers")
    rows = products.get("rows", [])
    # imported history carries product names; orders placed here do not, so the catalog names them
    names = {sku: info.name for sku, info in catalog.lookup_skus(uow, [str(r["item"]) for r in rows]).items()}
    rows = [r | {"name": r.get("name") or names.get(str(r["item"]))} for r in rows]
    top = {"type": "bar", "data": {"labels": [str(r.get("name") or r["item"]) for r in rows[:15]], "datasets": [
        {"label": f"Revenue {products.get('currency', '')}", "data": [_num(r.get("value")) for r in rows[:15]],
         "backgroundColor": [PARETO_CLASS_COLOURS[r["class"]] for r in rows[:15]]}]}}

    def headline(report: dict[str, Any], noun: str) -> str:
        share = report.get("items_share_for_80")
        if not report.get("items") or share is None:
            return f"No {noun} sold in this period."
        return (f"{report['items_for_80']} of {report['items']} {noun} ({share:.0%}) make 80% of the revenue "
                f"of {report.get('total')} {report.get('currency')}.")

    return {"charts": [{"title": "Cumulative share of revenue by product rank", "spec": _pareto_curve(products, "Products")},
                       {"title": "Top products (A, B, C classes)", "spec": top},
                       {"title": "Cumulative share of revenue by customer rank",
                        "spec": _pareto_curve(customers, "Customers")}],
            "tables": [_table("Products by revenue", rows, ["rank", "item", "name", "value", "cumulative_share", "class"]),
                       _table("Customers by revenue", customers.get("rows", []),
                              ["rank", "item", "value", "cumulative_share", "class"])],
            "note": f"{headline(products, 'products')} {headline(customers, 'customers')}"}


def abandonment_section(uow: Any, *, days: int) -> dict[str, Any]:
    # abandonments are kept as found by the scan job, not by period: the list is the latest ones
    report = analytics.abandonment_report(uow, limit=MAX_TABLE_ROWS)
    counts = {"Abandoned carts": report.get("carts", 0), "Abandoned browsing": report.get("browse", 0),
              "Recovered": report.get("recovered", 0)}
    spec = {"type": "bar", "data": {"labels": list(counts), "datasets": [
        {"label": "Count", "data": list(counts.values()), "backgroundColor": ["#c0392b", "#e67e22", "#27ae60"]}]}}
    rate = report.get("recovery_rate") or 0.0
    latest = [r | {"detected": r["detected_at"][:16].replace("T", " ") + " UTC"} for r in report.get("items", [])]
    return {"charts": [{"title": "Abandonments and recoveries", "spec": spec}],
            "tables": [_table("Value by currency", report.get("by_currency", []),
                              ["currency", "abandoned_value", "recovered_revenue"]),
                       _table("Latest abandonments", latest,
                              ["detected", "kind", "customer_id", "items", "value", "currency",
                               "recovered_order_ref", "recovered_revenue"])],
            "note": f"{report.get('abandoned', 0)} abandoned, {report.get('recovered', 0)} recovered "
                    f"({rate:.0%} recovery rate)."}


def _dashboard_funnel(uow: Any, days: int) -> dict[str, Any]:
    return {"spec": funnel_section(uow, days=days)["charts"][0]["spec"]}
