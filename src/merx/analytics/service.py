"""Analytics use cases. CRM gets `customer_purchase_summary` and the customers' profit Pareto
through the hook it declares (analytics/hooks.py); others call these (`customer_funnel_stage`;
the Online Retail II importer: `import_online_retail_lines`);
the API and CLI call the report functions.

Every report reads the sales-lines fact store through a DuckDB connection over its cached
columnar snapshot (see store.py) and, for funnel and abandonment, the behavioural event store.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Mapping

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from merx.analytics import facts
from merx.analytics.facts import SalesLineIn, record_sales_lines  # noqa: F401 - part of the contract
from merx.analytics.models import CategorySetting, SalesLine
from merx.analytics.scope import SalesScope, aware, to_amount
from merx.analytics.store import EventSource, connect, sales_snapshot
from merx.core.errors import ValidationProblem
from merx.core.uow import UnitOfWork
from merx.crm.sources import PurchaseSummary

log = logging.getLogger("merx.analytics")

ONLINE_RETAIL_SOURCE = "online-retail"
ONLINE_RETAIL_CURRENCY = "GBP"
# Online Retail II carries no cost. Reports assume a cost of this share of the selling price
# (a 40% gross margin, typical of a gift wholesaler) unless the line has a real cost or its
# category has its own ratio (PUT /api/v1/analytics/categories/{code}); outputs label it.
DEFAULT_COST_RATIO = Decimal(os.environ.get("MERX_ANALYTICS_COST_RATIO", "0.6"))
CATEGORY_ROLES = ("destination", "routine", "occasional", "convenience")


# -- the DuckDB connection every report uses -----------------------------------------------------


def open_connection(uow: UnitOfWork, *, events: EventSource | None = None) -> duckdb.DuckDBPyConnection:
    """DuckDB over the fact snapshot (in-memory cache only), with `sales_costed`."""
    return sales_connection(uow, None, events)


def cost_ratios(uow: UnitOfWork) -> dict[str, Decimal]:
    rows = uow.session.execute(sa.select(CategorySetting.category, CategorySetting.cost_ratio)
                               .where(CategorySetting.cost_ratio.is_not(None))).all()
    return {c: Decimal(r) for c, r in rows}


def cost_basis_note(uow: UnitOfWork) -> str:
    ratios = cost_ratios(uow)
    note = (f"lines without a recorded cost use an assumed cost of {DEFAULT_COST_RATIO} x revenue"
            " (MERX_ANALYTICS_COST_RATIO)")
    if ratios:
        note += "; per-category ratios: " + ", ".join(f"{c}={v}" for c, v in sorted(ratios.items()))
    return note


# -- loading history -----------------------------------------------------------------------------


def import_online_retail_lines(uow: UnitOfWork, table: pa.Table, customer_ids_by_ref: Mapping[str, int],
                               progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Load every Online Retail II invoice line into the sales history.

    Line keys are `<Invoice>:<n>` (n = position of the line within its invoice in the file),
    so a second import of the same file inserts nothing; lines already stored whose customer
    now maps to a different Merx customer are re-linked. Invoices starting with "C" are
    cancellations, with "A" accounting adjustments (kept, never counted as revenue). Each line's
    class (product, discount, shipping, fee, adjustment, writeoff) comes from the documented
    code table in line_classes.py.
    Timestamps are the file's UK wall-clock times, stored as UTC unchanged.
    Prices have up to 3 decimals (0.001 GBP); line totals are rounded half-up to pence."""
    needed = ("Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country")
    missing = [c for c in needed if c not in table.column_names]
    if missing:
        raise ValidationProblem.for_field("file", f"missing columns: {', '.join(missing)}")
    n = table.num_rows
    invoices = table.column("Invoice").to_pylist()
    skus = table.column("StockCode").to_pylist()
    names = table.column("Description").to_pylist()
    qty = table.column("Quantity").to_numpy(zero_copy_only=False).astype(np.int64)
    price_milli = np.rint(table.column("Price").to_numpy(zero_copy_only=False) * 1000).astype(np.int64)
    total_tenths = qty * price_milli  # tenths of a penny, exact
    minor = np.sign(total_tenths) * ((np.abs(total_tenths) + 5) // 10)
    cust = table.column("Customer ID")
    cust_int = pc.cast(cust, pa.int64(), safe=False).to_pylist()
    countries = table.column("Country").to_pylist()
    dates = table.column("InvoiceDate").to_pylist()

    per_invoice: dict[str, int] = {}
    keys: list[str] = []
    for inv in invoices:
        no = per_invoice.get(inv, 0) + 1
        per_invoice[inv] = no
        keys.append(f"{inv}:{no}")
    existing = facts.existing_keys(uow, ONLINE_RETAIL_SOURCE, keys)
    fresh = [i for i in range(n) if keys[i] not in existing]
    if progress and n - len(fresh):
        progress(n - len(fresh))

    catalog = _catalog_info(uow, {skus[i] for i in fresh if skus[i]}) if fresh else {}
    parsed_dates: dict[str, dt.datetime] = {}

    def when(text: str) -> dt.datetime:
        value = parsed_dates.get(text)
        if value is None:
            value = parsed_dates[text] = dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)
        return value

    from merx.analytics.line_classes import classify

    price_float = table.column("Price").to_numpy(zero_copy_only=False)
    qty_list = qty.tolist()
    minor_list = minor.tolist()
    price_list = price_milli.tolist()
    inserted = 0
    for start in range(0, len(fresh), facts.CHUNK):
        part = fresh[start:start + facts.CHUNK]
        refs = [f"online-retail:{cust_int[i]}" if cust_int[i] is not None else None for i in part]
        infos = [catalog.get(skus[i]) for i in part]
        columns: dict[str, Any] = {
            "source": ONLINE_RETAIL_SOURCE,
            "line_key": [keys[i] for i in part],
            "order_ref": [invoices[i] for i in part],
            "kind": ["cancellation" if invoices[i].startswith("C") else "adjustment" if invoices[i].startswith("A")
                     else "sale" for i in part],
            "line_class": [classify(skus[i], price_float[i], qty_list[i], cust_int[i] is not None) for i in part],
            "sku": [skus[i] for i in part],
            "product_id": [info[0] if info else None for info in infos],
            "product_name": [(names[i] or "")[:200] or None for i in part],
            "customer_id": [customer_ids_by_ref.get(r) if r else None for r in refs],
            "customer_ref": refs,
            "quantity": [qty_list[i] for i in part],
            "unit_price": [Decimal(price_list[i]).scaleb(-3) for i in part],
            "currency": ONLINE_RETAIL_CURRENCY,
            "line_total_minor": [minor_list[i] for i in part],
            "line_cost_minor": None,
            "occurred_at": [when(dates[i]) for i in part],
            "channel": "online",
            "country": [countries[i] for i in part],
            "region": [countries[i] for i in part],
            "location": None,
            "sales_rep_user_id": None,
            "category": [info[1] if info else None for info in infos],
            "brand": [info[2] if info else None for info in infos],
        }
        facts.insert_columns(uow, columns, len(part))
        inserted += len(part)
        if progress:
            progress(len(part))
    relinked = facts.relink_customers(uow, ONLINE_RETAIL_SOURCE, customer_ids_by_ref)
    uow.audit("analytics.online_retail.imported", "analytics_sales_lines", ONLINE_RETAIL_SOURCE,
              after={"lines": n, "inserted": inserted, "lines_relinked": relinked})
    uow.commit()
    return {"lines": n, "inserted": inserted, "unchanged": n - inserted, "lines_relinked": relinked}


