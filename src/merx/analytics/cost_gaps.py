"""Where a margin rests on a guess: the product lines of a scope without a recorded cost.

Live orders carry the cost landed at checkout (catalog costs, `unit_cost` on `order.placed`
lines); imported histories and products never costed carry none, and `sales_costed`
(service.sales_connection) then assumes the category's cost ratio. Every report that shows a
margin or a profit (portfolio and its bottom 3, the profit Pareto, the sales analysis) adds
this section, so the reader sees which products and orders the assumption touches and how
much revenue it covers, instead of a silent ratio."""

from __future__ import annotations

from typing import Any

import duckdb

from merx.analytics.scope import SalesScope, amount_str

# products listed by name; the totals cover every one
LISTED = 50
ORDER_REFS = 5


def missing_costs(con: duckdb.DuckDBPyConnection, scope: SalesScope, *, basis: str | None = None,
                  limit: int = LISTED) -> dict[str, Any]:
    """{"lines", "orders", "revenue", "revenue_share", "assumed_cost", "products": [{"sku",
    "category", "lines", "orders", "revenue", "assumed_cost", "order_refs"}], "products_total",
    "basis"}: product sale lines without a recorded cost in the scope (net of their returns and
    cancellations), the largest revenue first. `revenue_share` is of all net product revenue."""
    scope = scope.resolved(con)
    currency = scope.currency or "EUR"
    where, params = scope.where()
    total_revenue, assumed_revenue, assumed_cost, lines, orders = con.execute(f"""
        SELECT sum(line_total_minor),
               sum(line_total_minor) FILTER (WHERE cost_assumed),
               sum(cost_minor) FILTER (WHERE cost_assumed),
               count(*) FILTER (WHERE cost_assumed AND kind = 'sale'),
               count(DISTINCT order_ref) FILTER (WHERE cost_assumed AND kind = 'sale')
        FROM sales_costed WHERE {where} AND line_class = 'product' AND kind <> 'adjustment'
    """, params).fetchone()
    rows = con.execute(f"""
        SELECT COALESCE(sku, '(no sku)') AS sku, any_value(category) AS category,
               count(*) FILTER (WHERE kind = 'sale') AS lines,
               count(DISTINCT order_ref) FILTER (WHERE kind = 'sale') AS orders,
               sum(line_total_minor) AS revenue, sum(cost_minor) AS cost,
               list(DISTINCT order_ref ORDER BY order_ref) FILTER (WHERE kind = 'sale') AS refs,
               count(*) OVER () AS n
        FROM sales_costed WHERE {where} AND line_class = 'product' AND kind <> 'adjustment' AND cost_assumed
        GROUP BY 1 ORDER BY revenue DESC, sku LIMIT {int(limit)}
    """, params).fetchall()
    total = float(total_revenue or 0)
    return {
        "currency": currency,
        "lines": int(lines or 0),
        "orders": int(orders or 0),
        "revenue": amount_str(assumed_revenue or 0, currency),
        "revenue_share": round(float(assumed_revenue or 0) / total, 6) if total else None,
        "assumed_cost": amount_str(assumed_cost or 0, currency),
        "products_total": int(rows[0][7]) if rows else 0,
        "products": [{"sku": sku, "category": category, "lines": int(n_lines), "orders": int(n_orders),
                      "revenue": amount_str(revenue, currency), "assumed_cost": amount_str(cost, currency),
                      "order_refs": list(refs or [])[:ORDER_REFS]}
                     for sku, category, n_lines, n_orders, revenue, cost, refs, _n in rows],
        "basis": basis,
    }


def summary(missing: dict[str, Any] | None) -> str | None:
    """One sentence for exports and the console: what the assumption covers."""
    if not missing:
        return None
    if not missing["lines"] and missing["revenue"].strip("0.") == "":
        return "every product line in this scope has a recorded cost: margins are real"
    share = missing["revenue_share"]
    top = ", ".join(p["sku"] for p in missing["products"][:5])
    return (f"{missing['lines']} product lines in {missing['orders']} orders have no recorded cost: "
            f"{missing['revenue']} {missing['currency']} of revenue"
            + (f" ({share:.1%} of product revenue)" if share is not None else "")
            + f" carries an assumed cost of {missing['assumed_cost']} {missing['currency']}"
            + (f"; largest: {top}" if top else "")
            + (f" ({missing['products_total']} products in all)" if missing["products_total"] > 5 else ""))
