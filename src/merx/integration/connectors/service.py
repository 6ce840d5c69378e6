"""Connectors: CRUD of their declarative configuration, and imports as jobs.

An import is idempotent twice over: a file whose content hash matches an earlier import of the
same connector is recorded as a `duplicate` job and not processed (unless forced), and every
row is an upsert that detects no-ops (its mapped content hash per record key, and the target's
current value), so re-running the same rows changes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Iterable

import httpx
import sqlalchemy as sa

from merx.core.db import Database, utcnow
from merx.core.errors import Conflict, FieldError, NotFound, Problem, RowError, ValidationProblem
from merx.core.pagination import paginate, text_search
from merx.core.spreadsheet import safe_row
from merx.core.uow import UnitOfWork
from merx.core.auth import Principal, SYSTEM
from merx.integration import outbound
from merx.integration.connectors import credentials
from merx.integration.connectors.mapping import RowProblem, check_mapping, map_record, with_column_order
from merx.integration.connectors.targets import TARGETS, target_problem
from merx.integration.events import ConnectorImportCompleted
from merx.integration.models import Connector, ConnectorRecord, ImportJob
from merx.integration.schemas import ConnectorCreate, ConnectorOut, ConnectorUpdate, ImportJobOut
from merx.integration.settings import get_integration_settings

Progress = Callable[[int, int], None]
MAX_REPORTED_ERRORS = 10_000


def _out(uow: UnitOfWork, c: Connector) -> ConnectorOut:
    out = ConnectorOut.model_validate(c, from_attributes=True)
    out.transport = credentials.masked(c.transport, uow.settings)  # write-only credentials: names, never values
    return out


def _job_out(j: ImportJob) -> ImportJobOut:
    return ImportJobOut.model_validate(j, from_attributes=True)


def _validate(direction: str, target: str, mapping: dict[str, Any], transport: dict[str, Any]) -> None:
    errors: list[FieldError] = []
    if direction == "inbound":
        if target not in TARGETS:
            errors.append(FieldError("target", f"inbound targets: {', '.join(TARGETS)}"))
        else:
            t = TARGETS[target]
            errors += check_mapping(mapping, t.required, t.fields)
            if t.check is not None:
                errors += t.check(mapping)
            elif "line_classes" in mapping:
                errors.append(FieldError("mapping.line_classes", "only sales_lines connectors class lines"))
    else:
        if target != "orders":
            errors.append(FieldError("target", "outbound connectors export 'orders'"))
        if not isinstance(mapping.get("fields"), dict) or not mapping["fields"]:
            errors.append(FieldError("mapping.fields", "must map output columns to order fields"))
        if not (transport.get("folder") or transport.get("url")):
            errors.append(FieldError("transport", "an export needs 'folder' or 'url'"))
    interval = transport.get("interval_seconds")
    if interval is not None and (not isinstance(interval, (int, float)) or interval < 10):
        errors.append(FieldError("transport.interval_seconds", "must be a number >= 10"))
    url = transport.get("url")
    if url is not None and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        errors.append(FieldError("transport.url", "must be an http(s) URL"))
    elif url is not None:
        try:
            outbound.check_url(url, get_integration_settings().outbound_allow_list)
        except outbound.OutboundRefused as refused:
            errors.append(FieldError("transport.url", str(refused)))
    headers = transport.get("headers")
    if headers is not None and not (isinstance(headers, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items())):
        errors.append(FieldError("transport.headers", "must map header names to text values"))
    if errors:
        raise ValidationProblem("; ".join(f"{e.field}: {e.message}" for e in errors[:5]), errors=errors)


def create_connector(uow: UnitOfWork, data: ConnectorCreate) -> ConnectorOut:
    _validate(data.direction, data.target, data.mapping, data.transport)
    if uow.session.scalar(sa.select(Connector.id).where(Connector.code == data.code)) is not None:
        raise Conflict(f"a connector with code {data.code} exists", errors=[FieldError("code", "already exists", "duplicate")])
    c = Connector(code=data.code, name=data.name, direction=data.direction, target=data.target, format=data.format,
                  mapping=with_column_order(data.mapping), transport=credentials.seal(data.transport, uow.settings), active=data.active,
                  version=1)
    uow.session.add(c)
    uow.session.flush()
    uow.audit("connector.created", "connector", c.id, after=_out(uow, c).model_dump(mode="json"))
    uow.commit()
    return _out(uow, c)


def _by_code(uow: UnitOfWork, code: str) -> Connector:
    c = uow.session.scalar(sa.select(Connector).where(Connector.code == code))
    if c is None:
        raise NotFound(f"connector {code} does not exist")
    return c


def get_connector(uow: UnitOfWork, code: str) -> ConnectorOut:
    return _out(uow, _by_code(uow, code))


def list_connectors(uow: UnitOfWork, *, limit: int, cursor: str | None,
                    q: str | None = None) -> tuple[list[ConnectorOut], str | None]:
    """`q`: only the connectors whose code, name or target contain it."""
    stmt = text_search(sa.select(Connector), q, Connector.code, Connector.name, Connector.target)
    return paginate(uow.session, stmt, Connector.id, limit=limit, cursor=cursor,
                    convert=lambda c: _out(uow, c))


def update_connector(uow: UnitOfWork, code: str, data: ConnectorUpdate) -> ConnectorOut:
    c = _by_code(uow, code)
    before = _out(uow, c).model_dump(mode="json")
    changes = data.model_dump(exclude_unset=True)
    mapping = changes.get("mapping") if changes.get("mapping") is not None else c.mapping
    given = changes.get("transport")
    transport = credentials.unseal(c.transport, uow.settings) if given is None else given
    _validate(c.direction, c.target, mapping, transport)
    for name in ("name", "format", "active"):
        if changes.get(name) is not None:
            setattr(c, name, changes[name])
    if (mapping or {}).get("line_classes") != (c.mapping or {}).get("line_classes"):
        # other classes for the same rows: forget the rows' hashes so the next import
        # (?force=true for the same file) records every line again under the new classes
        uow.session.execute(sa.delete(ConnectorRecord).where(ConnectorRecord.connector_id == c.id))
    c.mapping, c.transport = with_column_order(mapping), credentials.seal(transport, uow.settings, previous=c.transport)
    c.version += 1
    uow.audit("connector.updated", "connector", c.id, before=before, after=_out(uow, c).model_dump(mode="json"))
    uow.commit()
    return _out(uow, c)


def delete_connector(uow: UnitOfWork, code: str) -> None:
    c = _by_code(uow, code)
    uow.session.execute(sa.delete(ConnectorRecord).where(ConnectorRecord.connector_id == c.id))
    uow.session.execute(sa.delete(ImportJob).where(ImportJob.connector_id == c.id))
    uow.session.delete(c)
    uow.audit("connector.deleted", "connector", c.id, before={"code": code})
    uow.commit()


def list_jobs(uow: UnitOfWork, code: str, *, limit: int, cursor: str | None,
              newest_first: bool = False) -> tuple[list[ImportJobOut], str | None]:
    c = _by_code(uow, code)
    return paginate(uow.session, sa.select(ImportJob).where(ImportJob.connector_id == c.id), ImportJob.id, limit=limit,
                    cursor=cursor, convert=_job_out, descending=newest_first)


def get_job(uow: UnitOfWork, code: str, job_id: int) -> ImportJobOut:
    c = _by_code(uow, code)
    j = uow.session.get(ImportJob, job_id)
    if j is None or j.connector_id != c.id:
        raise NotFound(f"import job {job_id} of connector {code} does not exist")
    return _job_out(j)



@dataclass(frozen=True)
class ImportHistoryEntry:
    """One import job as the console's import history lists it, with its connector."""

    id: int
    connector: str
    target: str
    source: str
    filename: str | None
    status: str
    rows_total: int
    rows_failed: int
    message: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None


