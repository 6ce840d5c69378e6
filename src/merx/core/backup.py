"""Backup and restore of a whole shop: the database and the data directory's files, in one
archive the user can move (`merx backup PATH`, `merx restore PATH [--force]`).

The archive is a tar file:

    manifest.json        format, backend, schema revisions (the Alembic heads), created at,
                         row counts per table, the files, the secret key's fingerprint
    database.sqlite      SQLite: a page-for-page copy made with SQLite's online backup API
    database.dump        PostgreSQL: `pg_dump -Fc` (custom format: compressed, `pg_restore`able)
    files/...            the data directory's own files

Consistent while the shop writes:
* SQLite: the copy runs inside ONE read transaction on the source connection (WAL mode: a
  fixed snapshot; writers go on meanwhile), so it holds exactly the transactions committed
  before it began, never half of one. Stepping the backup in chunks (for the progress bar)
  keeps that snapshot: `sqlite3_backup_step` uses the connection's open read transaction.
* PostgreSQL: the row counts are read in a REPEATABLE READ transaction that exports its
  snapshot, and `pg_dump --snapshot` dumps exactly that snapshot.

Which files go, which are rebuilt:
* go: the generated secret key (without it console sessions, webhook signing secrets and
  connector credentials stored encrypted cannot be read), product pictures, support
  attachments, behavioural event files, the search ranking models, the search vectors (keyed
  by the text they embed, so a rebuild embeds only what changed), and anything else a
  context writes there;
* rebuilt: the search index (from the restored catalog, by `merx restore`: a copy taken
  beside a live database could disagree with it) and the analytics snapshot caches (derived
  from the database on first use).

Restore refuses a target that holds a shop (rows beyond what migrations and a first start
write, or files in the data directory) unless `force`, refuses an archive from a newer schema
than this code knows (upgrade Merx first), and migrates an older one up after restoring.
Hand-written over a backup tool because what makes it right is ours (which files, the
schema check, one snapshot for dump and counts); the copying is SQLite's and PostgreSQL's own."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from merx.core.db import Database, utcnow
from merx.core.settings import SECRET_KEY_FILE

FORMAT = "merx-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite"
PG_MEMBER = "database.dump"
FILES_PREFIX = "files/"
# Data-dir paths (relative, "/"-separated) rebuilt from the database instead of archived.
# replica_id: a restored shop is a new replica (its own search cursor, its index rebuilt).
DERIVED = ("search/index", "analytics", "replica_id")
# Rows a new database holds after its migrations and a first start of a server or worker:
# bookkeeping, not a shop. Any other row makes the target "not empty".
BOOKKEEPING_TABLES = frozenset({"alembic_version", "outbox_horizon", "subscriber_cursors", "core_jobs"})
BOOKKEEPING_PREFIXES = ("integration_relay_",)
SQLITE_PAGES_PER_STEP = 256
# Archived (they save work) but written by any index rebuild: not a sign that a shop lives there.
CACHES_NOT_A_SHOP = ("search/vectors/",)

Progress = Callable[[str, int, int], None]  # (step, done, total): "database" / "files"


class BackupError(RuntimeError):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


@dataclass
class Manifest:
    backend: str
    schema_heads: list[str]
    created_at: str
    counts: dict[str, int]
    files: list[str] = field(default_factory=list)
    secret_key_fingerprint: str | None = None
    secret_key_included: bool = False
    database_member: str = SQLITE_MEMBER
    merx_version: str = ""
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> "Manifest":
        raw = json.loads(data)
        if raw.get("format") != FORMAT:
            raise BackupError("not a Merx backup archive (its manifest.json names no merx-backup format)")
        if int(raw.get("format_version", 0)) > FORMAT_VERSION:
            raise BackupError(f"the archive uses backup format {raw['format_version']}, newer than this Merx "
                              f"reads ({FORMAT_VERSION}): upgrade Merx first")
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in raw.items() if k in known})

    def summary(self) -> str:
        total = sum(self.counts.values())
        return (f"{self.backend} shop made {self.created_at} ({len(self.schema_heads)} migration heads): "
                f"{total:,} rows in {len(self.counts)} tables, {len(self.files)} files")


@dataclass(frozen=True)
class Target:
    """Where a shop lives: its database and its data directory."""

    db: Database
    data_dir: Path
    secret_key: str | None = None  # the key in force (environment or the data dir's file)

    @property
    def backend(self) -> str:
        return self.db.dialect

    @property
    def sqlite_path(self) -> Path | None:
        if self.backend != "sqlite":
            return None
        name = make_url(self.db.url).database
        return Path(name).resolve() if name and name != ":memory:" else None


def fingerprint(secret: str | None) -> str | None:
    """A short hash that tells two keys apart without revealing either."""
    if not secret:
        return None
    return hashlib.sha256(b"merx-secret-key-fingerprint\x00" + secret.encode()).hexdigest()[:16]


def _merx_version() -> str:
    try:
        from importlib.metadata import version

        return version("merx")
    except Exception:  # noqa: BLE001 - running from a source tree without metadata
        return ""


def _noop(step: str, done: int, total: int) -> None:
    return None


# -- which files ------------------------------------------------------------------------------------

def _is_derived(rel: str) -> bool:
    return any(rel == d or rel.startswith(d + "/") for d in DERIVED)


def data_files(target: Target, *, exclude: tuple[Path, ...] = ()) -> list[tuple[str, Path]]:
    """(archive name relative to the data dir, path) of every file that belongs in a backup."""
    base = target.data_dir
    if not base.exists():
        return []
    skip = {p.resolve() for p in exclude}
    db_path = target.sqlite_path
    if db_path is not None:
        skip |= {db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm"), Path(f"{db_path}-journal")}
    out = []
    for root, dirs, files in os.walk(base):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            rel = path.relative_to(base).as_posix()
            if path.resolve() in skip or _is_derived(rel) or path.is_symlink() or ".tmp" in name:
                continue
            out.append((rel, path))
    return out


# -- counts and schema -------------------------------------------------------------------------------

def table_counts(conn: sa.Connection) -> dict[str, int]:
    """Rows per table of the connected database (every table, whatever its context)."""
    names = sorted(sa.inspect(conn).get_table_names())
    prep = conn.dialect.identifier_preparer
    return {n: int(conn.execute(sa.text(f"SELECT count(*) FROM {prep.quote(n)}")).scalar() or 0) for n in names}


def heads_of(conn: sa.Connection) -> list[str]:
    from alembic.runtime.migration import MigrationContext

    return sorted(MigrationContext.configure(conn).get_current_heads())


def shop_rows(counts: dict[str, int]) -> dict[str, int]:
    return {t: n for t, n in counts.items() if n and t not in BOOKKEEPING_TABLES
            and not t.startswith(BOOKKEEPING_PREFIXES)}


def check_schema(heads: list[str], url: str) -> None:
    """Refuse an archive whose revisions this code does not know (made by a newer Merx)."""
    from alembic.script import ScriptDirectory

    from merx.core.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config(url))
    unknown = []
    for head in heads:
        try:
            if script.get_revision(head) is None:
                unknown.append(head)
        except Exception:  # noqa: BLE001 - alembic raises for a revision it cannot resolve
            unknown.append(head)
    if unknown:
        raise BackupError(f"the archive comes from a newer schema than this Merx knows (unknown migration "
                          f"{', '.join(sorted(unknown))}): upgrade Merx to the version that made it, then restore")


# -- SQLite -------------------------------------------------------------------------------------------

def _sqlite_copy(src: sqlite3.Connection, dst: sqlite3.Connection, progress: Progress) -> None:
    def step(_status: int, remaining: int, total: int) -> None:
        progress("database", total - remaining, total)

    src.backup(dst, pages=SQLITE_PAGES_PER_STEP, progress=step)


def _sqlite_snapshot(path: Path, out: Path, progress: Progress) -> tuple[dict[str, int], list[str]]:
    """Copy the live database at `path` to `out` from one read snapshot; counts and heads are
    read from the copy, so they describe exactly what it holds."""
    src = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    try:
        src.execute("PRAGMA busy_timeout=30000")
        src.execute("BEGIN")  # deferred: the read transaction starts with the first read below
        src.execute("SELECT count(*) FROM sqlite_master").fetchone()
        dst = sqlite3.connect(str(out), isolation_level=None)
        try:
            _sqlite_copy(src, dst, progress)
        finally:
            dst.close()
        src.execute("COMMIT")
    finally:
        src.close()
    copy = sa.create_engine(f"sqlite:///{out}")
    try:
        with copy.connect() as conn:
            return table_counts(conn), heads_of(conn)
    finally:
        copy.dispose()


def _sqlite_restore(member: Path, target: Target, progress: Progress) -> None:
    """Copy the archived database into the target's file through the backup API (into the
    target connection: SQLite replaces its pages under its own locks, WAL and all)."""
    path = target.sqlite_path
    if path is None:
        raise BackupError("the target SQLite database has no file")
    path.parent.mkdir(parents=True, exist_ok=True)
    target.db.dispose()  # this process's pooled connections would keep reading the old pages
    src = sqlite3.connect(str(member), isolation_level=None)
    dst = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    try:
        dst.execute("PRAGMA busy_timeout=30000")
        _sqlite_copy(src, dst, progress)
        dst.execute("PRAGMA journal_mode=WAL")
    finally:
        dst.close()
        src.close()


# -- PostgreSQL -----------------------------------------------------------------------------------------

def _pg_env(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URI without the password (it goes in PGPASSWORD, out of the process list)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    uri = parsed.set(drivername="postgresql", password=None)
    return uri.render_as_string(hide_password=False), env


def _pg_tool(name: str) -> str:
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return path


def _run_counted(cmd: list[str], env: dict[str, str], marker: re.Pattern[str], total: int, progress: Progress,
                 what: str) -> None:
    """Run pg_dump/pg_restore -v, advancing the bar on each table its log names."""
    progress("database", 0, total)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    done, errors = 0, []
    assert proc.stderr is not None
    for line in proc.stderr:
        if marker.search(line):
            done += 1
            progress("database", min(done, total), total)
        elif "error" in line.lower() or "fatal" in line.lower():
            errors.append(line.strip())
    if proc.wait() != 0:
        raise BackupError(f"{what} failed: " + (" | ".join(errors[-5:]) or f"exit status {proc.returncode}"))
    progress("database", total, total)


def _pg_snapshot(db: Database, out: Path, progress: Progress) -> tuple[dict[str, int], list[str]]:
    uri, env = _pg_env(db.url)
    with db.engine.connect() as conn:
        conn.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        conn.execute(sa.text("SET LOCAL statement_timeout = 0"))
        snapshot = conn.execute(sa.text("SELECT pg_export_snapshot()")).scalar()
        counts, heads = table_counts(conn), heads_of(conn)
        # the snapshot lives while this transaction does: dump it before the block ends
        _run_counted([_pg_tool("pg_dump"), "-Fc", "-v", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                      "-f", str(out), "--dbname", uri], env, re.compile(r"dumping contents of table"),
                     len(counts), progress, "pg_dump")
        conn.rollback()
    return counts, heads


def _pg_clear(db: Database) -> None:
    """--force: drop the target's tables, sequences and types (the public schema, recreated)."""
    with db.engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL lock_timeout = 0"))
        conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    db.dispose()