def _catalog_info(uow: UnitOfWork, skus: set[str]) -> dict[str, tuple[int | None, str | None, str | None]]:
    """product id, category and brand per SKU from the catalog, when it knows them."""
    try:
        from merx.catalog import public as catalog_service

        found = catalog_service.lookup_skus(uow, skus)
    except Exception as e:  # noqa: BLE001 - history is still worth loading without catalog enrichment
        log.info("catalog lookup unavailable for the sales import: %s", e)
        return {}
    return {sku: (info.product_id, info.category, info.brand) for sku, info in found.items()}


# -- contract for the CRM ------------------------------------------------------------------------


# The shape CRM declares for the figures analytics contributes (analytics/hooks.py).
CustomerPurchaseSummary = PurchaseSummary


def customer_purchase_summary(uow: UnitOfWork, *, until: dt.datetime | None = None) -> list[CustomerPurchaseSummary]:
    """Per buyer (and currency) over every sale Merx knows, up to `until` inclusive, under the
    definitions in definitions.py (GET /api/v1/analytics/definitions):
    - orders_count: counted orders (at least one priced product line, not cancelled in full);
    - first/last_order_at: the times of those orders;
    - revenue: the buyer's net sales (product lines less returns, plus discounts); shipping,
      fees, adjustments and write-offs are not sales.
    Customers with no counted order are not buyers and are left out. Sorted by customer id."""
    from merx.analytics.definitions import counted_orders_sql, net_sales_sum

    con = open_connection(uow)
    params: list[Any] = []
    cond = "customer_id IS NOT NULL"
    if until is not None:
        cond += " AND occurred_at <= ?"
        params.append(aware(until).astimezone(dt.timezone.utc).replace(tzinfo=None))
    rows = con.execute(f"""
        WITH {counted_orders_sql(cond)},
        counted AS (
            SELECT customer_id, currency, count(*) AS n, min(placed_at) AS first_at, max(placed_at) AS last_at
            FROM orders WHERE customer_id IS NOT NULL GROUP BY ALL
        ),
        money AS (SELECT customer_id, currency, {net_sales_sum()} AS revenue FROM scoped_lines GROUP BY ALL)
        SELECT c.customer_id, c.currency, c.n, c.first_at, c.last_at, COALESCE(m.revenue, 0)
        FROM counted c LEFT JOIN money m USING (customer_id, currency)
        ORDER BY c.customer_id, c.currency
    """, params).fetchall()
    return [CustomerPurchaseSummary(
        customer_id=int(cid), orders_count=int(n), first_order_at=aware(first), last_order_at=aware(last),
        revenue=to_amount(rev, cur), currency=cur) for cid, cur, n, first, last, rev in rows]