def recent_import_jobs(uow: UnitOfWork, *, limit: int = 20) -> list[ImportHistoryEntry]:
    """The latest import jobs of every connector, newest first."""
    rows = uow.session.execute(
        sa.select(ImportJob, Connector.code, Connector.target).join(Connector, Connector.id == ImportJob.connector_id)
        .order_by(ImportJob.id.desc()).limit(limit)).all()
    return [ImportHistoryEntry(id=j.id, connector=code, target=target, source=j.source, filename=j.filename,
                               status=j.status, rows_total=j.rows_total, rows_failed=j.rows_failed, message=j.message,
                               started_at=j.started_at, finished_at=j.finished_at) for j, code, target in rows]

# -- parsing ------------------------------------------------------------------------------------------

def parse_records(fmt: str, content: bytes, options: dict[str, Any]) -> list[tuple[int, dict[str, Any] | None, str | None]]:
    """(row number, record or None, why not) for every data row of the file."""
    encoding = options.get("encoding", "utf-8-sig")
    try:
        text = content.decode(encoding)
    except (UnicodeDecodeError, LookupError) as e:
        raise ValidationProblem.for_field("file", f"is not {encoding} text: {e}") from None
    if fmt == "json":
        try:
            data = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as e:
            raise ValidationProblem.for_field("file", f"is not valid JSON: {e}") from None
        path = options.get("records_path")
        for part in (path.split(".") if path else []):
            data = data.get(part) if isinstance(data, dict) else None
        if not isinstance(data, list):
            raise ValidationProblem.for_field("file", f"has no list of records at {path or 'the top level'}")
        return [(i, rec if isinstance(rec, dict) else None, None if isinstance(rec, dict) else "is not an object")
                for i, rec in enumerate(data, start=1)]
    delimiter = options.get("delimiter")
    if not delimiter:
        try:
            delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise ValidationProblem.for_field("file", "is empty (no header row)") from None
    out: list[tuple[int, dict[str, Any] | None, str | None]] = []
    for i, cells in enumerate(reader, start=1):
        if not cells or all(not c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            out.append((i, None, f"has {len(cells)} columns, the header has {len(header)}"))
            continue
        out.append((i, dict(zip(header, cells)), None))
    return out


def _row_hash(values: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()


def _json_safe(v: Any) -> Any:
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)


# -- import jobs ---------------------------------------------------------------------------------------

def run_import(db: Database, code: str, content: bytes, *, filename: str | None = None, source: str = "upload",
               actor: Principal = SYSTEM, force: bool = False, progress: Progress | None = None,
               opaque_source: str | None = None) -> ImportJobOut:
    """Import a file. `opaque_source` (an HTTP pull) describes content staff did not supply:
    when nothing in it is usable, the job says so in that description instead of quoting it."""
    content_hash = hashlib.sha256(content).hexdigest()
    with UnitOfWork(db, actor) as uow:
        c = _by_code(uow, code)
        if c.direction != "inbound":
            raise ValidationProblem.for_field("connector", f"{code} is an outbound connector")
        if not c.active:
            raise Conflict(f"connector {code} is inactive")
        connector_id, target, fmt = c.id, TARGETS[c.target], c.format
        mapping = c.mapping
        apply = target.applier(mapping)
        earlier = uow.session.scalar(sa.select(ImportJob).where(
            ImportJob.connector_id == c.id, ImportJob.content_hash == content_hash,
            ImportJob.status.in_(("succeeded", "partial"))).order_by(ImportJob.id))
        job = ImportJob(connector_id=c.id, source=source, filename=filename, content_hash=content_hash,
                        status="running", errors=[], started_at=utcnow())
        uow.session.add(job)
        if earlier is not None and not force:
            job.status, job.finished_at = "duplicate", utcnow()
            job.rows_total = earlier.rows_total
            job.message = f"identical to import job {earlier.id}; nothing changed (force to re-check every row)"
            _finish_event(uow, c.code, job)
            uow.commit()
            return _job_out(job)
        c.last_run_at = utcnow()
        uow.commit()
        job_id = job.id

    errors: list[RowError] = []
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    try:
        parsed = parse_records(fmt, content, {**mapping.get("csv", {}), **mapping.get("json", {})})
    except Problem as e:
        message = f"{opaque_source} is not {fmt} this connector reads" if opaque_source else e.detail
        return _close_job(db, actor, code, job_id, total=0, counts=counts, errors=[], status="failed", message=message)

    # map every row first: bad rows are reported, duplicates of a key in one file are errors
    good: list[tuple[int, str, dict[str, Any]]] = []
    first_row_of_key: dict[str, int] = {}
    for number, record, why in parsed:
        if record is None:
            errors.append(RowError(number, "row", why or "unreadable"))
            continue
        try:
            values = map_record(mapping, record)
        except RowProblem as p:
            errors.append(RowError(number, p.field, p.message, _json_safe(p.value)))
            continue
        key = "|".join(str(values[k]) for k in target.key)
        if key in first_row_of_key:
            errors.append(RowError(number, ",".join(target.key), f"duplicate of row {first_row_of_key[key]} in this file",
                                   key))
            continue
        first_row_of_key[key] = number
        good.append((number, key, values))

    total = len(parsed)
    done = total - len(good)
    if progress:
        progress(done, total)
    with UnitOfWork(db, actor) as uow:
        for chunk_start in range(0, len(good), 500):
            chunk = good[chunk_start:chunk_start + 500]
            known = _known(uow, connector_id, [k for _, k, _ in chunk])
            changed = []
            for number, key, values in chunk:
                h = _row_hash(values)
                record = known.get(key)
                if record is not None and record.row_hash == h:
                    counts["unchanged"] += 1
                else:
                    changed.append((number, key, values, h))
            if target.apply_batch is not None and changed:
                try:
                    outcomes = target.apply_batch(uow, [v for _, _, v, _ in changed], code)
                    for (number, key, values, h), outcome in zip(changed, outcomes):
                        if isinstance(outcome, Exception):
                            field, message = target_problem(outcome)
                            errors.append(RowError(number, field, message, key))
                            continue
                        _remember(uow, known, connector_id, key, h)
                        counts[outcome] += 1
                    uow.commit()
                    changed = []
                except Exception:  # noqa: BLE001 - the whole batch failed: retry row by row for precise errors
                    uow.rollback()
                    known = _known(uow, connector_id, [k for _, k, _ in chunk])
            for number, key, values, h in changed:
                try:
                    _remember(uow, known, connector_id, key, h)
                    # the record hash commits with the target's change, or not at all
                    outcome = apply(uow, values, code)
                    uow.commit()
                    counts[outcome] += 1
                except Exception as e:  # noqa: BLE001 - a row the target refuses is reported, the rest go on
                    uow.rollback()
                    known = _known(uow, connector_id, [k for _, k, _ in chunk])
                    field, message = target_problem(e)
                    errors.append(RowError(number, field, message, key))
            done += len(chunk)
            if progress:
                progress(done, total)
    status = "succeeded" if not errors else ("partial" if len(errors) < total else "failed")
    if status == "failed" and opaque_source:  # rows by number and reason, without what they held
        return _close_job(db, actor, code, job_id, total=total, counts=counts, status=status,
                          errors=[RowError(e.row, e.field, e.message) for e in errors],
                          message=f"{opaque_source}: none of its {total} records fits the mapping")
    return _close_job(db, actor, code, job_id, total=total, counts=counts, errors=errors, status=status)


def _known(uow: UnitOfWork, connector_id: int, keys: list[str]) -> dict[str, ConnectorRecord]:
    return {r.record_key: r for r in uow.session.scalars(sa.select(ConnectorRecord).where(
        ConnectorRecord.connector_id == connector_id, ConnectorRecord.record_key.in_(keys)))}


def _remember(uow: UnitOfWork, known: dict[str, ConnectorRecord], connector_id: int, key: str, row_hash: str) -> None:
    record = known.get(key)
    if record is None:
        record = ConnectorRecord(connector_id=connector_id, record_key=key, row_hash=row_hash, updated_at=utcnow())
        uow.session.add(record)
        known[key] = record
    else:
        record.row_hash, record.updated_at = row_hash, utcnow()


def _close_job(db: Database, actor: Principal, code: str, job_id: int, *, total: int, counts: dict[str, int],
               errors: list[RowError], status: str, message: str | None = None) -> ImportJobOut:
    with UnitOfWork(db, actor) as uow:
        job = uow.session.get(ImportJob, job_id)
        assert job is not None
        job.rows_total, job.rows_failed = total, len(errors)
        job.rows_created, job.rows_updated, job.rows_unchanged = counts["created"], counts["updated"], counts["unchanged"]
        job.errors = [e.as_dict() for e in sorted(errors, key=lambda e: e.row)[:MAX_REPORTED_ERRORS]]
        job.status, job.message, job.finished_at = status, message, utcnow()
        _finish_event(uow, code, job)
        uow.audit("connector.import", "import_job", job.id, after={"status": status, "rows_total": total,
                                                                  "rows_failed": len(errors), **counts})
        uow.commit()
        return _job_out(job)


def _finish_event(uow: UnitOfWork, code: str, job: ImportJob) -> None:
    uow.session.flush()
    uow.emit(ConnectorImportCompleted(
        job_id=job.id, connector=code, status=job.status, rows_total=job.rows_total, rows_created=job.rows_created,
        rows_updated=job.rows_updated, rows_unchanged=job.rows_unchanged, rows_failed=job.rows_failed), version=1)


def error_report_csv(job: ImportJobOut) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["row", "field", "message", "value"])
    for e in job.errors:
        w.writerow(safe_row([e["row"], e["field"], e["message"], "" if e.get("value") is None else e["value"]]))
    return buf.getvalue()


