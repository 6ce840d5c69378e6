"""Sales analysis and Pareto.

Revenue is net: sale lines minus cancellations and returns (accounting adjustments are not
sales). Units are net quantities. Orders are counted as in `customer_purchase_summary`.
Cost is the line's recorded cost, else revenue x the category's (or default) cost ratio;
`cost_assumed_share` says how much of the revenue carries an assumed cost.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import duckdb

from merx.analytics.scope import SalesScope, amount_str
from merx.core.errors import ValidationProblem

DIMENSIONS = {
    "product": "sku",
    "category": "COALESCE(category, '(none)')",
    "brand": "COALESCE(brand, '(none)')",
    "channel": "COALESCE(channel, '(none)')",
    "location": "COALESCE(location, '(none)')",
    "region": "COALESCE(region, '(none)')",
    "country": "COALESCE(country, '(none)')",
    "sales_rep": "COALESCE(CAST(sales_rep_user_id AS VARCHAR), '(none)')",
    "customer": "CAST(customer_id AS VARCHAR)",
}
PERIODS = ("day", "week", "month", "quarter", "year")


def _metrics_sql(key_sql: str, where: str) -> str:
    return f"""
        WITH s AS MATERIALIZED (
            SELECT source, order_ref, kind, quantity, line_total_minor, cost_minor, cost_assumed, product_name,
                   {key_sql} AS key
            FROM sales_costed WHERE {where}
        ),
        cancelled AS (SELECT DISTINCT source, order_ref FROM s WHERE kind = 'cancellation'),
        agg AS (
            SELECT key, sum(line_total_minor) AS revenue, sum(quantity) AS units, sum(cost_minor) AS cost,
                   sum(line_total_minor) FILTER (WHERE cost_assumed) AS assumed_revenue,
                   count(DISTINCT source || '|' || order_ref) FILTER (
                       WHERE kind = 'sale' AND NOT EXISTS (
                           SELECT 1 FROM cancelled c WHERE c.source = s.source AND c.order_ref = s.order_ref)
                   ) AS orders,
                   any_value(product_name) AS name
            FROM s GROUP BY key
        )
        SELECT key, revenue, units, cost, orders, assumed_revenue, name FROM agg
    """


def _row(key: Any, revenue: int, units: int, cost: float, orders: int, assumed: Any, name: Any,
         currency: str) -> dict[str, Any]:
    revenue = int(revenue or 0)
    cost = float(cost or 0)
    margin = revenue - cost
    out = {
        "key": key, "revenue": amount_str(revenue, currency), "units": int(units or 0), "orders": int(orders or 0),
        "cost": amount_str(cost, currency), "margin": amount_str(margin, currency),
        "margin_rate": round(margin / revenue, 6) if revenue else None,
        "aov": amount_str(revenue / orders, currency) if orders else None,
        "cost_assumed_share": round(float(assumed or 0) / revenue, 6) if revenue else None,
        "_revenue_minor": revenue, "_margin_minor": margin,
    }
    if name is not None:
        out["name"] = name
    return out


def sales_report(con: duckdb.DuckDBPyConnection, scope: SalesScope, *, by: str = "month",
                 limit: int | None = None) -> dict[str, Any]:
    """Figures per `by` (a dimension or a period). Periods carry growth over the previous
    period; dimensions, when the scope has both dates, carry growth over the previous window
    of the same length."""
    scope = scope.resolved(con)
    currency = scope.currency or "EUR"
    if by in PERIODS:
        key_sql = f"strftime(date_trunc('{by}', occurred_at), '%Y-%m-%d')"
    elif by in DIMENSIONS:
        key_sql = DIMENSIONS[by]
    else:
        raise ValidationProblem.for_field("by", f"must be one of {', '.join((*DIMENSIONS, *PERIODS))}")
    where, params = scope.where()
    rows = [_row(*r, currency=currency) for r in con.execute(_metrics_sql(key_sql, where), params).fetchall()]
    if by in PERIODS:
        rows.sort(key=lambda r: r["key"])
        prev = None
        for r in rows:
            r["growth"] = _growth(r["_revenue_minor"], prev)
            prev = r["_revenue_minor"]
    else:
        rows.sort(key=lambda r: (-r["_revenue_minor"], str(r["key"])))
        if scope.date_from and scope.date_to:
            length = scope.date_to - scope.date_from
            before = replace(scope, date_from=scope.date_from - length, date_to=scope.date_from)
            bwhere, bparams = before.where()
            previous = {k: rev for k, rev, *_ in con.execute(_metrics_sql(key_sql, bwhere), bparams).fetchall()}
            for r in rows:
                p = previous.get(r["key"])
                r["previous_revenue"] = amount_str(p, currency) if p is not None else None
                r["growth"] = _growth(r["_revenue_minor"], p)
    found = con.execute(_metrics_sql("'total'", where), params).fetchall()
    total = _row(None, *(found[0][1:] if found else (0, 0, 0, 0, None, None)), currency=currency)
    total.pop("key")
    if limit is not None:
        rows = rows[:limit]
    for r in rows + [total]:
        r.pop("_revenue_minor", None)
        r.pop("_margin_minor", None)
        if by != "product" or r is total:
            r.pop("name", None)
    return {"currency": currency, "by": by, "rows": rows, "total": total}


def _growth(current: int, previous: int | None) -> float | None:
    if previous is None or previous == 0:
        return None
    return round((current - previous) / abs(previous), 6)


def pareto(con: duckdb.DuckDBPyConnection, scope: SalesScope, *, of: str = "products", measure: str = "revenue",
           top_share: float = 0.2, limit: int = 100) -> dict[str, Any]:
    """Which share of products (or customers) makes which share of revenue (or profit).

    Items are ranked by the measure, largest first; `top_share_of_measure` is the share of the
    total that the top ceil(top_share x items) items make; `items_share_for_80` is the smallest
    share of items whose cumulative measure reaches 80% of the total. Rows carry an ABC class
    (A up to 80% cumulative, B up to 95%, C the rest)."""
    if of not in ("products", "customers"):
        raise ValidationProblem.for_field("of", "must be products or customers")
    if measure not in ("revenue", "profit"):
        raise ValidationProblem.for_field("measure", "must be revenue or profit")
    if not 0 < top_share < 1:
        raise ValidationProblem.for_field("top_share", "must be between 0 and 1")
    scope = scope.resolved(con)
    currency = scope.currency or "EUR"
    where, params = scope.where()
    key = "sku" if of == "products" else "customer_id"
    value = "sum(line_total_minor)" if measure == "revenue" else "sum(line_total_minor - cost_minor)"
    items = con.execute(f"""
        SELECT CAST({key} AS VARCHAR) AS item, {value} AS v, any_value(product_name)
        FROM sales_costed WHERE {where} AND {key} IS NOT NULL
        GROUP BY {key} ORDER BY v DESC, item
    """, params).fetchall()
    n = len(items)
    total = float(sum(v for _, v, _ in items))
    top_n = math.ceil(top_share * n) if n else 0
    top_value = float(sum(v for _, v, _ in items[:top_n]))
    cumulative = 0.0
    rows = []
    items_for_80 = None
    for rank, (item, v, name) in enumerate(items, start=1):
        cumulative += float(v)
        share = cumulative / total if total else 0.0
        if items_for_80 is None and total and share >= 0.8:
            items_for_80 = rank
        if rank <= limit:
            row = {"rank": rank, "item": item, "value": amount_str(v, currency), "cumulative_share": round(share, 6),
                   "class": "A" if share <= 0.8 or rank == 1 else "B" if share <= 0.95 else "C"}
            if of == "products":
                row["name"] = name
            rows.append(row)
    return {
        "currency": currency, "of": of, "measure": measure, "items": n,
        "total": amount_str(total, currency),
        "top_share": top_share, "top_items": top_n,
        "top_share_of_measure": round(top_value / total, 6) if total else None,
        "items_for_80": items_for_80,
        "items_share_for_80": round(items_for_80 / n, 6) if items_for_80 and n else None,
        "rows": rows,
    }