# -- category settings ---------------------------------------------------------------------------


def set_category(uow: UnitOfWork, category: str, *, role: str | None = None, cost_ratio: Decimal | None = None,
                 clear_role: bool = False) -> CategorySetting:
    if role is not None and role not in CATEGORY_ROLES:
        raise ValidationProblem.for_field("role", f"must be one of {', '.join(CATEGORY_ROLES)}")
    if cost_ratio is not None and not (Decimal(0) <= cost_ratio <= Decimal(5)):
        raise ValidationProblem.for_field("cost_ratio", "must be between 0 and 5 (cost as a share of revenue)")
    row = uow.session.get(CategorySetting, category)
    before = {"role": row.role, "cost_ratio": str(row.cost_ratio) if row.cost_ratio is not None else None} if row else None
    if row is None:
        row = CategorySetting(category=category)
        uow.session.add(row)
    if role is not None or clear_role:
        row.role = role
    if cost_ratio is not None:
        row.cost_ratio = cost_ratio
    after = {"role": row.role, "cost_ratio": str(row.cost_ratio) if row.cost_ratio is not None else None}
    uow.audit("analytics.category.updated", "analytics_category", category, before=before, after=after)
    uow.commit()
    return row


def category_settings(uow: UnitOfWork) -> dict[str, CategorySetting]:
    return {r.category: r for r in uow.session.scalars(sa.select(CategorySetting))}


