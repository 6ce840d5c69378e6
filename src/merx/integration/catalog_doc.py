"""The event catalog in the docs (docs/events.md and a JSON Schema per event in docs/events/),
generated from the event classes the contexts declare (merx.core.events.Event subclasses)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from merx.contexts import event_modules
from merx.core.events import Event, event_classes

DOCS = Path(__file__).resolve().parents[3] / "docs"
DOC_PATH = DOCS / "events.md"
SCHEMA_DIR = DOCS / "events"


def load_event_classes() -> list[type[Event]]:
    """Each context declares its events in `<context>/events.py`; importing those declares them."""
    event_modules()
    return event_classes()


def schema_of(cls: type[Event]) -> dict[str, Any]:
    """The JSON Schema of the payload (`data`) as it is serialised on the wire."""
    schema = cls.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://merx.dev/schemas/events/{schema_file(cls)}", **schema, "title": cls.event_type,
            "x-aggregate": cls.aggregate_type, "x-schema-version": cls.schema_version}


def schema_file(cls: type[Event]) -> str:
    return f"{cls.event_type}.v{cls.schema_version}.json"


def load_catalog() -> dict[str, Any]:
    """Event type -> aggregate, schema version, description, payload fields and JSON Schema
    (the latest version of each type)."""
    catalog: dict[str, Any] = {}
    for cls in load_event_classes():
        schema = schema_of(cls)
        defs = schema.get("$defs", {})
        required = set(schema.get("required", ()))
        catalog[cls.event_type] = {
            "aggregate": cls.aggregate_type, "schema_version": cls.schema_version,
            "description": cls.description(), "schema_file": f"events/{schema_file(cls)}",
            "payload": {name: _kind(prop, defs) + ("" if name in required else " (optional)")
                        for name, prop in schema["properties"].items()},
            "parts": {name: {f: _kind(p, defs) for f, p in part.get("properties", {}).items()}
                      for name, part in sorted(defs.items())},
            "schema": schema,
        }
    return dict(sorted(catalog.items()))


def _kind(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    """A short reader's name for a JSON Schema type: `integer`, `list[PlacedLine]`, `Money`..."""
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in prop:
        return " or ".join(_kind(p, defs) for p in prop["anyOf"])
    if "enum" in prop:
        return " / ".join(json.dumps(v) for v in prop["enum"])
    if "const" in prop:
        return json.dumps(prop["const"])
    kind = prop.get("type")
    if kind == "array":
        return f"list[{_kind(prop.get('items', {}), defs)}]"
    if kind == "object":
        if prop.get("title") == "Money":
            return "Money {amount, currency}"
        extra = prop.get("additionalProperties")
        return f"object of {_kind(extra, defs)}" if isinstance(extra, dict) else "object"
    if kind == "null":
        return "null"
    detail = prop.get("description") or prop.get("format")
    return f"{kind} ({detail})" if detail else str(kind)


def render_markdown(catalog: dict[str, Any] | None = None) -> str:
    catalog = load_catalog() if catalog is None else catalog
    lines = [HEADER.rstrip(), "", CHANGES.rstrip(), "", "## Event types", ""]
    lines.append("| Event type | Aggregate | Schema | Description |")
    lines.append("|---|---|---|---|")
    for event_type, spec in catalog.items():
        lines.append(f"| `{event_type}` | {spec['aggregate']} | v{spec['schema_version']} | "
                     f"{spec['description'].replace('|', '/')} |")
    lines.append("")
    for event_type, spec in catalog.items():
        lines += [f"### `{event_type}`", ""]
        if spec["description"]:
            lines += [spec["description"], ""]
        lines += [f"Aggregate `{spec['aggregate']}`, payload schema version {spec['schema_version']}: "
                  f"[JSON Schema]({spec['schema_file']}).", "", "| Field | Type |", "|---|---|"]
        lines += [f"| `{name}` | {kind.replace('|', '/')} |" for name, kind in spec["payload"].items()]
        for part, fields in spec["parts"].items():
            lines += ["", f"`{part}`: " + ", ".join(f"`{f}` {k}" for f, k in fields.items()) + "."]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render_schemas() -> dict[str, str]:
    """File name in docs/events/ -> its JSON text, for every declared event and version."""
    return {schema_file(cls): json.dumps(schema_of(cls), indent=2, sort_keys=True) + "\n"
            for cls in load_event_classes()}


