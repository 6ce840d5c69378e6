"""Product portfolio: gold, sunrise, sunset and the rest.

Each product with positive net units and revenue in the scope is placed on two axes:
- volume: net units sold;
- margin: gross margin per unit (`margin_basis="unit"`, the default) or gross margin as a
  share of revenue (`"rate"`). The default is per unit because most imported histories
  (Online Retail II among them) carry no cost, so every product gets the same assumed cost
  ratio and the margin rate cannot tell products apart; the margin a unit earns still does.
A product is "high" on an axis when it is at or above that axis's threshold: the
`threshold_quantile` (default 0.5, the median) of the axis over the classified products.

gold = high margin and high volume; sunrise = high margin, low volume; sunset = low margin,
high volume; rest = low on both. The mix (by product count and by revenue) is compared with
the target (default 40% gold, 30% sunrise, 30% sunset, over the products in those three).
In each category the 3 products with the lowest profit contribution are flagged as
candidates to drop (categories with fewer than 4 products flag none).
"""

from __future__ import annotations

from typing import Any

import duckdb

from merx.analytics.scope import SalesScope, amount_str
from merx.core.errors import ValidationProblem

CLASSES = ("gold", "sunrise", "sunset", "rest")
DEFAULT_TARGET = {"gold": 0.4, "sunrise": 0.3, "sunset": 0.3}


def portfolio(con: duckdb.DuckDBPyConnection, scope: SalesScope, *, margin_basis: str = "unit",
              threshold_quantile: float = 0.5, target: dict[str, float] | None = None,
              roles: dict[str, str | None] | None = None, drop_per_category: int = 3,
              limit: int | None = None) -> dict[str, Any]:
    if margin_basis not in ("unit", "rate"):
        raise ValidationProblem.for_field("margin_basis", "must be unit or rate")
    if not 0 < threshold_quantile < 1:
        raise ValidationProblem.for_field("threshold_quantile", "must be between 0 and 1")
    target = target or DEFAULT_TARGET
    if set(target) != set(DEFAULT_TARGET) or abs(sum(target.values()) - 1) > 1e-6 or min(target.values()) < 0:
        raise ValidationProblem.for_field("target", "needs gold, sunrise and sunset shares that sum to 1")
    scope = scope.resolved(con)
    currency = scope.currency or "EUR"
    where, params = scope.where()
    margin_expr = "profit / units" if margin_basis == "unit" else "profit / revenue"
    rows = con.execute(f"""
        WITH p AS (
            SELECT sku, CAST(NULL AS VARCHAR) AS name, COALESCE(any_value(category), '(none)') AS category,
                   sum(quantity) AS units, sum(line_total_minor) AS revenue,
                   sum(line_total_minor - cost_minor) AS profit,
                   COALESCE(sum(line_total_minor) FILTER (WHERE cost_assumed), 0) AS assumed_revenue
            FROM sales_costed WHERE {where} AND line_class = 'product' AND sku IS NOT NULL GROUP BY sku
        ),
        c AS (SELECT *, {margin_expr} AS margin FROM p WHERE units > 0 AND revenue > 0),
        t AS (SELECT quantile_cont(margin, {threshold_quantile}) AS mt, quantile_cont(units, {threshold_quantile}) AS vt
              FROM c)
        SELECT c.sku, c.name, c.category, c.units, c.revenue, c.profit, c.margin,
               CASE WHEN c.margin >= t.mt AND c.units >= t.vt THEN 'gold'
                    WHEN c.margin >= t.mt THEN 'sunrise'
                    WHEN c.units >= t.vt THEN 'sunset' ELSE 'rest' END AS class,
               t.mt, t.vt,
               row_number() OVER (PARTITION BY c.category ORDER BY c.profit, c.sku) AS profit_rank,
               count(*) OVER (PARTITION BY c.category) AS in_category,
               c.assumed_revenue
        FROM c, t
        ORDER BY c.revenue DESC, c.sku
    """, params).fetchall()
    margin_threshold = rows[0][8] if rows else None
    volume_threshold = rows[0][9] if rows else None
    counts = {k: 0 for k in CLASSES}
    revenue_by = {k: 0 for k in CLASSES}
    products = []
    drop = []
    categories: dict[str, dict[str, Any]] = {}
    for sku, name, category, units, revenue, profit, margin, klass, _mt, _vt, rank, in_category, assumed in rows:
        counts[klass] += 1
        revenue_by[klass] += int(revenue)
        candidate = in_category > drop_per_category and rank <= drop_per_category
        item = {"sku": sku, "name": name, "category": category, "class": klass, "units": int(units),
                "revenue": amount_str(revenue, currency), "profit": amount_str(profit, currency),
                "margin": (amount_str(margin, currency) if margin_basis == "unit" else round(float(margin), 6)),
                "drop_candidate": candidate,
                # how much of this product's revenue has no recorded cost (its profit is then assumed)
                "cost_assumed_share": round(float(assumed) / float(revenue), 6) if revenue else None}
        products.append(item)
        if candidate:
            drop.append({k: item[k] for k in ("sku", "name", "category", "profit", "class", "cost_assumed_share")}
                        | {"profit_rank": int(rank)})
        cat = categories.setdefault(category, {"category": category, "role": (roles or {}).get(category),
                                               "products": 0, "revenue_minor": 0, "profit_minor": 0.0,
                                               **{k: 0 for k in CLASSES}})
        cat["products"] += 1
        cat["revenue_minor"] += int(revenue)
        cat["profit_minor"] += float(profit)
        cat[klass] += 1
    three = sum(counts[k] for k in DEFAULT_TARGET)
    three_revenue = sum(revenue_by[k] for k in DEFAULT_TARGET)
    mix = [{"class": k, "products": counts[k], "share": round(counts[k] / three, 6) if three else 0.0,
            "revenue_share": round(revenue_by[k] / three_revenue, 6) if three_revenue else 0.0,
            "target": target[k], "gap": round((counts[k] / three if three else 0.0) - target[k], 6)}
           for k in DEFAULT_TARGET]
    for role_name in (roles or {}):
        if role_name not in categories and (roles or {}).get(role_name):
            categories[role_name] = {"category": role_name, "role": roles[role_name], "products": 0,
                                     "revenue_minor": 0, "profit_minor": 0.0, **{k: 0 for k in CLASSES}}
    category_rows = []
    for cat in sorted(categories.values(), key=lambda c: -c["revenue_minor"]):
        rev, prof = cat.pop("revenue_minor"), cat.pop("profit_minor")
        category_rows.append(cat | {"revenue": amount_str(rev, currency), "profit": amount_str(prof, currency)})
    return {
        "currency": currency,
        "margin_basis": margin_basis,
        "thresholds": {"quantile": threshold_quantile,
                       "margin": (amount_str(margin_threshold, currency) if margin_basis == "unit" and margin_threshold is not None
                                  else (round(float(margin_threshold), 6) if margin_threshold is not None else None)),
                       "units": float(volume_threshold) if volume_threshold is not None else None},
        "counts": counts | {"total": len(rows)},
        "mix": mix,
        "categories": category_rows,
        "drop_candidates": drop,
        "products": products[:limit] if limit else products,
    }