def snapshot_to_parquet(uow: UnitOfWork, data_dir: Path) -> Path:
    from merx.analytics.store import write_parquet_snapshot

    return write_parquet_snapshot(uow, data_dir / "analytics" / "sales_lines.parquet")


def sales_line_count(uow: UnitOfWork) -> int:
    return int(uow.session.scalar(sa.select(sa.func.count()).select_from(SalesLine)) or 0)


# -- reports -------------------------------------------------------------------------------------


def scoped(uow: UnitOfWork, scope: SalesScope) -> SalesScope:
    """A sales rep sees only its own figures: every sales-based report is narrowed to its lines."""
    from dataclasses import replace

    from merx.core.auth import Role

    if uow.actor.role == Role.sales_rep:
        return replace(scope, sales_rep_user_id=uow.actor.user_id if uow.actor.user_id is not None else -1)
    return scope


def _cache_dir(data_dir: Path | None) -> Path | None:
    return data_dir / "analytics" if data_dir is not None else None


def sales_connection(uow: UnitOfWork, data_dir: Path | None = None,
                     events: EventSource | None = None) -> duckdb.DuckDBPyConnection:
    con = connect(sales_snapshot(uow, _cache_dir(data_dir)), events)
    ratios = cost_ratios(uow)
    con.register("category_ratios", pa.table({
        "category": pa.array(list(ratios), pa.string()),
        "ratio": pa.array([float(v) for v in ratios.values()], pa.float64()),
    }))
    # Only goods have a cost: a discount lowers the margin by its full amount.
    for view, base in (("sales_costed", "sales"), ("sales_all_costed", "sales_all")):
        con.execute(f"""
            CREATE TEMP VIEW {view} AS
            SELECT s.*,
                   CASE WHEN s.line_class = 'product' THEN COALESCE(s.line_cost_minor,
                            s.line_total_minor * COALESCE(r.ratio, {float(DEFAULT_COST_RATIO)})) ELSE 0 END AS cost_minor,
                   s.line_class = 'product' AND s.line_cost_minor IS NULL AS cost_assumed
            FROM {base} s LEFT JOIN category_ratios r ON r.category = s.category
        """)
    return con


CRM_EXPORT_MAX_AGE_SECONDS = 60


def event_source(uow: UnitOfWork, data_dir: Path | None) -> EventSource:
    """Bulk/archived events under the events directory plus the CRM's tracked events, exported
    to Parquet through `merx.crm.service.export_events_parquet` (refreshed at most once a minute)."""
    from merx.analytics.store import MultiParquetEventSource, events_directory

    paths = [events_directory(data_dir)]
    crm_file = _crm_export(uow, data_dir)
    if crm_file is not None:
        paths.append(crm_file)
    return MultiParquetEventSource(tuple(paths))


def _crm_export(uow: UnitOfWork, data_dir: Path | None) -> Path | None:
    import time

    from merx.crm.public import export_events_parquet as exporter

    if data_dir is None:
        return None
    path = data_dir / "analytics" / "crm_events.parquet"
    try:
        if path.exists() and time.time() - path.stat().st_mtime < CRM_EXPORT_MAX_AGE_SECONDS:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"crm_events.{os.getpid()}.tmp")
        exporter(uow, tmp)
        os.replace(tmp, path)
        return path
    except Exception as e:  # noqa: BLE001 - the funnel still answers from the other event files
        log.warning("could not export CRM events for analytics: %s", e)
        return path if path.exists() else None


def funnel_report(uow: UnitOfWork, *, data_dir: Path | None, events: EventSource | None = None,
                  date_from: dt.datetime | None = None, date_to: dt.datetime | None = None, by: str | None = None,
                  definition: Any = None) -> dict[str, Any]:
    from merx.analytics import funnel

    # with the sales history: counted orders join the stream as purchase events
    con = connect(sales_snapshot(uow, _cache_dir(data_dir)), events or event_source(uow, data_dir))
    return funnel.funnel(con, date_from=date_from, date_to=date_to, by=by,
                         definition=definition or funnel.FunnelDefinition())


