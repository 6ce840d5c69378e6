"""Sales analysis and Pareto, under the definitions in definitions.py.

Every sales row carries gross sales, discounts, returns and net sales side by side (net is
the headline), with shipping, fees and adjustments in their own columns. Units are net
product units; orders are counted orders; cost is the product lines' recorded cost, else
revenue x the category's (or default) cost ratio (`cost_assumed_share` says how much of net
sales carries an assumed cost). Returns count in the period of the return unless
`returns="original_sale"`, which moves a return that names its order to that order's time.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace
from typing import Any

import duckdb

from merx.analytics.definitions import counted_orders_sql, money_columns_sql
from merx.analytics.scope import SalesScope, amount_str, naive_utc
from merx.core.errors import ValidationProblem

DIMENSIONS = {
    # non-product lines (shipping, fees, discounts, adjustments, write-offs) get a row each
    "product": "CASE WHEN line_class = 'product' THEN sku ELSE '(' || line_class || ')' END",
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
RETURNS_ATTRIBUTION = ("return_date", "original_sale")
MONEY = ("gross", "discounts", "returns", "net", "shipping", "fees", "adjustments")


def attributed_view(con: duckdb.DuckDBPyConnection, returns: str) -> str:
    """A view of `sales_all_costed` whose `occurred_at` is the attributed time of each line."""
    if returns not in RETURNS_ATTRIBUTION:
        raise ValidationProblem.for_field("returns", f"must be one of {', '.join(RETURNS_ATTRIBUTION)}")
    if returns == "return_date":
        return "sales_all_costed"
    con.execute("""
        CREATE OR REPLACE TEMP VIEW sales_by_sale_date AS
        WITH sold AS (SELECT source, order_ref, min(occurred_at) AS sold_at FROM sales_all
                      WHERE kind = 'sale' GROUP BY ALL)
        SELECT s.* REPLACE (CASE WHEN s.kind IN ('cancellation', 'return') AND d.sold_at IS NOT NULL
                                 THEN d.sold_at ELSE s.occurred_at END AS occurred_at),
               s.kind IN ('cancellation', 'return') AND s.line_class = 'product' AND d.sold_at IS NULL AS unlinked
        FROM sales_all_costed s LEFT JOIN sold d USING (source, order_ref)
    """)
    return "sales_by_sale_date"


def _metrics_sql(key_sql: str, where: str, relation: str) -> str:
    return f"""
        WITH {counted_orders_sql(where, relation)},
        l0 AS MATERIALIZED (SELECT *, {key_sql} AS key FROM {relation} WHERE {where}),
        l AS (
            SELECT l0.*, o.order_ref IS NOT NULL AS counted
            FROM l0 LEFT JOIN orders o ON o.source = l0.source AND o.order_ref = l0.order_ref
                 AND l0.kind = 'sale' AND l0.line_class = 'product' AND l0.line_total_minor > 0
        )
        SELECT key, {money_columns_sql()},
               count(DISTINCT source || '|' || order_ref) FILTER (WHERE counted) AS orders,
               sum(cost_minor) FILTER (WHERE kind <> 'adjustment') AS cost,
               sum(line_total_minor) FILTER (WHERE cost_assumed AND kind <> 'adjustment') AS assumed_revenue
        FROM l GROUP BY key
    """


def _row(values: tuple[Any, ...], currency: str) -> dict[str, Any]:
    key, gross, discounts, returns, net, shipping, fees, adjustments, units, writeoffs, orders, cost, assumed = values
    net = int(net or 0)
    cost = float(cost or 0)
    margin = net - cost
    out: dict[str, Any] = {"key": key}
    for name, v in zip(MONEY, (gross, discounts, returns, net, shipping, fees, adjustments)):
        out[name] = amount_str(int(v or 0), currency)
    out |= {
        "revenue": amount_str(net, currency),  # = net, the headline (kept under its old name)
        "units": int(units or 0), "orders": int(orders or 0), "writeoff_lines": int(writeoffs or 0),
        "cost": amount_str(cost, currency), "margin": amount_str(margin, currency),
        "margin_rate": round(margin / net, 6) if net else None,
        "aov": amount_str(net / orders, currency) if orders else None,
        "cost_assumed_share": round(float(assumed or 0) / net, 6) if net else None,
        "_revenue_minor": net,
    }
    return out


def sales_report(con: duckdb.DuckDBPyConnection, scope: SalesScope, *, by: str = "month",
                 limit: int | None = None, returns: str = "return_date") -> dict[str, Any]:
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
    relation = attributed_view(con, returns)
    where, params = scope.where()
    rows = [_row(r, currency) for r in con.execute(_metrics_sql(key_sql, where, relation), params + params).fetchall()]
    if by in PERIODS:
        rows.sort(key=lambda r: r["key"])
        _flag_partial(con, scope, rows, by)
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
            previous = {r[0]: int(r[4] or 0) for r in
                        con.execute(_metrics_sql(key_sql, bwhere, relation), bparams + bparams).fetchall()}
            for r in rows:
                p = previous.get(r["key"])
                r["previous_revenue"] = amount_str(p, currency) if p is not None else None
                r["growth"] = _growth(r["_revenue_minor"], p)
    found = con.execute(_metrics_sql("'total'", where, relation), params + params).fetchall()
    total = _row(found[0] if found else ("total", *([0] * 12)), currency)
    total.pop("key")
    out: dict[str, Any] = {"currency": currency, "by": by, "headline": "net",
                           "returns_attribution": returns, "columns": list(MONEY), "rows": [], "total": total}
    if returns == "original_sale":
        unlinked = con.execute(f"SELECT COALESCE(sum(line_total_minor), 0) FROM {relation} WHERE {where} AND unlinked",
                               params).fetchall()[0][0]
        out["returns_unlinked"] = amount_str(int(unlinked), currency)
        out["note"] = ("returns that do not name their order stay in the period of the return "
                       f"({out['returns_unlinked']} {currency})")
    if limit is not None:
        rows = rows[:limit]
    for r in rows + [total]:
        r.pop("_revenue_minor", None)
    out["rows"] = rows
    return out


def period_end(start: dt.datetime, by: str) -> dt.datetime:
    if by == "day":
        return start + dt.timedelta(days=1)
    if by == "week":
        return start + dt.timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[by]
    index = start.year * 12 + start.month - 1 + months
    return start.replace(year=index // 12, month=index % 12 + 1)


def _flag_partial(con: duckdb.DuckDBPyConnection, scope: SalesScope, rows: list[dict[str, Any]], by: str) -> None:
    """`partial: true` on a period that the data (within the scope's dates) covers only partly:
    it starts before the first line or ends after the last one."""
    first, last = con.execute("SELECT min(occurred_at), max(occurred_at) FROM sales_all").fetchall()[0]
    if first is None:
        return
    lo = max(first, naive_utc(scope.date_from)) if scope.date_from else first
    hi = min(last, naive_utc(scope.date_to)) if scope.date_to else last
    for r in rows:
        start = dt.datetime.fromisoformat(r["key"])
        r["partial"] = start < lo or period_end(start, by) > hi


def _growth(current: int, previous: int | None) -> float | None:
    if previous is None or previous == 0:
        return None
    return round((current - previous) / abs(previous), 6)


CURVE_POINTS = 200


def pareto(con: duckdb.DuckDBPyConnection, scope: SalesScope, *, of: str = "products", measure: str = "revenue",
           top_share: float = 0.2, limit: int = 100) -> dict[str, Any]:
    """Which share of products (or buyers) makes which share of net sales (or profit).

    Products: SKUs with product lines in the scope, valued by their net product sales (sales
    less returns). Customers: buyers (definitions.py), valued by their net sales. Items are
    ranked by the measure, largest first; `top_share_of_measure` is the share of the total
    that the top ceil(top_share x items) items make; `items_share_for_80` is the smallest
    share of items whose cumulative measure reaches 80% of the total. Rows carry an ABC class
    (A up to 80% cumulative, B up to 95%, C the rest); `curve` is the cumulative share over
    all items (at most 200 points, the 80% point always among them)."""
    if of not in ("products", "customers"):
        raise ValidationProblem.for_field("of", "must be products or customers")
    if measure not in ("revenue", "profit"):
        raise ValidationProblem.for_field("measure", "must be revenue or profit")
    if not 0 < top_share < 1:
        raise ValidationProblem.for_field("top_share", "must be between 0 and 1")
    scope = scope.resolved(con)
    currency = scope.currency or "EUR"
    where, params = scope.where()
    value = "sum(line_total_minor)" if measure == "revenue" else "sum(line_total_minor - cost_minor)"
    if of == "products":
        items = con.execute(f"""
            SELECT sku AS item, {value} AS v FROM sales_costed
            WHERE {where} AND line_class = 'product' AND sku IS NOT NULL
            GROUP BY sku ORDER BY v DESC, item
        """, params).fetchall()
    else:
        swhere, sparams = scope.where("s")
        items = con.execute(f"""
            WITH {counted_orders_sql(where)},
            buyers AS (SELECT DISTINCT customer_id FROM orders WHERE customer_id IS NOT NULL)
            SELECT CAST(s.customer_id AS VARCHAR) AS item, COALESCE({value}, 0) AS v
            FROM buyers b JOIN sales_costed s ON s.customer_id = b.customer_id AND {swhere}
            GROUP BY s.customer_id ORDER BY v DESC, item
        """, params + sparams).fetchall()
    n = len(items)
    total = float(sum(v for _, v in items))
    top_n = math.ceil(top_share * n) if n else 0
    top_value = float(sum(v for _, v in items[:top_n]))
    cumulative = 0.0
    rows = []
    curve = []
    items_for_80 = None
    step = max(1, n // CURVE_POINTS)
    for rank, (item, v) in enumerate(items, start=1):
        cumulative += float(v)
        share = cumulative / total if total else 0.0
        at_80 = items_for_80 is None and total > 0 and share >= 0.8
        if at_80:
            items_for_80 = rank
        if rank == 1 or rank == n or rank % step == 0 or at_80:
            curve.append({"rank": rank, "items_share": round(rank / n, 6), "cumulative_share": round(share, 6),
                          **({"at_80": True} if at_80 else {})})
        if rank <= limit:
            rows.append({"rank": rank, "item": item, "value": amount_str(v, currency),
                         "cumulative_share": round(share, 6),
                         "class": "A" if share <= 0.8 or rank == 1 else "B" if share <= 0.95 else "C"})
    return {
        "currency": currency, "of": of, "measure": measure, "items": n,
        "population": ("SKUs with product lines" if of == "products" else "buyers (customers with a counted order)"),
        "total": amount_str(total, currency),
        "top_share": top_share, "top_items": top_n,
        "top_share_of_measure": round(top_value / total, 6) if total else None,
        "items_for_80": items_for_80,
        "items_share_for_80": round(items_for_80 / n, 6) if items_for_80 and n else None,
        "rows": rows, "curve": curve,
    }