def due_pull_connectors(uow: UnitOfWork) -> list[ConnectorOut]:
    """Inbound connectors with an HTTP pull whose interval has elapsed."""
    now = utcnow()
    out = []
    for c in uow.session.scalars(sa.select(Connector).where(Connector.active.is_(True),
                                                             Connector.direction == "inbound")):
        t = c.transport or {}
        if t.get("url") and t.get("interval_seconds"):
            if c.last_run_at is None or (now - c.last_run_at).total_seconds() >= float(t["interval_seconds"]):
                out.append(_out(uow, c))
    return out


def pull_once(db: Database, code: str) -> ImportJobOut:
    """HTTP pull: fetch the connector's URL and import the body (a job like any other)."""

    with UnitOfWork(db) as uow:
        c = _by_code(uow, code)
        t = credentials.unseal(c.transport, uow.settings)
    # The answer is reported by status and reason only: its body may come from a system staff
    # should not read through us (an allow-listed internal host).
    try:
        with outbound.guarded_client(get_integration_settings().outbound_allow_list) as client:
            resp = client.get(t["url"], headers=t.get("headers") or {}, timeout=float(t.get("timeout_seconds", 30)))
        failure = None if resp.is_success else f"answered HTTP {resp.status_code} {resp.reason_phrase}"
    except httpx.HTTPError as e:
        failure = f"failed: {type(e).__name__}" + (f" ({e})" if isinstance(e, httpx.ConnectError) else "")
    if failure is not None:
        with UnitOfWork(db) as uow:
            c = _by_code(uow, code)
            c.last_run_at = utcnow()
            uow.commit()
        raise Problem(f"pull from {t['url']} {failure}", status=502, title="Upstream failed",
                      type_slug="upstream-failed")
    summary = (f"the answer of {t['url']} (HTTP {resp.status_code} {resp.reason_phrase}, "
               f"{resp.headers.get('content-type', 'no content type')}, {len(resp.content)} bytes)")
    return run_import(db, code, resp.content, filename=t["url"], source="http_pull", opaque_source=summary)


def iter_folder_files(folder: str, pattern: str = "*") -> Iterable[Any]:
    from pathlib import Path

    base = Path(folder)
    if not base.is_dir():
        return []
    return sorted(p for p in base.glob(pattern) if p.is_file() and not p.name.startswith("."))
