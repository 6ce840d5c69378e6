"""Inventory health: stock on hand against sales, per SKU and location.

Stock figures come from `inventory.stock_changed` events (kept in analytics_stock_levels by
handlers.py) or, when the inventory context offers `stock_levels(uow)`, from it directly.

- average monthly sales: net units sold over the `lookback_days` before `as_of` (default: just
  after the last sale), per SKU and location, scaled to a month of 30.44 days. Lines without a
  location (web orders shipped centrally, imported history) belong to the SKU as a whole and
  are shared out over its locations in proportion to their stock on hand;
- overstock: on hand above monthly sales x (1 + overstock_ratio), i.e. more than 50% (by
  default) beyond a month of demand;
- risk: on hand below the safety level, `safety_days` of average daily sales;
- days of cover: on hand / average daily sales (null when nothing sold).
With `demand="forecast"` the daily demand is the ETS forecast of the next 30 days instead of
the past average (the SKU's forecast, shared over its locations by their past sales).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pyarrow as pa

from merx.analytics.scope import SalesScope, naive_utc
from merx.core.errors import ValidationProblem

DAYS_PER_MONTH = 365.25 / 12


def inventory_health(con: duckdb.DuckDBPyConnection, stock: list[dict[str, Any]], scope: SalesScope, *,
                     as_of: dt.datetime | None = None, lookback_days: int = 90, overstock_ratio: float = 0.5,
                     safety_days: float = 7.0, status: str | None = None, demand: str = "history") -> dict[str, Any]:
    if not 1 <= lookback_days <= 3650:
        raise ValidationProblem.for_field("lookback_days", "must be between 1 and 3650")
    if not 0 <= overstock_ratio <= 100:
        raise ValidationProblem.for_field("overstock_ratio", "must be between 0 and 100")
    if not 0 <= safety_days <= 365:
        raise ValidationProblem.for_field("safety_days", "must be between 0 and 365")
    if demand not in ("history", "forecast"):
        raise ValidationProblem.for_field("demand", "must be history or forecast")
    if status is not None and status not in ("overstock", "risk", "ok", "no_sales"):
        raise ValidationProblem.for_field("status", "must be overstock, risk, ok or no_sales")
    if as_of is None:
        last = con.execute("SELECT max(occurred_at) FROM sales").fetchall()[0][0]
        as_of = (last + dt.timedelta(seconds=1)) if last else dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    as_of = naive_utc(as_of)
    start = as_of - dt.timedelta(days=lookback_days)
    con.register("stock_now", pa.Table.from_pylist(stock, schema=pa.schema([
        ("sku", pa.string()), ("location", pa.string()), ("on_hand", pa.int64()), ("available", pa.int64())])))
    scope_where, params = scope.where("s")
    rows = con.execute(f"""
        WITH sold AS (
            SELECT s.sku, s.location, sum(s.quantity) AS units
            FROM sales s WHERE {scope_where} AND s.occurred_at >= ? AND s.occurred_at < ? AND s.sku IS NOT NULL
            GROUP BY ALL
        ),
        per_location AS (SELECT sku, location, units FROM sold WHERE location IS NOT NULL),
        unlocated AS (SELECT sku, units FROM sold WHERE location IS NULL),
        stock_share AS (
            SELECT sku, location, on_hand, available,
                   CASE WHEN sum(on_hand) OVER (PARTITION BY sku) > 0
                        THEN on_hand / sum(on_hand) OVER (PARTITION BY sku)
                        ELSE 1.0 / count(*) OVER (PARTITION BY sku) END AS share
            FROM stock_now
        )
        SELECT st.sku, st.location, st.on_hand, st.available,
               COALESCE(pl.units, 0) + COALESCE(u.units, 0) * st.share AS units
        FROM stock_share st
        LEFT JOIN per_location pl ON pl.sku = st.sku AND pl.location = st.location
        LEFT JOIN unlocated u ON u.sku = st.sku
        ORDER BY st.sku, st.location
    """, params + [start, as_of]).fetchall()
    forecast_daily = _forecast_daily_demand(con, scope, {r[0] for r in rows}, start, as_of) if demand == "forecast" else {}
    sku_units: dict[str, float] = {}
    for sku, _loc, _oh, _av, units in rows:
        sku_units[sku] = sku_units.get(sku, 0.0) + max(float(units or 0), 0.0)
    out = []
    counts = {"overstock": 0, "risk": 0, "ok": 0, "no_sales": 0}
    for sku, location, on_hand, available, units in rows:
        units = max(float(units or 0), 0.0)
        daily = units / lookback_days
        if demand == "forecast" and sku_units.get(sku):
            # the SKU's forecast, shared over its locations as their past sales were
            daily = forecast_daily.get(sku, 0.0) * units / sku_units[sku]
        monthly = daily * DAYS_PER_MONTH
        safety = daily * safety_days
        if units <= 0:
            state = "no_sales" if on_hand > 0 else "ok"
        elif on_hand > monthly * (1 + overstock_ratio):
            state = "overstock"
        elif on_hand < safety:
            state = "risk"
        else:
            state = "ok"
        counts[state] += 1
        if status is None or status == state:
            out.append({"sku": sku, "location": location, "on_hand": int(on_hand), "available": int(available),
                        "avg_monthly_sales": round(monthly, 3), "safety_level": round(safety, 3),
                        "days_of_cover": round(on_hand / daily, 1) if daily > 0 else None, "status": state})
    return {
        "as_of": as_of.replace(tzinfo=dt.timezone.utc).isoformat(),
        "lookback_days": lookback_days, "overstock_ratio": overstock_ratio, "safety_days": safety_days,
        "demand": demand,
        "counts": counts, "rows": out,
    }


FORECAST_DAYS = 30


def _forecast_daily_demand(con: duckdb.DuckDBPyConnection, scope: SalesScope, skus: set[str],
                           start: dt.datetime, end: dt.datetime) -> dict[str, float]:
    """Average daily units over the next FORECAST_DAYS per SKU, from the ETS model (weekly
    season) fitted on the SKU's daily net units in the lookback window."""
    import numpy as np

    from merx.analytics.forecast import ets_forecast

    if not skus:
        return {}
    where, params = scope.where()
    con.register("stock_skus", pa.table({"sku": pa.array(sorted(skus), pa.string())}))
    rows = con.execute(f"""
        SELECT sku, date_diff('day', CAST(? AS DATE), CAST(occurred_at AS DATE)) AS day, sum(quantity)
        FROM sales WHERE {where} AND occurred_at >= ? AND occurred_at < ? AND sku IN (SELECT sku FROM stock_skus)
        GROUP BY ALL
    """, [start, *params, start, end]).fetchall()
    days = max((end.date() - start.date()).days, 1)
    series: dict[str, np.ndarray] = {}
    for sku, day, units in rows:
        y = series.setdefault(sku, np.zeros(days))
        if 0 <= day < days:
            y[day] += float(units)
    out = {}
    for sku, y in series.items():
        forecast, _fit = ets_forecast(y, FORECAST_DAYS, 7)
        out[sku] = float(np.clip(forecast, 0, None).sum()) / FORECAST_DAYS
    return out