def funnel_people(uow: UnitOfWork, *, data_dir: Path | None, events: EventSource | None = None,
                  stage: str | None = None, customer_ids: list[int] | None = None, limit: int = 100,
                  after: str | None = None, definition: Any = None) -> list[dict[str, Any]]:
    from merx.analytics import funnel

    con = connect(sales_snapshot(uow, _cache_dir(data_dir)), events or event_source(uow, data_dir))
    return funnel.person_stages(con, definition=definition or funnel.FunnelDefinition(), stage=stage,
                                customer_ids=customer_ids, limit=limit, after_person=after)


def customer_funnel_stage(uow: UnitOfWork, customer_id: int, *, data_dir: Path | None = None,
                          events: EventSource | None = None) -> dict[str, Any] | None:
    """For the CRM's customer 360: {"stage", "reached_at"} of one customer, or None without events."""
    rows = funnel_people(uow, data_dir=data_dir, events=events, customer_ids=[customer_id], limit=1)
    return {"stage": rows[0]["stage"], "reached_at": rows[0]["reached_at"]} if rows else None


def cohort_report(uow: UnitOfWork, scope: SalesScope, *, data_dir: Path | None = None, clv_months: int = 12) -> dict[str, Any]:
    from merx.analytics import cohorts

    if not 1 <= clv_months <= 120:
        raise ValidationProblem.for_field("clv_months", "must be between 1 and 120")
    con = sales_connection(uow, data_dir)
    return cohorts.cohorts(con, scoped(uow, scope), clv_months=clv_months) | {"cost_basis": cost_basis_note(uow)}


def catalog_names(uow: UnitOfWork, skus: list[str], locale: str | None = None) -> dict[str, str]:
    """SKU -> the catalog's product name in `locale` (its translation, else the default name;
    never a line's free-text description)."""
    from merx.catalog import public as catalog_service

    return catalog_service.product_names(uow, [s for s in skus if s], locale)


def _name_rows(uow: UnitOfWork, rows: list[dict[str, Any]], key: str, locale: str | None = None) -> None:
    names = catalog_names(uow, [str(r[key]) for r in rows if r.get(key) is not None], locale)
    for r in rows:
        r["name"] = names.get(str(r.get(key)))


def sales_analysis(uow: UnitOfWork, scope: SalesScope, *, data_dir: Path | None = None, by: str = "month",
                   limit: int | None = None, returns: str = "return_date", locale: str | None = None) -> dict[str, Any]:
    from merx.analytics import sales

    con = sales_connection(uow, data_dir)
    report = sales.sales_report(con, scoped(uow, scope), by=by, limit=limit, returns=returns)
    if by == "product":
        _name_rows(uow, report["rows"], "key", locale)
    return report | _cost_sections(uow, con, scope, locale)


def pareto_report(uow: UnitOfWork, scope: SalesScope, *, data_dir: Path | None = None, of: str = "products",
                  measure: str = "revenue", top_share: float = 0.2, limit: int = 100,
                  locale: str | None = None) -> dict[str, Any]:
    from merx.analytics import sales

    con = sales_connection(uow, data_dir)
    out = sales.pareto(con, scoped(uow, scope), of=of, measure=measure, top_share=top_share, limit=limit)
    if of == "products":
        _name_rows(uow, out["rows"], "item", locale)
    return out | (_cost_sections(uow, con, scope, locale) if measure == "profit" else {})


def portfolio_report(uow: UnitOfWork, scope: SalesScope, *, data_dir: Path | None = None, margin_basis: str = "unit",
                     threshold_quantile: float = 0.5, target: dict[str, float] | None = None,
                     limit: int | None = None, locale: str | None = None) -> dict[str, Any]:
    from merx.analytics import portfolio

    con = sales_connection(uow, data_dir)
    roles = {c: s.role for c, s in category_settings(uow).items()}
    report = portfolio.portfolio(con, scoped(uow, scope), margin_basis=margin_basis,
                                 threshold_quantile=threshold_quantile, target=target, roles=roles, limit=limit)
    _name_rows(uow, report["products"], "sku", locale)
    _name_rows(uow, report["drop_candidates"], "sku", locale)
    return report | _cost_sections(uow, con, scope, locale)


