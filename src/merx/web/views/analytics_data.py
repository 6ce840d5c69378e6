"""Adapters from the analytics context's reports to chart specs and tables."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from merx.analytics import public as analytics
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


@dataclass(frozen=True)
class Period:
    """The days a console page covers (both inclusive) and the data's own first and last day."""

    start: dt.date
    end: dt.date
    first: dt.date | None = None
    last: dt.date | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def date_from(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time(), tzinfo=dt.timezone.utc)

    @property
    def date_to(self) -> dt.datetime:  # exclusive
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)

    def scope(self) -> analytics.SalesScope:
        return analytics.SalesScope(date_from=self.date_from, date_to=self.date_to, currency=None)

    @classmethod
    def last_days(cls, days: int, today: dt.date | None = None) -> "Period":
        end = today or dt.datetime.now(dt.timezone.utc).date()
        return cls(start=end - dt.timedelta(days=days - 1), end=end)


def today_sales(uow: Any, today: dt.date) -> dict[str, Any]:
    start = dt.datetime.combine(today, dt.time(), tzinfo=dt.timezone.utc)
    report = analytics.sales_analysis(uow, analytics.SalesScope(date_from=start, date_to=start + dt.timedelta(days=1),
                                                      currency=None), data_dir=_data_dir(uow), by="day")
    rows = report.get("rows", [])
    # net sales: coupons and promotions taken off, as the order charged them
    return {"revenue": sum((_num(r.get("net")) or 0) for r in rows),
            "orders": sum(int(r.get("orders") or 0) for r in rows), "currency": report.get("currency")}


def funnel_chart(uow: Any, *, days: int = 30) -> dict[str, Any]:
    return {"spec": funnel_section(uow, period=Period.last_days(days))["charts"][0]["spec"]}


def top_products(uow: Any, *, days: int = 30, limit: int = 10, locale: str | None = None) -> list[dict[str, Any]]:
    report = analytics.sales_analysis(uow, Period.last_days(days).scope(), data_dir=_data_dir(uow), by="product",
                                      locale=locale)
    rows = [r for r in report.get("rows", []) if r.get("name")][:limit]  # products only, named by the catalog
    return [{"name": r.get("name"), "sku": r.get("key"),
             "units": r.get("units"), "revenue": r.get("revenue"), "currency": report.get("currency")} for r in rows]


# --------------------------------------------------------------------------------------------
# The analytics pages: one builder per section, each returning charts and tables. `locale` is
# the language product names are shown in; sections that name no product ignore it.
# --------------------------------------------------------------------------------------------

PORTFOLIO_COLOURS = {"gold": "#d4a017", "sunrise": "#e67e22", "sunset": "#8e44ad", "rest": "#95a5a6"}
MAX_TABLE_ROWS = 50


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


def funnel_section(uow: Any, *, period: Period, locale: str | None = None) -> dict[str, Any]:
    report = analytics.funnel_report(uow, data_dir=_data_dir(uow), date_from=period.date_from, date_to=period.date_to)
    stages = report.get("stages", [])
    spec = {"type": "bar", "data": {"labels": [s["stage"] for s in stages],
                                    "datasets": [{"label": "People", "data": [s["count"] for s in stages]}]},
            "options": {"indexAxis": "y", "scales": {"x": {"beginAtZero": True}}}}
    conv = {"type": "line", "data": {"labels": [s["stage"] for s in stages], "datasets": [
        {"label": "Share of awareness", "data": [s.get("overall_conversion") or 0 for s in stages], "fill": True}]},
        "options": {"scales": {"y": {"min": 0, "max": 1}}}}
    return {"charts": [{"title": "People per stage", "spec": spec}, {"title": "Conversion from awareness", "spec": conv}],
            "tables": [_table("Stages", stages)],
            "note": "Purchases are tracked purchase events plus the orders placed by known customers."}


