"""Monthly acquisition cohorts, retention curves, repeat purchases and a lifetime value estimate.

- An order is counted as in `customer_purchase_summary`: a distinct order with a sale line,
  not cancelled as a whole. A customer's cohort is the month of their first order (over all
  history up to `to`); `from` selects which cohorts are shown.
- Retention at month k: the share of the cohort that ordered in calendar month cohort+k.
- Revenue per cohort and month: net of cancellations and returns (all lines of the
  cohort's customers in that month; lines before the first order are ignored).
- Repeat-purchase rate: customers with two or more orders / customers.
- CLV estimate (empirical, cohort-based): the average cumulative net revenue per customer
  over the first `clv_months` months (offsets 0..clv_months-1), averaged over the cohorts
  observed for at least that long, weighted by cohort size. When no cohort is that old, the
  longest horizon some cohort covers is used, and reported. (A month counts as observed when
  the data reaches into it, even partly.) The gross-margin CLV applies the cost basis of the
  sales reports.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import replace
from typing import Any

import duckdb

from merx.analytics.definitions import counted_orders_sql
from merx.analytics.scope import SalesScope, amount_str, naive_utc


def cohorts(con: duckdb.DuckDBPyConnection, scope: SalesScope, *, clv_months: int = 12,
            max_offsets: int = 36) -> dict[str, Any]:
    scope = scope.resolved(con)
    history = replace(scope, date_from=None)  # a cohort is fixed by the first order ever
    where, params = history.where()
    shown_from = naive_utc(scope.date_from) if scope.date_from else None
    rows = con.execute(f"""
        WITH s AS MATERIALIZED (
            SELECT customer_id, source, order_ref, kind, occurred_at, line_total_minor, cost_minor
            FROM sales_costed WHERE customer_id IS NOT NULL AND {where}
        ),
        {counted_orders_sql("customer_id IS NOT NULL AND " + where)},
        firsts AS MATERIALIZED (
            SELECT customer_id, date_trunc('month', min(placed_at)) AS cohort, min(placed_at) AS first_at,
                   count(*) AS n_orders
            FROM orders GROUP BY customer_id
        ),
        active AS MATERIALIZED (
            SELECT f.cohort, date_diff('month', f.cohort, date_trunc('month', o.placed_at)) AS k,
                   count(DISTINCT o.customer_id) AS active
            FROM orders o JOIN firsts f USING (customer_id) GROUP BY ALL
        ),
        money AS MATERIALIZED (
            SELECT f.cohort, date_diff('month', f.cohort, date_trunc('month', s.occurred_at)) AS k,
                   sum(s.line_total_minor) AS revenue, sum(s.line_total_minor - s.cost_minor) AS margin
            FROM s JOIN firsts f USING (customer_id)
            WHERE s.occurred_at >= f.first_at
            GROUP BY ALL
        ),
        sizes AS (
            SELECT cohort, count(*) AS customers, count(*) FILTER (WHERE n_orders >= 2) AS repeaters
            FROM firsts GROUP BY cohort
        )
        SELECT z.cohort, z.customers, z.repeaters, a.k, a.active, COALESCE(m.revenue, 0), COALESCE(m.margin, 0)
        FROM sizes z
        JOIN active a USING (cohort)
        LEFT JOIN money m ON m.cohort = a.cohort AND m.k = a.k
        UNION ALL
        -- months with revenue (e.g. a late cancellation) but no order still count for money
        SELECT z.cohort, z.customers, z.repeaters, m.k, 0, m.revenue, m.margin
        FROM sizes z JOIN money m USING (cohort)
        WHERE NOT EXISTS (SELECT 1 FROM active a WHERE a.cohort = m.cohort AND a.k = m.k)
        ORDER BY 1, 4
    """, params + params).fetchall()
    first, last = con.execute(f"SELECT min(occurred_at), max(occurred_at) FROM sales WHERE {where}", params).fetchall()[0]
    # months the data covers only in part (it starts after the 1st or ends before the month is over)
    partial_months = set()
    if first is not None:
        if first != first.replace(day=1, hour=0, minute=0, second=0, microsecond=0):
            partial_months.add(first.strftime("%Y-%m"))
        partial_months.add(last.strftime("%Y-%m"))
    currency = scope.currency or "EUR"
    by_cohort: dict[dt.datetime, dict[str, Any]] = {}
    for cohort, customers, repeaters, k, active, revenue, margin in rows:
        if shown_from is not None and cohort < shown_from.replace(day=1, hour=0, minute=0, second=0, microsecond=0):
            continue
        c = by_cohort.setdefault(cohort, {"customers": customers, "repeaters": repeaters, "months": {}})
        c["months"][int(k)] = (int(active), int(revenue), float(margin))
    out_cohorts = []
    total_customers = total_repeaters = 0
    horizon_sums: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])  # k -> [customers, revenue, margin]
    for cohort in sorted(by_cohort):
        c = by_cohort[cohort]
        size = c["customers"]
        total_customers += size
        total_repeaters += c["repeaters"]
        observed = (_months_between(cohort, last) + 1) if last else 1
        cumulative = 0
        cumulative_margin = 0.0
        curve = []
        for k in range(min(observed, max_offsets)):
            active, revenue, margin = c["months"].get(k, (0, 0, 0.0))
            cumulative += revenue
            cumulative_margin += margin
            calendar = cohort.year * 12 + cohort.month - 1 + k
            curve.append({
                "month": k, "active": active, "retention": round(active / size, 6) if size else 0.0,
                "partial": f"{calendar // 12:04d}-{calendar % 12 + 1:02d}" in partial_months,
                "revenue": amount_str(revenue, currency),
                "cumulative_revenue_per_customer": amount_str(cumulative / size if size else 0, currency),
            })
            h = horizon_sums[k + 1]
            h[0] += size
            h[1] += cumulative
            h[2] += cumulative_margin
        out_cohorts.append({
            "cohort": cohort.strftime("%Y-%m"), "customers": size, "repeat_customers": c["repeaters"],
            "repeat_rate": round(c["repeaters"] / size, 6) if size else 0.0,
            "revenue": amount_str(sum(v[1] for v in c["months"].values()), currency),
            "months_observed": observed, "retention": curve,
            "partial": cohort.strftime("%Y-%m") in partial_months,
        })
    horizon = clv_months if horizon_sums.get(clv_months) else max(horizon_sums, default=0)
    clv: dict[str, Any] = {"horizon_months": horizon, "method": "mean cumulative net revenue per customer over the "
                           "first horizon months, cohorts observed that long, weighted by cohort size"}
    if horizon:
        n, rev, margin = horizon_sums[horizon]
        clv.update(cohorts_used=sum(1 for c in out_cohorts if c["months_observed"] >= horizon),
                   revenue=amount_str(rev / n, currency), gross_margin=amount_str(margin / n, currency))
    return {
        "currency": currency,
        "customers": total_customers,
        "repeat_purchase_rate": round(total_repeaters / total_customers, 6) if total_customers else 0.0,
        "cohorts": out_cohorts,
        "partial_months": sorted(partial_months),
        "clv": clv,
    }


def _months_between(a: dt.datetime, b: dt.datetime) -> int:
    return (b.year - a.year) * 12 + (b.month - a.month)


def cohort_table_rows(report: dict[str, Any], months: int = 12) -> list[dict[str, Any]]:
    """Flat rows for tables and exports: one per cohort, retention per month offset."""
    rows = []
    for c in report["cohorts"]:
        row: dict[str, Any] = {"cohort": c["cohort"], "customers": c["customers"], "repeat_rate": c["repeat_rate"],
                               "revenue": c["revenue"]}
        for point in c["retention"][:months]:
            row[f"m{point['month']}"] = point["retention"]
        rows.append(row)
    return rows