def _pg_restore(member: Path, target: Target, tables: int, progress: Progress) -> None:
    uri, env = _pg_env(target.db.url)
    target.db.dispose()
    _run_counted([_pg_tool("pg_restore"), "-v", "--no-owner", "--no-privileges", "--exit-on-error",
                  "--dbname", uri, str(member)], env, re.compile(r"processing data for table"),
                 tables, progress, "pg_restore")


# -- the archive --------------------------------------------------------------------------------------

class _Reading(io.RawIOBase):
    """A file read through tarfile that reports how far it got (the files bar)."""

    def __init__(self, raw: Any, on_bytes: Callable[[int], None]) -> None:
        self.raw, self.on_bytes = raw, on_bytes

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.on_bytes(len(data))
        return data


def _add(tar: tarfile.TarFile, name: str, path: Path, on_bytes: Callable[[int], None]) -> None:
    info = tar.gettarinfo(str(path), arcname=name)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    with open(path, "rb") as f:
        tar.addfile(info, _Reading(f, on_bytes))


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(utcnow().timestamp()), 0o600
    tar.addfile(info, io.BytesIO(data))


def backup(target: Target, path: Path, *, progress: Progress = _noop) -> Manifest:
    """Write the shop's archive to `path` (written beside it first, then renamed: a crash
    never leaves a half archive under the final name). Returns its manifest."""
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".merx-backup-", dir=path.parent) as tmp:
        if target.backend == "sqlite":
            src = target.sqlite_path
            if src is None or not src.exists():
                raise BackupError(f"no SQLite database at {src}: nothing to back up")
            member, dump = SQLITE_MEMBER, Path(tmp) / SQLITE_MEMBER
            counts, heads = _sqlite_snapshot(src, dump, progress)
        elif target.backend == "postgresql":
            member, dump = PG_MEMBER, Path(tmp) / PG_MEMBER
            counts, heads = _pg_snapshot(target.db, dump, progress)
        else:
            raise BackupError(f"cannot back up a {target.backend} database")
        files = data_files(target, exclude=(path, Path(tmp)))
        key_file = target.data_dir / SECRET_KEY_FILE
        manifest = Manifest(backend=target.backend, schema_heads=heads, created_at=utcnow().isoformat(),
                            counts=counts, files=[rel for rel, _ in files], database_member=member,
                            secret_key_fingerprint=fingerprint(target.secret_key),
                            secret_key_included=any(rel == SECRET_KEY_FILE for rel, _ in files) and key_file.exists(),
                            merx_version=_merx_version())
        total_bytes = dump.stat().st_size + sum(p.stat().st_size for _, p in files)
        written = {"n": 0}

        def moved(n: int) -> None:
            written["n"] += n
            progress("files", written["n"], total_bytes)

        partial = path.with_name(path.name + ".partial")
        progress("files", 0, total_bytes)
        with tarfile.open(partial, "w") as tar:
            _add_bytes(tar, MANIFEST, manifest.to_json())
            _add(tar, member, dump, moved)
            for rel, p in files:
                try:
                    _add(tar, FILES_PREFIX + rel, p, moved)
                except FileNotFoundError:  # removed while we copied (a replaced temp file): not part of the shop
                    manifest.files.remove(rel)
        os.replace(partial, path)
        os.chmod(path, 0o600)  # it holds the secret key and every customer's data
    return manifest


