"""Connector work the worker does on a schedule: HTTP pulls whose interval elapsed, files
dropped into watched folders, and outbound order exports (files or HTTP)."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from merx.core.db import Database, utcnow
from merx.core.errors import Conflict, NotFound, Problem, ValidationProblem
from merx.core.models import OutboxEvent
from merx.core.spreadsheet import safe_cell
from merx.core.uow import UnitOfWork
from merx.integration.connectors import credentials, service
from merx.integration.connectors.mapping import RowProblem, map_record
from merx.integration.models import Connector, ImportJob, RelayCursor
from merx.integration.outbound import guarded_client
from merx.integration.relay import advance_horizon
from merx.integration.settings import get_integration_settings

log = logging.getLogger("merx.connectors")
EXPORT_EVENT = "order.placed"


def run_due(db: Database, gap_timeout_seconds: float = 300.0) -> list[str]:
    """One pass over every active connector; returns what was done (for logs and tests)."""
    done: list[str] = []
    with UnitOfWork(db, readonly=True) as uow:
        connectors = [(c.code, c.direction, dict(c.transport or {}), c.last_run_at)
                      for c in uow.session.scalars(sa.select(Connector).where(Connector.active.is_(True)))]
    now = utcnow()
    for code, direction, transport, last_run in connectors:
        try:
            if direction == "inbound" and transport.get("folder"):
                done += [f"{code}: imported {name}" for name in scan_folder(db, code, transport["folder"],
                                                                             transport.get("pattern", "*"))]
            interval = transport.get("interval_seconds")
            due = interval and (last_run is None or (now - last_run).total_seconds() >= float(interval))
            if direction == "inbound" and transport.get("url") and due:
                job = service.pull_once(db, code)
                done.append(f"{code}: pulled ({job.status})")
            elif direction == "outbound" and (due or not interval):
                n = export_orders(db, code, gap_timeout_seconds)
                if n:
                    done.append(f"{code}: exported {n} orders")
        except Problem as e:
            log.warning("connector %s: %s", code, e.detail)
        except Exception:  # one broken connector must not stop the others
            log.exception("connector %s failed", code)
    return done


@dataclass(frozen=True)
class SourceRun:
    """What running a connector's configured source now did: a sentence, and the import job
    when there is exactly one to show (an HTTP pull)."""

    message: str
    job_id: int | None = None


def run_source_now(db: Database, code: str) -> SourceRun:
    """Run one connector's configured source now, as its schedule would (staff's "Run"
    button): an inbound HTTP pull, the files waiting in its watched folder, or an outbound
    export of the new orders. A connector without a source to run is a 422 naming it."""
    with UnitOfWork(db, readonly=True) as uow:
        c = uow.session.scalar(sa.select(Connector).where(Connector.code == code))
        if c is None:
            raise NotFound(f"connector {code} does not exist")
        direction, transport, active = c.direction, credentials.unseal(c.transport, uow.settings) or {}, c.active
    if not active:
        raise Conflict(f"connector {code} is inactive")
    if direction == "outbound":
        n = export_orders(db, code, get_integration_settings().relay_gap_timeout_seconds)
        return SourceRun(f"{code}: exported {n} new order{'s' if n != 1 else ''}.")
    if transport.get("url"):
        job = service.pull_once(db, code)
        return SourceRun(f"{code}: pulled {transport['url']} ({job.status}).", job.id)
    if transport.get("folder"):
        names = scan_folder(db, code, transport["folder"], transport.get("pattern", "*"))
        return SourceRun(f"{code}: imported {len(names)} file{'s' if len(names) != 1 else ''} from "
                         f"{transport['folder']}" + (f" ({', '.join(names[:5])})" if names else "") + ".")
    raise ValidationProblem.for_field("transport", f"connector {code} has no pull URL or watched folder to run: "
                                                   "upload a file instead")


def scan_folder(db: Database, code: str, folder: str, pattern: str = "*") -> list[str]:
    """Import every file in the folder. A file is claimed by an atomic rename (so two workers
    never import it twice) and moved to processed/ or failed/ afterwards."""
    base = Path(folder)
    imported = []
    for path in service.iter_folder_files(folder, pattern):
        claimed = path.with_name(f".{path.name}.{os.getpid()}.processing")
        try:
            path.rename(claimed)
        except OSError:
            continue  # another worker got it
        try:
            job = service.run_import(db, code, claimed.read_bytes(), filename=path.name, source="folder")
            target_dir = base / ("failed" if job.status == "failed" else "processed")
        except Exception:
            target_dir = base / "failed"
            log.exception("import of %s failed", path)
        target_dir.mkdir(exist_ok=True)
        claimed.rename(target_dir / path.name)
        imported.append(path.name)
    return imported


def _cursor(uow: UnitOfWork, code: str) -> RelayCursor:
    key = f"export:{code}"
    c = uow.session.get(RelayCursor, (key, 0))
    if c is None:
        c = RelayCursor(subscriber=key, partition=0, last_seq=0, retry_at=None, updated_at=utcnow())
        uow.session.add(c)
        uow.session.flush()
    return c


def export_orders(db: Database, code: str, gap_timeout_seconds: float = 300.0, batch: int = 1000) -> int:
    """Outbound: the `order.placed` events since the last export, mapped by the connector's
    mapping (output column -> {"source": "totals.total", ...}), written as one CSV/JSON file
    into `transport.folder` or POSTed as JSON to `transport.url`. The cursor moves only after
    the file is written or the receiver answered 2xx, so nothing is skipped."""
    safe = advance_horizon(db, gap_timeout_seconds)
    with UnitOfWork(db) as uow:
        c = uow.session.scalar(sa.select(Connector).where(Connector.code == code))
        assert c is not None
        connector_id, mapping, transport, fmt = c.id, c.mapping, credentials.unseal(c.transport, uow.settings), c.format
        cursor = _cursor(uow, code)
        after = cursor.last_seq
        uow.commit()
        rows = uow.session.execute(sa.select(OutboxEvent.seq, OutboxEvent.payload).where(
            OutboxEvent.type == EXPORT_EVENT, OutboxEvent.seq > after, OutboxEvent.seq <= safe)
            .order_by(OutboxEvent.seq).limit(batch)).all()
    if not rows:
        return 0
    records, errors = [], []
    for n, row in enumerate(rows, start=1):
        try:
            records.append({k: _jsonable(v) for k, v in map_record(mapping, row.payload).items()})
        except RowProblem as p:
            errors.append({"row": n, "field": p.field, "message": p.message, "value": _jsonable(p.value)})
    last_seq = rows[-1].seq
    name = f"orders-{rows[0].seq:012d}-{last_seq:012d}.{fmt}"
    body = _render(records, fmt)
    if transport.get("folder"):
        folder = Path(transport["folder"])
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{name}.tmp"
        tmp.write_text(body)
        tmp.rename(folder / name)  # readers never see a half-written file
    else:
        with guarded_client(get_integration_settings().outbound_allow_list) as client:
            resp = client.post(transport["url"], content=json.dumps(records), timeout=30,
                               headers={"content-type": "application/json", **(transport.get("headers") or {})})
        if resp.status_code >= 300:
            raise Problem(f"export to {transport['url']} answered {resp.status_code}", status=502,
                          title="Upstream failed", type_slug="upstream-failed")
    import hashlib

    with UnitOfWork(db) as uow:
        cursor = _cursor(uow, code)
        cursor.last_seq, cursor.updated_at = last_seq, utcnow()
        uow.session.add(ImportJob(connector_id=connector_id, source="export", filename=name,
                                  content_hash=hashlib.sha256(body.encode()).hexdigest(),
                                  status="partial" if errors else "succeeded", rows_total=len(rows),
                                  rows_created=len(records), rows_failed=len(errors), errors=errors,
                                  started_at=utcnow(), finished_at=utcnow()))
        c = uow.session.get(Connector, connector_id)
        if c is not None:
            c.last_run_at = utcnow()
        uow.commit()
    return len(records)


def _jsonable(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, (list, dict)):
        return v
    return str(v)


def _render(records: list[dict[str, Any]], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(records, indent=1)
    buf = io.StringIO()
    if records:
        w = csv.DictWriter(buf, fieldnames=list(records[0]))
        w.writeheader()
        for r in records:
            w.writerow({k: safe_cell(json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in r.items()})
    return buf.getvalue()
