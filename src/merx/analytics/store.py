"""Where the analytical queries read from.

Sales: the operational database (SQLite or PostgreSQL) keeps the `analytics_sales_lines`
fact table; reports run in DuckDB over a columnar snapshot of it (an Arrow table cached per
database and refreshed incrementally: rows are only ever appended, so the snapshot reloads
just the rows with a higher id). `write_parquet_snapshot` writes the same snapshot to
Parquet so the same SQL runs against files when a shop outgrows one machine.

Behavioural events: an `EventSource` names a relation DuckDB can scan: Parquet data sets
(one or many files, any partitioning) with the columns of `EVENT_COLUMNS`, or with the CRM
export's shape (`properties` as JSON), which the `events` view maps onto the same columns.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa

from merx.analytics.models import SalesLine, SnapshotState
from merx.core.uow import UnitOfWork

# Columns of the snapshot, in order; `occurred_at` becomes a naive UTC TIMESTAMP.
SNAPSHOT_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("id", pa.int64()),
    ("source", pa.string()),
    ("order_ref", pa.string()),
    ("kind", pa.string()),
    ("line_class", pa.string()),
    ("sku", pa.string()),
    ("product_id", pa.int64()),
    ("product_name", pa.string()),
    ("customer_id", pa.int64()),
    ("quantity", pa.int64()),
    ("currency", pa.string()),
    ("line_total_minor", pa.int64()),
    ("line_cost_minor", pa.int64()),
    ("occurred_at", pa.timestamp("us")),
    ("channel", pa.string()),
    ("country", pa.string()),
    ("region", pa.string()),
    ("location", pa.string()),
    ("sales_rep_user_id", pa.int64()),
    ("category", pa.string()),
    ("brand", pa.string()),
)
SNAPSHOT_SCHEMA = pa.schema([pa.field(n, t) for n, t in SNAPSHOT_COLUMNS])

# The event columns analytics reads. Sources may have more; missing optional ones read as NULL.
EVENT_COLUMNS: tuple[tuple[str, pa.DataType], ...] = (
    ("event_id", pa.string()),
    ("type", pa.string()),
    ("occurred_at", pa.timestamp("us")),
    ("anonymous_id", pa.string()),
    ("customer_id", pa.int64()),
    ("session_id", pa.string()),
    ("channel", pa.string()),
    ("source", pa.string()),
    ("campaign", pa.string()),
    ("device", pa.string()),
    ("segment", pa.string()),
    ("product_id", pa.string()),
    ("category", pa.string()),
    ("cart_id", pa.string()),
    ("value", pa.float64()),  # major units (a cart line's price, a checkout's or purchase's value)
    ("currency", pa.string()),
)
# Where a source (the CRM's export) keeps these inside a JSON `properties` column instead.
PROPERTY_FALLBACKS = {"session_id": "session_id", "device": "device", "segment": "segment", "product_id": "product_id",
                      "category": "category", "cart_id": "cart_id", "currency": "currency"}
EVENT_SCHEMA = pa.schema([pa.field(n, t) for n, t in EVENT_COLUMNS])


@dataclass
class _Snapshot:
    token: str | None
    base_token: str | None
    max_id: int
    table: pa.Table


_snapshots: dict[str, _Snapshot] = {}
_lock = threading.Lock()


def _fetch_rows(uow: UnitOfWork, after_id: int) -> pa.Table:
    table = _fetch_rows_adbc(uow, after_id)
    return table if table is not None else _fetch_rows_python(uow, after_id)


def _fetch_rows_adbc(uow: UnitOfWork, after_id: int) -> pa.Table | None:
    """Read the rows straight into Arrow with an ADBC driver (C, no Python object per value:
    several times faster than a DB-API cursor). None when no driver fits the database."""
    url = sa.engine.make_url(uow.db.url)
    names = [n for n, _ in SNAPSHOT_COLUMNS]
    try:
        if url.get_backend_name() == "sqlite":
            # Never on SQLite: the ADBC driver links its own copy of the SQLite library, and two
            # copies in one process break each other's POSIX locks on the same file (SQLite's
            # "How To Corrupt" page, section 2.2); it was seen to crash the process with SIGBUS.
            return None
        if url.get_backend_name() == "postgresql":
            import adbc_driver_postgresql.dbapi as adbc

            uri = url.set(drivername="postgresql").render_as_string(hide_password=False)
            sql = f"SELECT {', '.join(names)} FROM analytics_sales_lines WHERE id > {int(after_id)} ORDER BY id"
            with adbc.connect(uri) as conn, conn.cursor() as cur:
                cur.execute(sql)
                raw = cur.fetch_arrow_table()
        else:
            return None
    except ImportError:
        return None
    arrays = []
    for name, typ in SNAPSHOT_COLUMNS:
        col = raw.column(name)
        if name == "occurred_at":
            if pa.types.is_timestamp(col.type):
                # aware UTC -> the same instant as a naive UTC timestamp
                col = pc.cast(pc.cast(col, pa.timestamp("us", tz="UTC")).cast(pa.int64()), pa.timestamp("us"))
            else:
                col = pc.cast(col, pa.timestamp("us"))
        elif col.type != typ:
            col = pc.cast(col, typ)
        arrays.append(col)
    return pa.Table.from_arrays(arrays, schema=SNAPSHOT_SCHEMA)


def _fetch_rows_python(uow: UnitOfWork, after_id: int) -> pa.Table:
    t = SalesLine.__table__
    cols = [t.c[name] for name, _ in SNAPSHOT_COLUMNS]
    stmt = sa.select(*cols).where(t.c.id > after_id).order_by(t.c.id)
    # Raw driver values (no per-row type processing): SQLite returns the timestamp as text,
    # PostgreSQL as an aware datetime; both are normalised below in one vectorised step.
    conn = uow.session.connection()
    compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    cursor = conn.exec_driver_sql(str(compiled)).cursor
    batches: list[pa.RecordBatch] = []
    while True:
        rows = cursor.fetchmany(50_000)
        if not rows:
            break
        columns = list(zip(*rows))
        arrays = []
        for (name, typ), values in zip(SNAPSHOT_COLUMNS, columns):
            if name == "occurred_at":
                arrays.append(_to_timestamps(values))
            else:
                arrays.append(pa.array(values, type=typ))
        batches.append(pa.RecordBatch.from_arrays(arrays, schema=SNAPSHOT_SCHEMA))
    if not batches:
        return SNAPSHOT_SCHEMA.empty_table()
    return pa.Table.from_batches(batches, schema=SNAPSHOT_SCHEMA)


def _to_timestamps(values: tuple[Any, ...]) -> pa.Array:
    first = next((v for v in values if v is not None), None)
    if isinstance(first, str):
        return pc.cast(pa.array(values, type=pa.string()), pa.timestamp("us"))
    out = [v.astimezone(dt.timezone.utc).replace(tzinfo=None) if v is not None and v.tzinfo else v for v in values]
    return pa.array(out, type=pa.timestamp("us"))


def sales_snapshot(uow: UnitOfWork, cache_dir: Path | None = None) -> pa.Table:
    """The fact table as Arrow, current as of this call. Cached per database in memory and,
    when `cache_dir` is given, in a Parquet file there (so a new process, e.g. each `merx
    analytics ...` command, reads the file and fetches only the rows added since)."""
    state = uow.session.execute(sa.select(SnapshotState.token, SnapshotState.base_token).where(SnapshotState.id == 1)).first()
    token, base = (state[0], state[1]) if state else (None, None)
    key = uow.db.url
    with _lock:
        snap = _snapshots.get(key)
        if snap is None and cache_dir is not None:
            snap = _read_cache(cache_dir, key)
        if snap is not None and snap.token == token:
            _snapshots[key] = snap
            return snap.table
        if token is None:
            table = SNAPSHOT_SCHEMA.empty_table()
        elif snap is not None and snap.base_token == base:
            table = pa.concat_tables([snap.table, _fetch_rows(uow, snap.max_id)]).combine_chunks()
        else:
            table = _fetch_rows(uow, 0).combine_chunks()
        max_id = int(pc.max(table.column("id")).as_py() or 0) if table.num_rows else 0
        snap = _Snapshot(token, base, max_id, table)
        _snapshots[key] = snap
        if cache_dir is not None and token is not None:
            _write_cache(cache_dir, key, snap)
        return table


def _cache_path(cache_dir: Path, url: str) -> Path:
    import hashlib

    return cache_dir / f"sales_lines_{hashlib.sha256(url.encode()).hexdigest()[:16]}.parquet"


def _read_cache(cache_dir: Path, url: str) -> _Snapshot | None:
    path = _cache_path(cache_dir, url)
    if not path.exists():
        return None
    try:
        table = pq.read_table(path)
        meta = table.schema.metadata or {}
        snap = _Snapshot(meta[b"token"].decode(), meta[b"base_token"].decode(), int(meta[b"max_id"]),
                         table.replace_schema_metadata(None).cast(SNAPSHOT_SCHEMA))
        return snap
    except Exception:  # noqa: BLE001 - a damaged cache is rebuilt from the database
        return None


def _write_cache(cache_dir: Path, url: str, snap: _Snapshot) -> None:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        path = _cache_path(cache_dir, url)
        tmp = path.with_suffix(".tmp")
        meta = {b"token": snap.token.encode(), b"base_token": (snap.base_token or "").encode(), b"max_id": str(snap.max_id).encode()}
        pq.write_table(snap.table.replace_schema_metadata(meta), tmp)
        os.replace(tmp, path)
    except OSError:  # the cache is an optimisation; reports still work without it
        pass


def forget_snapshot(url: str | None = None) -> None:
    """Drop in-memory snapshots (tests, or after changing rows behind the service's back)."""
    with _lock:
        if url is None:
            _snapshots.clear()
        else:
            _snapshots.pop(url, None)


def write_parquet_snapshot(uow: UnitOfWork, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(sales_snapshot(uow), path)
    return path


# -- events ---------------------------------------------------------------------------------------


class EventSource(Protocol):
    """Something DuckDB can scan as the behavioural event stream (columns: EVENT_COLUMNS)."""

    def relation_sql(self) -> str | None:  # a FROM-clause expression, or None when there are no events
        ...


@dataclass(frozen=True)
class ParquetEventSource:
    path: Path

    def relation_sql(self) -> str | None:
        p = Path(self.path)
        if p.is_file():
            pattern = str(p)
        elif p.is_dir() and any(p.rglob("*.parquet")):
            pattern = str(p / "**" / "*.parquet")
        else:
            return None
        return f"read_parquet('{_sql_str(pattern)}', union_by_name = true)"


@dataclass(frozen=True)
class ArrowEventSource:
    """Events already in memory (tests, small imports)."""

    table: pa.Table

    def relation_sql(self) -> str | None:
        return "__arrow_events"


def _is_tz(con: duckdb.DuckDBPyConnection, rel: str) -> bool:
    kinds = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT occurred_at FROM {rel}").fetchall()}
    return "WITH TIME ZONE" in kinds.get("occurred_at", "").upper()


@dataclass(frozen=True)
class MultiParquetEventSource:
    """Several Parquet files or folders read as one stream (e.g. archived events + the CRM export)."""

    paths: tuple[Path, ...]

    def relation_sql(self) -> str | None:
        patterns = []
        for p in self.paths:
            if p.is_file():
                patterns.append(str(p))
            elif p.is_dir() and any(p.rglob("*.parquet")):
                patterns.append(str(p / "**" / "*.parquet"))
        if not patterns:
            return None
        listed = ", ".join(f"'{_sql_str(x)}'" for x in patterns)
        return f"read_parquet([{listed}], union_by_name = true)"


def _sql_str(s: str) -> str:
    return s.replace("'", "''")


def events_directory(data_dir: Path | None) -> Path:
    """Where bulk or archived behavioural events live as Parquet: MERX_ANALYTICS_EVENTS_PATH,
    else `<data_dir>/events`."""
    env = os.environ.get("MERX_ANALYTICS_EVENTS_PATH")
    return Path(env) if env else Path(data_dir or Path("./merx-data")) / "events"


def write_events_parquet(rows: list[dict[str, Any]] | pa.Table, directory: Path, name: str = "events.parquet") -> Path:
    """Append a file of events to a Parquet event store (tests, imports, benchmark data)."""
    directory.mkdir(parents=True, exist_ok=True)
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows, schema=EVENT_SCHEMA)
    path = directory / name
    pq.write_table(table, path)
    return path


# -- DuckDB ---------------------------------------------------------------------------------------


_duck: duckdb.DuckDBPyConnection | None = None


def _database() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB database per process (opening one costs ~0.1 s); each report gets
    its own cursor on it, with connection-local (TEMP) views over its own Arrow tables."""
    global _duck
    with _lock:
        if _duck is None:
            _duck = duckdb.connect(":memory:")
            _duck.execute(f"SET threads TO {max(1, min(os.cpu_count() or 1, 8))}")
        return _duck.cursor()  # under the lock: the base connection is not thread-safe


def connect(sales: pa.Table | None = None, events: EventSource | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with `sales` and `events` views (`events` has the EVENT_COLUMNS,
    NULL-filled where the source lacks one)."""
    con = _database()
    if sales is not None:
        con.register("sales_raw", sales)
        # `sales_all`: every line. `sales`: the lines that make net sales (definitions.py):
        # product and discount lines, never accounting documents; cancellations and returns
        # net it down. Shipping, fees, adjustments and write-offs are reported apart.
        con.execute("CREATE TEMP VIEW sales_all AS SELECT * FROM sales_raw")
        con.execute("CREATE TEMP VIEW sales AS SELECT * FROM sales_raw "
                    "WHERE kind <> 'adjustment' AND line_class IN ('product', 'discount')")
    if events is not None:
        rel = events.relation_sql()
        if isinstance(events, ArrowEventSource):
            con.register("__arrow_events", events.table)
        if rel is None:
            con.register("__empty_events", EVENT_SCHEMA.empty_table())
            rel = "__empty_events"
        present = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()}
        select = []
        for name, typ in EVENT_COLUMNS:
            sql_type = {pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.float64(): "DOUBLE",
                        pa.timestamp("us"): "TIMESTAMP"}[typ]
            if name in present:
                expr = name
                if name == "occurred_at":
                    expr = "timezone('UTC', occurred_at)" if _is_tz(con, rel) else "occurred_at"
            elif name == "event_id" and "id" in present:
                expr = "id"
            elif name == "value" and "properties" in present:
                expr = ("COALESCE(json_extract_string(properties, '$.value'), "
                        "json_extract_string(properties, '$.price'))")
            elif name in PROPERTY_FALLBACKS and "properties" in present:
                expr = f"json_extract_string(properties, '$.{PROPERTY_FALLBACKS[name]}')"
            else:
                expr = "NULL"
            select.append(f"TRY_CAST({expr} AS {sql_type}) AS {name}" if expr != name else f"CAST({name} AS {sql_type}) AS {name}")
        base = f"SELECT {', '.join(select)} FROM {rel}"
        if sales is None:
            con.execute(f"CREATE TEMP VIEW events AS {base}")
        else:
            con.execute(f"CREATE TEMP VIEW events AS {base} UNION ALL {_order_purchases_sql(base)}")
    return con


def _order_purchases_sql(base: str) -> str:
    """Counted live orders of known customers as `purchase` events (the storefront does not
    send one, and a server-side order is the truth anyway). An order with a tracked purchase
    event of the same customer within 10 minutes is not added twice."""
    from merx.analytics.definitions import counted_orders_sql

    names = [n for n, _ in EVENT_COLUMNS]
    values = {"event_id": "'order:' || o.order_ref", "type": "'purchase'", "occurred_at": "o.placed_at",
              "customer_id": "o.customer_id", "source": "'orders'", "currency": "o.currency"}
    select = ", ".join(f"{values.get(n, 'NULL')} AS {n}" for n in names)
    return f"""
        SELECT * FROM (
            WITH {counted_orders_sql("source = 'merx' AND customer_id IS NOT NULL")},
            tracked AS (SELECT customer_id, occurred_at FROM ({base}) WHERE type = 'purchase' AND customer_id IS NOT NULL)
            SELECT {select} FROM orders o
            WHERE o.customer_id IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM tracked t WHERE t.customer_id = o.customer_id
                  AND t.occurred_at BETWEEN o.placed_at - INTERVAL 10 MINUTE AND o.placed_at + INTERVAL 10 MINUTE)
        )"""