def cohorts_section(uow: Any, *, period: Period, locale: str | None = None) -> dict[str, Any]:
    report = analytics.cohort_report(uow, period.scope(), data_dir=_data_dir(uow))
    rows = analytics.cohort_table_rows(report, months=12)
    datasets = [{"label": r["cohort"], "data": [r.get(f"m{k}") for k in range(13)], "fill": False}
                for r in rows[-8:]]
    spec = {"type": "line", "data": {"labels": [f"M{k}" for k in range(13)], "datasets": datasets},
            "options": {"scales": {"y": {"min": 0}}, "plugins": {"legend": {"display": True}}}}
    return {"charts": [{"title": "Retention by monthly cohort (latest 8)", "spec": spec}],
            "tables": [_table("Cohorts", rows)]}


MONEY_COLUMNS = ["gross", "discounts", "returns", "net", "shipping", "fees", "adjustments"]
OTHER_AFTER = 14  # bars shown by name; the rest go to one stated "other" bar


def _with_other(rows: list[dict[str, Any]]) -> tuple[list[str], list[float | None]]:
    labels = [str(r.get("name") or r["key"]) for r in rows[:OTHER_AFTER]]
    values = [_num(r.get("net")) for r in rows[:OTHER_AFTER]]
    rest = rows[OTHER_AFTER:]
    if rest:
        labels.append(f"Other ({len(rest)})")
        values.append(sum((_num(r.get("net")) or 0.0) for r in rest))
    return labels, values


def _period_keys(first: str, last: str, by: str) -> list[str]:
    """Every period from `first` to `last` (keys as the report writes them: YYYY-MM-DD)."""
    from merx.analytics.sales import period_end

    keys, at, stop = [], dt.datetime.fromisoformat(first), dt.datetime.fromisoformat(last)
    while at <= stop and len(keys) < 5000:
        keys.append(at.strftime("%Y-%m-%d"))
        at = period_end(at, by)
    return keys


def sales_section(uow: Any, *, period: Period, locale: str | None = None) -> dict[str, Any]:
    by = "day" if period.days <= 31 else "week" if period.days <= 183 else "month"
    by_period = analytics.sales_analysis(uow, period.scope(), data_dir=_data_dir(uow), by=by, locale=locale)
    by_category = analytics.sales_analysis(uow, period.scope(), data_dir=_data_dir(uow), by="category", locale=locale)
    by_country = analytics.sales_analysis(uow, period.scope(), data_dir=_data_dir(uow), by="country", locale=locale)
    period_rows, cat_rows = by_period.get("rows", []), by_category.get("rows", [])
    currency = by_period.get("currency") or ""
    # every period in the range: one without sales is a gap in the line, not a bridge over it
    found = {r["key"]: r for r in period_rows}
    keys = _period_keys(period_rows[0]["key"], period_rows[-1]["key"], by) if period_rows else []
    partial = [found[k] for k in keys if k in found and found[k].get("partial")]
    trend = {"type": "line", "data": {"labels": keys, "datasets": [
        {"label": f"Net sales {currency}", "data": [_num(found[k].get("net")) if k in found else None for k in keys],
         "fill": False, "spanGaps": False},
        {"type": "bar", "label": "Partial period (the data covers it only in part)", "color": "#bbbbbb",
         "data": [_num(found[k].get("net")) if k in found and found[k].get("partial") else None for k in keys]}]},
        "options": {"scales": {"y": {"beginAtZero": True}}, "plugins": {"legend": {"display": True}}}}
    charts = [{"title": f"Net sales by {by}", "spec": trend}]
    for title, rows in (("Net sales by category", cat_rows), ("Net sales by country", by_country.get("rows", []))):
        labels, values = _with_other(rows)
        charts.append({"title": title + (f" (top {OTHER_AFTER}, then other)" if len(rows) > OTHER_AFTER else ""),
                       "spec": {"type": "bar", "data": {"labels": labels, "datasets": [
                           {"label": f"Net sales {currency}", "data": values}]},
                           "options": {"scales": {"y": {"beginAtZero": True}}}}})
    columns = ["key", *MONEY_COLUMNS, "units", "orders", "aov", "partial"]
    total = by_period.get("total") or {}
    headline = (f"Net sales {total.get('net', '0')} {currency} = gross {total.get('gross', '0')} "
                f"+ discounts {total.get('discounts', '0')} + returns {total.get('returns', '0')}; shipping "
                f"{total.get('shipping', '0')}, fees {total.get('fees', '0')} and adjustments "
                f"{total.get('adjustments', '0')} are shown apart. Returns count in the period of the return.")
    note = headline + (f" {len(partial)} period(s) only partly covered by the data are shaded." if partial else "")
    return {"charts": charts,
            "tables": [_table(f"By {by}", period_rows, columns),
                       _table("By category", cat_rows, ["key", *MONEY_COLUMNS, "units", "orders"]),
                       _table("By country", by_country.get("rows", []), ["key", *MONEY_COLUMNS, "units", "orders"])],
            "note": note + " " + (by_period.get("cost_basis") or "")}


