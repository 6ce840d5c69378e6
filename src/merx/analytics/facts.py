"""Loading the sales-lines fact store: bulk, idempotent inserts keyed by (source, line_key)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Callable, Iterable, Mapping

import sqlalchemy as sa

from merx.analytics.line_classes import LINE_CLASSES
from merx.analytics.models import LINE_KINDS, SalesLine, SnapshotState
from merx.core.ids import new_ulid
from merx.core.errors import ValidationProblem
from merx.core.money import MoneyError, check_currency, exponent
from merx.core.uow import UnitOfWork

Progress = Callable[[int], None] | None
CHUNK = 20_000


@dataclass
class SalesLineIn:
    """One line to record. `line_key` must be unique within `source` (it makes loads idempotent)."""

    source: str
    line_key: str
    order_ref: str
    quantity: int
    unit_price: Decimal
    currency: str
    occurred_at: dt.datetime
    kind: str = "sale"
    line_class: str = "product"
    sku: str | None = None
    product_id: int | None = None
    product_name: str | None = None
    customer_id: int | None = None
    customer_ref: str | None = None
    unit_cost: Decimal | None = None
    channel: str | None = None
    country: str | None = None
    region: str | None = None
    location: str | None = None
    sales_rep_user_id: int | None = None
    category: str | None = None
    brand: str | None = None
    # The line's total when the source states it (e.g. CDNOW's dollar value for several CDs,
    # whose unit price is not exact); otherwise quantity x unit_price.
    line_total: Decimal | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def line_total_minor(quantity: int, unit_price: Decimal, currency: str) -> int:
    return int((Decimal(quantity) * unit_price).scaleb(exponent(currency)).to_integral_value(ROUND_HALF_UP))


def _row(line: SalesLineIn | Mapping[str, Any], index: int) -> dict[str, Any]:
    data = dict(line) if isinstance(line, Mapping) else {k: getattr(line, k) for k in SalesLineIn.__dataclass_fields__}
    data.pop("extra", None)
    where = f"lines[{index}]"
    for required in ("source", "line_key", "order_ref", "quantity", "unit_price", "currency", "occurred_at"):
        if data.get(required) in (None, ""):
            raise ValidationProblem.for_field(f"{where}.{required}", "is required")
    try:
        check_currency(data["currency"])
    except MoneyError as e:
        raise ValidationProblem.for_field(f"{where}.currency", str(e)) from None
    kind = data.get("kind") or "sale"
    if kind not in LINE_KINDS:
        raise ValidationProblem.for_field(f"{where}.kind", f"must be one of {', '.join(LINE_KINDS)}")
    line_class = data.get("line_class") or "product"
    if line_class not in LINE_CLASSES:
        raise ValidationProblem.for_field(f"{where}.line_class", f"must be one of {', '.join(LINE_CLASSES)}")
    data["line_class"] = line_class
    occurred = data["occurred_at"]
    if not isinstance(occurred, dt.datetime) or occurred.tzinfo is None:
        raise ValidationProblem.for_field(f"{where}.occurred_at", "must be a timezone-aware datetime")
    price = Decimal(str(data["unit_price"]))
    qty = int(data["quantity"])
    cost = data.pop("unit_cost", None)
    stated_total = data.pop("line_total", None)
    data.update(
        kind=kind, quantity=qty, unit_price=price,
        line_total_minor=(line_total_minor(1, Decimal(str(stated_total)), data["currency"]) if stated_total is not None
                          else line_total_minor(qty, price, data["currency"])),
        line_cost_minor=line_total_minor(qty, Decimal(str(cost)), data["currency"]) if cost is not None else None,
    )
    return data


def insert_new_rows(uow: UnitOfWork, rows: list[dict[str, Any]], progress: Progress = None) -> int:
    """Insert the rows whose (source, line_key) is not stored yet; returns how many were new."""
    if not rows:
        return 0
    t = SalesLine.__table__
    inserted = 0
    by_source: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_source.setdefault(r["source"], []).append(r)
    for source, source_rows in by_source.items():
        existing = existing_keys(uow, source, [r["line_key"] for r in source_rows])
        fresh = [r for r in source_rows if r["line_key"] not in existing]
        skipped = len(source_rows) - len(fresh)
        if progress and skipped:
            progress(skipped)
        for start in range(0, len(fresh), CHUNK):
            chunk = fresh[start:start + CHUNK]
            bulk_insert(uow, chunk)
            inserted += len(chunk)
            if progress:
                progress(len(chunk))
    return inserted


INSERT_COLUMNS = tuple(c.name for c in SalesLine.__table__.columns if c.name != "id")


def mark_changed(uow: UnitOfWork, *, rewritten: bool = False) -> None:
    """Record, in the writing transaction, that the fact table changed (see SnapshotState).
    One upsert: concurrent first writers (two API processes' event batches) must not both
    try to create the state row."""
    if uow.dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
    token = new_ulid()
    table = SnapshotState.__table__
    stmt = upsert(table).values(id=1, token=token, base_token=token)
    changes = {"token": stmt.excluded.token}
    if rewritten:
        changes["base_token"] = stmt.excluded.base_token
    uow.session.connection().execute(stmt.on_conflict_do_update(index_elements=[table.c.id], set_=changes))
    state = uow.session.identity_map.get(uow.session.identity_key(SnapshotState, (1,)))
    if state is not None:  # a copy loaded earlier in this session must not hide the new token
        uow.session.expire(state)


def bulk_insert(uow: UnitOfWork, rows: list[dict[str, Any]]) -> None:
    if rows:
        insert_columns(uow, {name: [r.get(name) for r in rows] for name in INSERT_COLUMNS}, len(rows))


def insert_columns(uow: UnitOfWork, columns: dict[str, Any], n: int) -> None:
    """Insert `n` rows given column-wise (a list per column, or one value for all rows)
    through the driver directly: COPY on PostgreSQL, one executemany on SQLite. Values are
    converted here as the column types would store them (UTC timestamps, decimal text),
    skipping SQLAlchemy's per-row processing, which dominated load time."""
    if n == 0:
        return
    mark_changed(uow)
    dialect = uow.dialect
    cols = []
    for name in INSERT_COLUMNS:
        value = columns.get(name)
        if not isinstance(value, list):
            cols.append([value] * n)
        elif name == "occurred_at":
            cols.append(_convert_cached(value, _sqlite_time if dialect == "sqlite" else _utc))
        elif name == "unit_price":
            cols.append(_convert_cached(value, (lambda v: format(Decimal(v), "f")) if dialect == "sqlite" else Decimal))
        else:
            cols.append(value)
    rows = list(zip(*cols))
    conn = uow.session.connection()
    if dialect == "postgresql":
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            with cur.copy(f"COPY analytics_sales_lines ({', '.join(INSERT_COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    if dialect == "sqlite":
        sql = (f"INSERT INTO analytics_sales_lines ({', '.join(INSERT_COLUMNS)}) "
               f"VALUES ({', '.join('?' for _ in INSERT_COLUMNS)})")
        conn.exec_driver_sql(sql, rows)
        return
    uow.session.execute(sa.insert(SalesLine.__table__), [dict(zip(INSERT_COLUMNS, r)) for r in rows])


def _convert_cached(values: list[Any], convert: Callable[[Any], Any]) -> list[Any]:
    cache: dict[Any, Any] = {}
    out = []
    for v in values:
        if v is None:
            out.append(None)
            continue
        c = cache.get(v)
        if c is None:
            c = cache[v] = convert(v)
        out.append(c)
    return out


def _sqlite_time(value: dt.datetime) -> str:
    # The text form SQLAlchemy's SQLite DateTime writes and reads back.
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.timezone.utc)


def existing_keys(uow: UnitOfWork, source: str, keys: list[str]) -> set[str]:
    t = SalesLine.__table__
    if len(keys) > 5_000:
        # Bulk loads: one scan of the source's keys beats thousands of IN-lists.
        return set(uow.session.scalars(sa.select(t.c.line_key).where(t.c.source == source)))
    found: set[str] = set()
    for start in range(0, len(keys), 1_000):
        part = keys[start:start + 1_000]
        found.update(uow.session.scalars(sa.select(t.c.line_key).where(t.c.source == source, t.c.line_key.in_(part))))
    return found


def record_sales_lines(uow: UnitOfWork, lines: Iterable[SalesLineIn | Mapping[str, Any]], *,
                       progress: Progress = None, commit: bool = True) -> int:
    """Load sales lines (history from any source, or live orders). Idempotent: a line whose
    (source, line_key) is already stored is skipped. Returns the number of new lines.
    Invalid input raises a ValidationProblem naming the line and field; nothing is written."""
    rows = [_row(line, i) for i, line in enumerate(lines)]
    inserted = insert_new_rows(uow, rows, progress)
    if inserted:
        uow.audit("analytics.sales_lines.recorded", "analytics_sales_lines", rows[0]["source"],
                  after={"received": len(rows), "inserted": inserted})
    if commit:
        uow.commit()
    return inserted


def relink_customers(uow: UnitOfWork, source: str, customer_ids_by_ref: Mapping[str, int]) -> int:
    """Set customer_id on lines whose customer_ref now maps to a different Merx customer
    (customers created after the history was loaded, or merged). Returns the lines changed."""
    t = SalesLine.__table__
    if not customer_ids_by_ref:
        return 0
    changes = []
    for line_id, ref, current in uow.session.execute(
            sa.select(t.c.id, t.c.customer_ref, t.c.customer_id).where(t.c.source == source, t.c.customer_ref.is_not(None))):
        new = customer_ids_by_ref.get(ref)
        if new is not None and new != current:
            changes.append({"line_id": line_id, "customer_id": new})
    if changes:
        stmt = sa.update(t).where(t.c.id == sa.bindparam("line_id")).values(customer_id=sa.bindparam("customer_id"))
        uow.session.connection().execute(stmt, changes)
        mark_changed(uow, rewritten=True)
    return len(changes)