def write_doc(path: Path = DOC_PATH, schema_dir: Path = SCHEMA_DIR) -> list[Path]:
    """Write docs/events.md and the schema files (removing schema files of events that are gone)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_markdown())
    schema_dir.mkdir(parents=True, exist_ok=True)
    schemas = render_schemas()
    for stale in schema_dir.glob("*.json"):
        if stale.name not in schemas:
            stale.unlink()
    written = [path]
    for name, text in schemas.items():
        (schema_dir / name).write_text(text)
        written.append(schema_dir / name)
    return written


# The hand-written part of docs/events.md (kept in code so an installed package can render it).
HEADER = r"""# Domain events

Generated by `merx events catalog` from the event classes the contexts declare (each
context's `events.py`, subclasses of `merx.core.events.Event`), together with one JSON Schema
per event and version in `docs/events/<type>.v<version>.json`.
`tests/integration/test_event_catalog.py` fails when these files are out of date, and
`tests/integration/test_event_payloads.py` validates what real use cases write to the outbox
against the schemas. Do not edit the event list by hand.

## The envelope

Every change another system may care about is written as an event into the outbox table
(`outbox_events`) in the same transaction as the change: no event for a change that rolled
back, no change without its event. Webhooks and NATS messages carry the same JSON document:

```json
{
  "id": "01JD3Q2W6Y0V8C2Q3N4M5P6R7S",
  "type": "order.placed",
  "timestamp": "2026-11-21T17:00:00.123456+00:00",
  "aggregate": {"type": "order", "id": "42", "version": 1},
  "schema_version": 1,
  "data": {"order_id": 42, "...": "..."}
}
```

* `id` is a ULID, unique and sortable. It is also the `webhook-id` header and the NATS
  `Nats-Msg-Id` header. **Delivery is at least once: deduplicate by `id`.**
* `schema_version` is the version of the payload's contract (`data`); a breaking change to a
  payload is a new version with its own schema file, never a silent change.
* `aggregate.version` orders one aggregate's events. Events of one aggregate are delivered in
  order; events of different aggregates may interleave.

## Delivery: `merx worker`

`merx worker` relays the outbox to every active webhook endpoint and, when `MERX_NATS_URL` is
set, to NATS JetStream. Without `MERX_NATS_URL` (the embedded default) no broker is needed.

* **Partitions and leases.** An event's partition is `crc32(aggregate_type, aggregate_id) mod N`
  (`MERX_RELAY_PARTITIONS`, default 16, fixed at the first start). Workers lease partitions in
  `integration_relay_leases` with conditional updates (take a lease only if it is free or
  expired) and split them fairly using heartbeats, so any number of workers can run and no
  event is delivered by two workers at once. A crashed worker's leases expire after
  `MERX_RELAY_LEASE_SECONDS` (15 s) and another worker takes over.
* **Progress after delivery.** Each subscriber keeps a cursor per partition; it is written after
  the webhook answered 2xx or JetStream acknowledged, fenced by the lease. A worker killed at any
  instant re-sends at most its last batch, with the same event ids.
* **Commit order on PostgreSQL.** `seq` is taken when the row is inserted, but transactions
  commit in any order, so a reader that saw seq 11 may not yet see seq 10. Cursors never move
  beyond the *horizon*: the highest seq below which every seq is visible or known abandoned.
  A missing seq (a gap) is recorded with the time it was first seen; every seq in it was
  allocated before that moment (a larger one was already visible). Once no transaction that
  started before that moment is still open (`pg_stat_activity`), the gap is final: it belonged
  to a rolled-back transaction. As a safety net a gap older than
  `MERX_RELAY_GAP_TIMEOUT_SECONDS` (300 s) is treated as final too, so an idle-in-transaction
  session cannot stall delivery forever; keep that timeout above your longest write
  transaction. The database role needs `pg_read_all_stats` (or be the owner of the sessions)
  to see other sessions' `xact_start`. On SQLite writers are serialised, so there are no gaps.

## Webhooks

`POST /api/v1/webhooks` `{"url", "events": [...], "secret"}` (admin). Requests are signed per
[Standard Webhooks](https://www.standardwebhooks.com/): headers `webhook-id` (the event id),
`webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256>` over
`"<id>.<timestamp>.<body>"`, keyed with the base64-decoded part of the `whsec_...` secret.
Any Standard Webhooks library verifies them, e.g. in Python:

```python
from standardwebhooks import Webhook

event = Webhook(secret).verify(request_body, request_headers)  # raises on a bad signature
```

* 2xx is success. Timeouts, connection errors, 5xx, 408 and 429 are retried with exponential
  backoff and jitter (`MERX_WEBHOOK_RETRY_BASE_SECONDS` 5 s doubling up to
  `MERX_WEBHOOK_RETRY_MAX_SECONDS` 1 h). Other 4xx answers are final (logged, not retried).
  While an event waits for its retry, the later events of its partition wait too (per-aggregate
  order is kept).
* After `MERX_WEBHOOK_MAX_CONSECUTIVE_FAILURES` (10) failed attempts in a row the endpoint is
  disabled and a `webhook_endpoint.disabled` event is emitted. `PATCH {"active": true}`
  re-enables it; delivery resumes where it stopped.
* Every attempt is logged (status, latency, response snippet):
  `GET /api/v1/webhooks/{id}/deliveries[/{delivery_id}]`;
  `POST /api/v1/webhooks/{id}/deliveries/{delivery_id}/replay` sends it again. Payloads are kept
  `MERX_DELIVERY_RETENTION_DAYS` (14) days, then purged (hourly by the worker, or
  `merx webhooks purge`).
* Secrets are stored encrypted with a key derived from `MERX_SECRET_KEY`; they are shown only
  on creation and `POST /api/v1/webhooks/{id}/rotate-secret`.

## NATS JetStream

With `MERX_NATS_URL=nats://127.0.0.1:4222` the worker publishes every event to subject
`merx.<aggregate>.<event>` (`order.placed` -> `merx.order.placed`) in stream `MERX`
(`MERX_NATS_STREAM`, created if missing, subjects `merx.>`), with `Nats-Msg-Id` = event id so
JetStream drops re-publishes within its duplicate window. A consumer:

```python
import asyncio, json
import nats

async def main():
    nc = await nats.connect("nats://127.0.0.1:4222")
    js = nc.jetstream()
    # A durable pull consumer survives restarts; it only sees order events.
    sub = await js.pull_subscribe("merx.order.>", durable="erp-orders", stream="MERX")
    seen = set()  # in production: a table of processed event ids
    while True:
        for msg in await sub.fetch(100, timeout=5):
            event = json.loads(msg.data)
            if event["id"] not in seen:
                seen.add(event["id"])
                print(event["type"], event["aggregate"], event["data"])
            await msg.ack()

asyncio.run(main())
```

`GET /api/v1/events` is a pull feed of the same events for systems that want neither.
"""


# Payload changes that consumers must know about (kept by hand: a generator cannot know why).
CHANGES = r"""## Changes

Payloads are typed contracts since event classes replaced the free-form dictionaries. What
changed on the wire for webhook and NATS consumers (all at schema version 1):

* **Order events** (`order.confirmed` ... `order.refunded`) no longer carry `changed`, a
  free-form object; what it held is now in typed top-level fields: `payment_status`,
  `payment_fingerprint` (`order.confirmed`); `amount`, `provider`, `payment_fingerprint`
  (`order.paid`); `tracking` (`order.fulfilled`); `location`, `location_name`
  (`order.ready_for_pickup`); `location`, `payment_status` (`order.picked_up`); `reason`,
  `payment_status` (`order.cancelled`). Every one has `previous_status` (for events that do
  not change the status it equals `status`).
* **`order.returned`**: `return_id`, `location` and `lines` moved from `changed` to the top
  level; `changed.refund` (the value of the returned goods, even when nothing was refunded)
  became `returned_value` (Money), and `refund` (Money, or null when the goods came back
  without a refund) says what will be paid back; `partial` is always present. Money paid back
  is only ever an `order.refunded` event.
* **`order.refunded`**: `amount` became Money (`{"amount", "currency"}`) and is null on the
  event that marks a fully returned order `refunded`; `refunded_total` (Money, everything
  paid back so far) and `payment_status` are new.
* **`order.placed`** gained `payment_provider`. **`order.paid`** carries the card fingerprint
  from the payment provider (null when there is no card: cash, pay in store).
* **`loyalty.points_changed`, `loyalty.tier_changed`** gained `account_id` (the aggregate).
* **`cart.abandoned`** always carries every field: a lapsed checkout hold has
  `detected_by: "orders"` and nulls for the analytics scan's fields.
* **`browse.abandoned`** carries `detected_by: "analytics"`, as it always did.
"""