def portfolio_section(uow: Any, *, period: Period, locale: str | None = None) -> dict[str, Any]:
    report = analytics.portfolio_report(uow, period.scope(), data_dir=_data_dir(uow), locale=locale)
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
    missing = report.get("cost_missing") or {}
    gaps = [{k: p.get(k) for k in ("sku", "name", "category", "lines", "orders", "revenue", "assumed_cost")}
            for p in missing.get("products", [])]
    note = (f"Thresholds: margin {thresholds.get('margin')}, units {thresholds.get('units')} "
            f"(quantile {thresholds.get('quantile')}). Product lines only.") if thresholds else ""
    from merx.analytics.public import cost_gap_summary

    note = " ".join(n for n in (note, cost_gap_summary(missing), report.get("cost_basis")) if n) or None
    return {"charts": [{"title": "Portfolio quadrant: volume × margin", "spec": spec}],
            "tables": [_table("Mix against target", mix_rows),
                       _table("Candidates to drop (bottom 3 per category)", report.get("drop_candidates", [])),
                       _table("Products without a recorded cost (their profit is assumed)", gaps),
                       _table("Products", products)],
            "note": note}


def inventory_section(uow: Any, *, period: Period, locale: str | None = None) -> dict[str, Any]:
    report = analytics.inventory_report(uow, period.scope(), data_dir=_data_dir(uow), as_of=period.date_to)
    counts = report.get("counts", {})
    spec = {"type": "bar", "data": {"labels": [status_label(c) for c in counts], "datasets": [
        {"label": "SKU-locations", "data": list(counts.values()),
         "backgroundColor": ["#c0392b", "#e67e22", "#27ae60", "#95a5a6", "#2453d4"][:len(counts)]}]},
        "options": {"scales": {"y": {"beginAtZero": True}}}}
    return {"charts": [{"title": "SKU-locations by status", "spec": spec}],
            "tables": [_table("Stock against sales", [r | {"status": status_label(r.get("status"))} if "status" in r else r
                                                      for r in report.get("rows", [])])],
            "note": f"As of {report.get('as_of', '')[:10]}, looking back {report.get('lookback_days')} days; overstock "
                    f"above {report.get('overstock_ratio')} of monthly sales, risk below {report.get('safety_days')} "
                    f"days of cover."}


def forecast_section(uow: Any, *, period: Period, locale: str | None = None) -> dict[str, Any]:
    from merx.core.errors import Problem

    # the model needs history: at least a year ending with the chosen period
    start = min(period.date_from, period.date_to - dt.timedelta(days=365))
    scope = analytics.SalesScope(date_from=start, date_to=period.date_to, currency=None)
    try:
        report = analytics.forecast_report(uow, scope, data_dir=_data_dir(uow), freq="week", horizon=4, folds=8)
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
        "options": {"plugins": {"legend": {"display": True}}, "scales": {"y": {"beginAtZero": True}}}}
    tables = [_table("Forecast", future)]
    bt = report.get("backtest")
    if bt:
        rows = [{"model": name, **{k: v for k, v in (bt.get(name) or {}).items() if k in ("mape", "smape", "mase")}}
                for name in ("seasonal_naive", "ets")]
        tables.insert(0, _table(f"Rolling-origin backtest ({bt.get('folds')} folds, horizon {bt.get('horizon')}); "
                                f"better on MASE: {bt.get('winner_on_mase', '').replace('_', ' ')}", rows))
    model = report.get("model") or {}
    partial = report.get("partial_periods") or []
    note = (bt or {}).get("note") or f"Model: {model.get('model', '')}"
    if partial:
        note += (f". Weeks the data covers only in part ({', '.join(partial)}) are left out of the fit and the "
                 "backtest; forecasts below zero are shown as zero.")
    return {"charts": [{"title": f"Weekly {report.get('measure', '')} and the next {len(future)} weeks", "spec": spec}],
            "tables": tables, "note": note}