def read_manifest(path: Path) -> Manifest:
    try:
        with tarfile.open(path, "r") as tar:
            f = tar.extractfile(MANIFEST)
            if f is None:
                raise BackupError(f"{path} holds no {MANIFEST}: not a Merx backup archive")
            return Manifest.from_json(f.read())
    except tarfile.ReadError:
        raise BackupError(f"{path} is not a Merx backup archive (not a tar file)") from None
    except (tarfile.TarError, KeyError) as e:
        raise BackupError(f"{path} is not a Merx backup archive ({e})") from None


def target_contents(target: Target) -> tuple[dict[str, int], list[str]]:
    """What the target already holds: shop rows per table, and data-dir files a restore would
    replace (the secret key alone is not a shop: any command generates one)."""
    rows: dict[str, int] = {}
    exists = target.backend != "sqlite" or (target.sqlite_path is not None and target.sqlite_path.exists())
    if exists:
        with target.db.engine.connect() as conn:
            rows = shop_rows(table_counts(conn))
    files = [rel for rel, _ in data_files(target) if rel != SECRET_KEY_FILE and not rel.startswith(CACHES_NOT_A_SHOP)]
    return rows, files


def _clear_data_dir(target: Target) -> None:
    """--force: the target's own files and derived caches go before the archive's come in."""
    db_path = target.sqlite_path
    keep = {db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")} if db_path else set()
    if not target.data_dir.exists():
        return
    for child in target.data_dir.iterdir():
        if child.resolve() in keep:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    for m in tar.getmembers():
        if m.name.startswith(FILES_PREFIX) and m.isfile():
            yield m


def restore(target: Target, path: Path, *, force: bool = False, progress: Progress = _noop) -> Manifest:
    """Restore the archive at `path` into `target`. Refuses a target holding a shop unless
    `force` (which replaces it), an archive of the other backend, and one from a newer schema.
    The caller migrates up afterwards and rebuilds the search index."""
    path = Path(path)
    if not path.exists():
        raise BackupError(f"no archive at {path}")
    manifest = read_manifest(path)
    if manifest.backend != target.backend:
        raise BackupError(f"the archive holds a {manifest.backend} database and the target is {target.backend}: "
                          f"restore it into a {manifest.backend} target (MERX_DATABASE_URL)")
    check_schema(manifest.schema_heads, target.db.url)
    rows, files = target_contents(target)
    if (rows or files) and not force:
        held = ", ".join(f"{t} ({n})" for t, n in sorted(rows.items(), key=lambda kv: -kv[1])[:5])
        parts = ([f"rows in {len(rows)} tables: {held}"] if rows else []) + \
                ([f"{len(files)} files in {target.data_dir}"] if files else [])
        raise BackupError("the target is not empty (" + "; ".join(parts) + "). Restore into an empty database and "
                          "data directory, or pass --force to replace what is there")
    with tarfile.open(path, "r") as tar, tempfile.TemporaryDirectory(prefix=".merx-restore-") as tmp:
        member = tar.getmember(manifest.database_member)
        tar.extract(member, tmp, filter="data")
        extracted = Path(tmp) / manifest.database_member
        if force:
            _clear_data_dir(target)
        if target.backend == "sqlite":
            _sqlite_restore(extracted, target, progress)
        else:
            _pg_clear(target.db)
            _pg_restore(extracted, target, len(manifest.counts), progress)
        extracted.unlink()
        wanted = list(_members(tar))
        total = sum(m.size for m in wanted)
        done = 0
        progress("files", 0, total)
        target.data_dir.mkdir(parents=True, exist_ok=True)
        for m in wanted:
            m = m.replace(name=m.name[len(FILES_PREFIX):], deep=False)
            tar.extract(m, target.data_dir, filter="data")  # "data": no absolute paths, no "..", no links out
            done += m.size
            progress("files", done, total)
        if manifest.secret_key_included:
            os.chmod(target.data_dir / SECRET_KEY_FILE, 0o600)
    return manifest
