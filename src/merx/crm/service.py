"""CRM use cases: event collection, profile lookup, and the analytics-facing event reader.

Contract for analytics (scan tracked events without touching CRM tables):
  iter_events(uow, *, since=None, until=None, batch_size=10_000) -> Iterator[dict]
      dicts with id, customer_id (None while anonymous), anonymous_id, type, channel,
      occurred_at (aware UTC datetime), source, campaign, properties (dict); ordered by id
      (append order), keyset-paginated so it streams 10M+ rows in constant memory.
  export_events_parquet(uow, path, *, since=None, until=None) -> int
      the same rows as one Parquet file (properties as a JSON string column, type and
      channel dictionary-encoded); returns the row count.
Other contexts: identify/merge live in crm.identity, overview in crm.profiles, loyalty's
`redeem_points(uow, customer_id, points, order_ref) -> Money` in crm.loyalty."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa

from merx.core.auth import BACK_OFFICE_ROLES, Role
from merx.core.db import utcnow
from merx.core.errors import NotFound, ValidationProblem
from merx.core.pagination import check_limit, paginate
from merx.core.schemas import Page
from merx.core.uow import UnitOfWork
from merx.crm import identity
from merx.crm.events_vocab import validate_event
from merx.crm.models import Identity, LoyaltyProgram, Segment, TrackedEvent
from merx.crm.schemas import EventOut
from merx.customers import public as customers
from merx.customers.public import CustomerOut

MAX_BATCH = 1000


@dataclass
class IngestResult:
    accepted: int
    rejected: list[dict[str, Any]] = field(default_factory=list)
    customers: dict[int, int] = field(default_factory=dict)  # customer id -> events attributed

    def body(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "rejected": self.rejected}


def _normalised_identifiers(uow: UnitOfWork, ids: dict[str, str]) -> dict[str, str]:
    out = {}
    for kind, value in ids.items():
        out[kind] = value if kind == "customer_id" else identity.normalise(uow, kind, value, f"customer.{kind}")
    return out


def ingest_events(uow: UnitOfWork, items: list[Any], *, allow_system: bool = False, now: dt.datetime | None = None,
                  commit: bool = True) -> IngestResult:
    """Validate each event of a batch on its own, store the good ones append-only, report the
    bad ones by index. Events with a known anonymous id or identifier are attributed to
    that profile at once; the others wait for `identify` to re-key them.

    Committing, the batch is one transaction run by `uow.run_in_transaction`: it upserts the
    profiles' counters, loyalty bonuses and segment memberships of many customers, so two
    batches for overlapping customers can deadlock on PostgreSQL; the loser runs again."""
    if not commit:
        return _ingest(uow, items, allow_system=allow_system, now=now)

    def run() -> IngestResult:
        result = _ingest(uow, items, allow_system=allow_system, now=now)
        uow.commit()
        return result

    return uow.run_in_transaction(run)


def _ingest(uow: UnitOfWork, items: list[Any], *, allow_system: bool, now: dt.datetime | None) -> IngestResult:
    if len(items) > MAX_BATCH:
        raise ValidationProblem.for_field("events", f"at most {MAX_BATCH} events per batch")
    now = now or utcnow()
    actor = uow.actor
    back_office = actor.role in BACK_OFFICE_ROLES
    good: list[tuple[int, dict[str, Any]]] = []
    rejected: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        event, errors = validate_event(item, now=now, allow_system=allow_system)
        if event is not None and event["identifiers"]:
            if "customer_id" in event["identifiers"] and not back_office and not (
                    actor.role == Role.customer and event["identifiers"]["customer_id"] == str(actor.customer_id)):
                errors = [{"field": "customer.customer_id", "message": "only back-office keys may name a customer id"}]
            else:
                try:
                    event["identifiers"] = _normalised_identifiers(uow, event["identifiers"])
                except ValidationProblem as e:
                    errors = [{"field": err.field, "message": err.message} for err in e.errors]
        if errors:
            rejected.append({"index": index, "errors": errors})
        else:
            good.append((index, event))  # type: ignore[arg-type]

    anon_ids = sorted({e["anonymous_id"] for _, e in good if e["anonymous_id"]})
    anon_map: dict[str, int] = {}
    for i in range(0, len(anon_ids), 500):
        anon_map.update(uow.session.execute(sa.select(Identity.value, Identity.customer_id).where(
            Identity.kind == "anonymous", Identity.value.in_(anon_ids[i:i + 500]))).all())
    resolved: dict[tuple, int | None] = {}
    rows: list[dict[str, Any]] = []
    per_profile: dict[int, list[dt.datetime]] = defaultdict(list)
    bonus_candidates: list[tuple[int, str]] = []
    for index, e in good:
        cid = anon_map.get(e["anonymous_id"]) if e["anonymous_id"] else None
        ids = e["identifiers"]
        if ids:
            key = tuple(sorted(ids.items()))
            if key not in resolved:
                owner = None
                for kind in identity.STRENGTH:
                    if kind in ids:
                        owner = identity.find_profile(uow, kind, ids[kind])
                        if owner is not None:
                            break
                if owner is None and back_office:
                    # A back-office source (store till, marketplace sync) vouches for its
                    # customers: unknown identifiers create the profile, as identify would.
                    owner = identity.identify(uow, anonymous_id=e["anonymous_id"], identifiers=ids, commit=False,
                                              source="events").customer_id
                    if e["anonymous_id"]:
                        anon_map[e["anonymous_id"]] = owner
                resolved[key] = owner
            owner = resolved[key]
            if owner is None and not e["anonymous_id"]:
                rejected.append({"index": index, "errors": [{"field": "customer", "message":
                                 "no profile has these identifiers; send an anonymous_id or call /identify first"}]})
                continue
            if owner is not None:
                cid = owner
        rows.append({"customer_id": cid, "anonymous_id": e["anonymous_id"], "type": e["type"], "channel": e["channel"],
                     "occurred_at": e["occurred_at"], "received_at": now, "source": e["source"],
                     "campaign": e["campaign"], "schema_version": 1, "properties": e["properties"]})
        if cid is not None:
            per_profile[cid].append(e["occurred_at"])
            bonus_candidates.append((cid, e["type"]))
    if rows:
        insert_event_rows(uow, rows)
        _qr_scans_with_campaign(uow, rows)
    if per_profile:
        from merx.crm import loyalty, profiles
        from merx.crm.segments import service as segments

        profiles.bump_stats(uow, {c: (len(ts), min(ts), max(ts)) for c, ts in per_profile.items()})
        if uow.session.scalar(sa.select(LoyaltyProgram.id).where(LoyaltyProgram.active.is_(True)).limit(1)) is not None:
            loyalty.apply_event_bonuses(uow, bonus_candidates)
        if uow.session.scalar(sa.select(Segment.id).where(Segment.kind == "rule").limit(1)) is not None:
            uow.session.flush()
            segments.refresh_profiles(uow, per_profile)
    rejected.sort(key=lambda r: r["index"])
    return IngestResult(accepted=len(rows), rejected=rejected, customers={c: len(t) for c, t in per_profile.items()})


def _qr_scans_with_campaign(uow: UnitOfWork, rows: list[dict[str, Any]]) -> None:
    """A known customer's QR scan of a campaign is a lead for sales (issue 14); only these few
    rows of a batch emit an event, so the ingestion hot path stays one insert."""
    from merx.crm.events import QrScanTracked

    for r in rows:
        if r["type"] == "qr_scan" and r["campaign"] and r["customer_id"] is not None:
            uow.emit(QrScanTracked(customer_id=r["customer_id"], campaign=str(r["campaign"])[:120],
                                   qr_id=str((r["properties"] or {}).get("qr_id") or "")[:200] or None,
                                   scanned_at=r["occurred_at"]))


_EVENT_COLUMNS = ("customer_id", "anonymous_id", "type", "channel", "occurred_at", "received_at", "source", "campaign",
                  "schema_version", "properties")


def insert_event_rows(uow: UnitOfWork, rows: list[dict[str, Any]]) -> None:
    """The ingestion hot path: one driver-level executemany with values converted once here
    (the ORM's per-row bookkeeping costs more than the insert itself at 1,000 rows a batch).
    Values are stored exactly as the ORM column types would store them."""
    conn = uow.session.connection()
    names = ", ".join(_EVENT_COLUMNS)
    if uow.dialect == "sqlite":
        def stamp(value: dt.datetime) -> str:  # SQLAlchemy's SQLite DATETIME text format, in UTC
            text = value.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(" ")
            return text if len(text) > 19 else text + ".000000"

        sql = f"INSERT INTO crm_events ({names}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        received = stamp(rows[0]["received_at"])  # one batch, one arrival time
        params = [(r["customer_id"], r["anonymous_id"], r["type"], r["channel"], stamp(r["occurred_at"]),
                   received, r["source"], r["campaign"], r["schema_version"],
                   json.dumps(r["properties"]) if r["properties"] is not None else None) for r in rows]
    else:
        sql = f"INSERT INTO crm_events ({names}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)"
        params = [(r["customer_id"], r["anonymous_id"], r["type"], r["channel"], r["occurred_at"], r["received_at"],
                   r["source"], r["campaign"], r["schema_version"],
                   json.dumps(r["properties"]) if r["properties"] is not None else None) for r in rows]
    conn.exec_driver_sql(sql, params)


def record_system_event(uow: UnitOfWork, *, customer_id: int | None, type: str, channel: str = "system",
                        occurred_at: dt.datetime | None = None, properties: dict[str, Any] | None = None,
                        source: str | None = None, bump_stats: bool = True) -> None:
    """Timeline entries from other contexts' domain events (orders, tickets). Does not commit.
    A batch caller passes `bump_stats=False` and updates the profile counters once itself."""
    at = occurred_at or utcnow()
    uow.session.add(TrackedEvent(customer_id=customer_id, anonymous_id=None, type=type, channel=channel,
                                 occurred_at=at, received_at=utcnow(), source=source, schema_version=1,
                                 properties=properties))
    if customer_id is not None and bump_stats:
        from merx.crm import profiles

        profiles.bump_stats(uow, {customer_id: (1, at, at)})


def list_events(uow: UnitOfWork, *, customer_id: int | None = None, anonymous_id: str | None = None,
                type: str | None = None) -> sa.Select:
    stmt = sa.select(TrackedEvent)
    if customer_id is not None:
        customers.get_customer(uow, customer_id)  # visibility: a rep sees only its accounts' events
        stmt = stmt.where(TrackedEvent.customer_id == customer_id)
    elif uow.actor.role == Role.sales_rep:
        raise ValidationProblem.for_field("customer_id", "a sales rep lists events of one of its customers")
    if anonymous_id is not None:
        stmt = stmt.where(TrackedEvent.anonymous_id == anonymous_id)
    if type is not None:
        stmt = stmt.where(TrackedEvent.type == type)
    return stmt


def tracked_events(uow: UnitOfWork, *, customer_id: int | None = None, anonymous_id: str | None = None,
                   type: str | None = None, limit: int | None = None, cursor: str | None = None) -> Page[EventOut]:
    """One page of `list_events` (the caller's scope applied), oldest first."""
    from merx.crm.profiles import event_out

    stmt = list_events(uow, customer_id=customer_id, anonymous_id=anonymous_id, type=type)
    items, nxt = paginate(uow.session, stmt, TrackedEvent.id, limit=check_limit(limit, 100, 1000), cursor=cursor,
                          convert=lambda e: EventOut(**event_out(e)))
    return Page[EventOut](items=items, next_cursor=nxt)


def lookup(uow: UnitOfWork, identifiers: dict[str, str]) -> CustomerOut:
    """The live profile holding any of these identifiers (the first kind given that matches)."""
    if not identifiers:
        raise ValidationProblem.for_field("identifier", "give one identifier, e.g. ?email=... or ?loyalty_card=...")
    for kind, value in identifiers.items():
        value = value if kind == "customer_id" else identity.normalise(uow, kind, value)
        owner = identity.find_profile(uow, kind, value)
        if owner is not None:
            return customers.get_customer(uow, owner)
    raise NotFound("No customer has this identifier")


# -- analytics-facing readers --------------------------------------------------------------------

def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def iter_events(uow: UnitOfWork, *, since: dt.datetime | None = None, until: dt.datetime | None = None,
                batch_size: int = 10_000) -> Iterator[dict[str, Any]]:
    cols = (TrackedEvent.id, TrackedEvent.customer_id, TrackedEvent.anonymous_id, TrackedEvent.type,
            TrackedEvent.channel, TrackedEvent.occurred_at, TrackedEvent.source, TrackedEvent.campaign,
            TrackedEvent.properties)
    last = 0
    while True:
        stmt = sa.select(*cols).where(TrackedEvent.id > last)
        if since is not None:
            stmt = stmt.where(TrackedEvent.occurred_at >= since)
        if until is not None:
            stmt = stmt.where(TrackedEvent.occurred_at < until)
        rows = uow.session.execute(stmt.order_by(TrackedEvent.id).limit(batch_size)).all()
        if not rows:
            return
        for r in rows:
            yield {"id": r.id, "customer_id": r.customer_id, "anonymous_id": r.anonymous_id, "type": r.type,
                   "channel": r.channel, "occurred_at": _aware(r.occurred_at), "source": r.source,
                   "campaign": r.campaign, "properties": r.properties or {}}
        last = rows[-1].id


def export_events_parquet(uow: UnitOfWork, path: str | Path, *, since: dt.datetime | None = None,
                          until: dt.datetime | None = None, batch_size: int = 50_000) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("id", pa.int64()), ("customer_id", pa.int64()), ("anonymous_id", pa.string()),
                        ("type", pa.dictionary(pa.int16(), pa.string())), ("channel", pa.dictionary(pa.int8(), pa.string())),
                        ("occurred_at", pa.timestamp("us", tz="UTC")), ("source", pa.string()), ("campaign", pa.string()),
                        ("properties", pa.string())])
    total = 0
    buffer: list[dict[str, Any]] = []
    with pq.ParquetWriter(str(path), schema) as writer:
        def flush() -> None:
            if not buffer:
                return
            table = pa.table({
                "id": pa.array([b["id"] for b in buffer], pa.int64()),
                "customer_id": pa.array([b["customer_id"] for b in buffer], pa.int64()),
                "anonymous_id": pa.array([b["anonymous_id"] for b in buffer], pa.string()),
                "type": pa.array([b["type"] for b in buffer], pa.string()).dictionary_encode().cast(schema.field("type").type),
                "channel": pa.array([b["channel"] for b in buffer], pa.string()).dictionary_encode()
                .cast(schema.field("channel").type),
                "occurred_at": pa.array([b["occurred_at"] for b in buffer], pa.timestamp("us", tz="UTC")),
                "source": pa.array([b["source"] for b in buffer], pa.string()),
                "campaign": pa.array([b["campaign"] for b in buffer], pa.string()),
                "properties": pa.array([json.dumps(b["properties"]) if b["properties"] else None for b in buffer], pa.string()),
            }, schema=schema)
            writer.write_table(table)
            buffer.clear()

        for row in iter_events(uow, since=since, until=until, batch_size=batch_size):
            buffer.append(row)
            total += 1
            if len(buffer) >= batch_size:
                flush()
        flush()
    return total


@dataclass(frozen=True)
class ProductView:
    """One identified shopper's view of a product (marketing's browse-abandonment journey)."""

    customer_id: int
    sku: str
    name: str | None
    occurred_at: dt.datetime


def product_views(uow: UnitOfWork, since: dt.datetime, until: dt.datetime, limit: int = 50_000) -> list[ProductView]:
    """The `product_view` events of identified profiles with a SKU, `since` <= occurred_at <
    `until`, oldest first. Anonymous views count once `identify` re-keys them."""
    rows = uow.session.execute(
        sa.select(TrackedEvent.customer_id, TrackedEvent.properties, TrackedEvent.occurred_at)
        .where(TrackedEvent.type == "product_view", TrackedEvent.customer_id.is_not(None),
               TrackedEvent.occurred_at >= since, TrackedEvent.occurred_at < until)
        .order_by(TrackedEvent.occurred_at, TrackedEvent.id).limit(limit))
    out = []
    for customer_id, props, at in rows:
        sku = (props or {}).get("sku")
        if sku:
            out.append(ProductView(int(customer_id), str(sku), (props or {}).get("name"), at))
    return out