PARETO_CLASS_COLOURS = {"A": "#27ae60", "B": "#e67e22", "C": "#95a5a6"}


def _pareto_curve(report: dict[str, Any], label: str) -> dict[str, Any]:
    """The cumulative share over every item (not only the listed top rows), the 80% point marked."""
    curve = report.get("curve", [])
    at_80 = next((c for c in curve if c.get("at_80")), None)
    datasets: list[dict[str, Any]] = [
        {"label": label, "data": [{"x": c["items_share"], "y": c["cumulative_share"]} for c in curve],
         "fill": True, "pointRadius": 0, "showLine": True}]
    if at_80:
        datasets.append({"label": f"80% reached at {at_80['rank']:,} of {report.get('items', 0):,} "
                                  f"({at_80['items_share']:.0%})",
                         "data": [{"x": at_80["items_share"], "y": at_80["cumulative_share"]}],
                         "pointRadius": 6, "color": "#2c3e50", "showLine": False})
    return {"type": "scatter", "data": {"datasets": datasets},
            "options": {"plugins": {"legend": {"display": True}},
                        "scales": {"y": {"min": 0, "max": 1, "title": {"display": True, "text": "cumulative share"}},
                                   "x": {"min": 0, "max": 1,
                                         "title": {"display": True, "text": "share of items, largest first"}}}}}


def pareto_section(uow: Any, *, period: Period, locale: str | None = None) -> dict[str, Any]:
    products = analytics.pareto_report(uow, period.scope(), data_dir=_data_dir(uow), of="products", locale=locale)
    customers = analytics.pareto_report(uow, period.scope(), data_dir=_data_dir(uow), of="customers", locale=locale)
    rows = products.get("rows", [])
    top = {"type": "bar", "data": {"labels": [str(r.get("name") or r["item"]) for r in rows[:15]], "datasets": [
        {"label": f"Net sales {products.get('currency', '')}", "data": [_num(r.get("value")) for r in rows[:15]],
         "backgroundColor": [PARETO_CLASS_COLOURS[r["class"]] for r in rows[:15]]}]},
        "options": {"scales": {"y": {"beginAtZero": True}}}}

    def headline(report: dict[str, Any], noun: str) -> str:
        share = report.get("items_share_for_80")
        if not report.get("items") or share is None:
            return f"No {noun} sold in this period."
        return (f"{report['items_for_80']} of {report['items']} {noun} ({share:.0%}) make 80% of the net sales "
                f"of {report.get('total')} {report.get('currency')}.")

    return {"charts": [{"title": "Cumulative share of net sales, all products", "spec": _pareto_curve(products, "Products")},
                       {"title": "Top products (A, B, C classes)", "spec": top},
                       {"title": "Cumulative share of net sales, all buyers",
                        "spec": _pareto_curve(customers, "Buyers")}],
            "tables": [_table("Products by net sales", rows, ["rank", "item", "name", "value", "cumulative_share", "class"]),
                       _table("Buyers by net sales", customers.get("rows", []),
                              ["rank", "item", "value", "cumulative_share", "class"])],
            "note": f"{headline(products, 'products')} {headline(customers, 'buyers')} Products: product lines "
                    "only (no postage, fees or adjustments). Buyers: customers with an order in the period."}


def abandonment_section(uow: Any, *, period: Period, locale: str | None = None) -> dict[str, Any]:
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