def _cost_sections(uow: UnitOfWork, con: Any, scope: SalesScope, locale: str | None = None) -> dict[str, Any]:
    """What every margin report adds: the assumption it makes where costs are missing, and
    which products, lines and orders it makes it for (analytics/cost_gaps.py)."""
    from merx.analytics import cost_gaps

    note = cost_basis_note(uow)
    missing = cost_gaps.missing_costs(con, scoped(uow, scope), basis=note)
    _name_rows(uow, missing["products"], "sku", locale)
    return {"cost_basis": note, "cost_missing": missing}


def data_range(uow: UnitOfWork, *, data_dir: Path | None = None) -> dict[str, Any]:
    """The first and last moment of the sales history (bounds of the console's date picker)."""
    con = sales_connection(uow, data_dir)
    first, last, n = con.execute("SELECT min(occurred_at), max(occurred_at), count(*) FROM sales_all").fetchall()[0]
    return {"first": aware(first), "last": aware(last), "lines": int(n)}


def stock_figures(uow: UnitOfWork) -> list[dict[str, Any]]:
    """Stock per SKU and location: from the inventory context when it is there, else the
    figures kept from `inventory.stock_changed` events."""
    from merx.analytics.models import StockLevel

    own = [{"sku": r.sku, "location": r.location, "on_hand": r.on_hand, "available": r.available}
           for r in uow.session.scalars(sa.select(StockLevel).order_by(StockLevel.sku, StockLevel.location))]
    try:
        from merx.inventory import public as inventory

        rows = inventory.stock_levels(uow)
        # stock_levels answers at most 5,000 rows; past that the event-fed copy is complete
        if rows and (len(rows) < 5000 or len(own) < len(rows)):
            return [{"sku": r["sku"], "location": r["location"], "on_hand": int(r["on_hand"]),
                     "available": int(r.get("available", r["on_hand"]))} for r in rows]
    except Exception as e:  # noqa: BLE001 - fall back to the event-fed copy
        log.debug("inventory.stock_levels unavailable: %s", e)
    return own


def inventory_report(uow: UnitOfWork, scope: SalesScope, *, data_dir: Path | None = None, **options: Any) -> dict[str, Any]:
    from merx.analytics import inventory_health

    con = sales_connection(uow, data_dir)
    return inventory_health.inventory_health(con, stock_figures(uow), scoped(uow, scope), **options)


def forecast_report(uow: UnitOfWork, scope: SalesScope, *, data_dir: Path | None = None, **options: Any) -> dict[str, Any]:
    from merx.analytics import forecast

    con = sales_connection(uow, data_dir)
    return forecast.forecast_report(con, scoped(uow, scope), **options)


def abandonment_scan(uow: UnitOfWork, *, data_dir: Path | None, events: EventSource | None = None, hours: float = 24,
                     attribution_days: int = 7, now: dt.datetime | None = None,
                     include_browse: bool = True) -> dict[str, Any]:
    """Detect new abandonments (emitting their events) and credit recovered ones."""
    from merx.analytics import abandonment

    if not 1 <= attribution_days <= 90:
        raise ValidationProblem.for_field("attribution_days", "must be between 1 and 90")
    con = sales_connection(uow, data_dir, events or event_source(uow, data_dir))
    found = abandonment.detect(uow, con, hours=hours, now=now, include_browse=include_browse)
    credited = abandonment.attribute(uow, con, attribution_days=attribution_days)
    return {"new": found, "credited": credited}


def abandonment_report(uow: UnitOfWork, *, kind: str | None = None, limit: int = 100) -> dict[str, Any]:
    from merx.analytics import abandonment

    return abandonment.summary(uow, kind=kind, limit=limit)
