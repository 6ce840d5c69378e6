"""The scheduler: timed and recurring work as jobs in a table, with leases.

Contexts register their jobs in `<context>/jobs.py` (`register(scheduler)`, discovered like
handlers by the composition root). `run_due_jobs(db, scheduler)` runs every job whose time
has come; `merx worker` and `merx serve`'s embedded loop call it every few seconds
(`run_scheduler_loop`), tests call it directly with `now=` instead of waiting.

- One runner at a time per job, across processes: a runner claims a job with a conditional
  UPDATE (`WHERE lease is free or expired`), which works the same on SQLite and PostgreSQL;
  only the runner whose UPDATE changed the row runs it. The lease is extended while a long
  job runs and released (fenced by the owner) when it finishes.
- At least once: a runner that dies mid-run leaves its lease to expire; the next runner
  takes the job again. Jobs are written to be safe to repeat.
- A failing job is retried with exponential backoff (`retry_base_seconds` doubled per
  consecutive failure, at most `retry_max_seconds`); its last error stays visible in
  `merx jobs list` and on `/console/jobs` until it succeeds.

Hand-written rather than APScheduler or Celery beat: what we need is a row per job and one
conditional UPDATE, on the database we already have; those bring their own job stores,
brokers or processes and do not fence a lease by owner across our two backends."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from merx.core.db import Database, utcnow
from merx.core.errors import Conflict, NotFound
from merx.core.ids import new_ulid
from merx.core.models import ScheduledJob
from merx.core.settings import settings_of

log = logging.getLogger("merx.jobs")

_EVERY = re.compile(r"^every (\d+)s$")
_DAILY = re.compile(r"^daily ([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Schedule:
    """`every(seconds=60)` or `daily("03:00")` (UTC)."""

    every_seconds: int | None = None
    daily_at: dt.time | None = None

    def __post_init__(self) -> None:
        if (self.every_seconds is None) == (self.daily_at is None):
            raise ValueError("a schedule is either every N seconds or daily at a time")
        if self.every_seconds is not None and self.every_seconds < 1:
            raise ValueError("every_seconds must be at least 1")

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        if self.every_seconds is not None:
            return moment + dt.timedelta(seconds=self.every_seconds)
        assert self.daily_at is not None
        candidate = dt.datetime.combine(moment.date(), self.daily_at, tzinfo=dt.timezone.utc)
        return candidate if candidate > moment else candidate + dt.timedelta(days=1)

    def __str__(self) -> str:
        if self.every_seconds is not None:
            return f"every {self.every_seconds}s"
        assert self.daily_at is not None
        return f"daily {self.daily_at:%H:%M}"

    @classmethod
    def parse(cls, text: str) -> "Schedule":
        if m := _EVERY.match(text):
            return cls(every_seconds=int(m.group(1)))
        if m := _DAILY.match(text):
            return cls(daily_at=dt.time(int(m.group(1)), int(m.group(2))))
        raise ValueError(f"not a schedule: {text!r} (use 'every 60s' or 'daily 03:00')")


def every(seconds: float) -> Schedule:
    return Schedule(every_seconds=max(1, int(seconds)))


def daily(at: str) -> Schedule:
    return Schedule.parse(f"daily {at}")


@dataclass(frozen=True)
class JobContext:
    """What a job gets: the database, the settings it serves under and the time it was due
    at (tests pass a clock; jobs compare against `now`, never the wall clock)."""

    db: Database
    settings: Any
    now: dt.datetime
    job: str


@dataclass(frozen=True)
class Job:
    name: str
    schedule: Schedule
    run: Callable[[JobContext], Any]  # returns a short result (str, number, dict) for the listing
    description: str = ""
    lease_seconds: int = 300
    retry_base_seconds: int = 30
    retry_max_seconds: int = 3600

    def retry_delay(self, attempts: int) -> dt.timedelta:
        """Exponential backoff after the `attempts`-th consecutive failure."""
        seconds = min(self.retry_base_seconds * 2 ** max(attempts - 1, 0), self.retry_max_seconds)
        return dt.timedelta(seconds=seconds)


@dataclass
class Scheduler:
    """The registry the contexts' `jobs.py` fill in."""

    jobs: dict[str, Job] = field(default_factory=dict)

    def add(self, name: str, schedule: Schedule, run: Callable[[JobContext], Any], *, description: str = "",
            lease_seconds: int = 300, retry_base_seconds: int = 30, retry_max_seconds: int = 3600) -> Job:
        if name in self.jobs:
            raise ValueError(f"job {name} is registered twice")
        job = Job(name, schedule, run, description, lease_seconds, retry_base_seconds, retry_max_seconds)
        self.jobs[name] = job
        return job

    def get(self, name: str) -> Job:
        try:
            return self.jobs[name]
        except KeyError:
            raise NotFound(f"No job named {name}; known: {', '.join(sorted(self.jobs)) or 'none'}") from None


@dataclass(frozen=True)
class JobRun:
    name: str
    succeeded: bool
    result: str | None
    error: str | None
    duration_ms: int
    next_run_at: dt.datetime


def runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{new_ulid()[-6:]}"


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.timezone.utc) if value is not None and value.tzinfo is None else value


def sync_jobs(db: Database, scheduler: Scheduler, *, now: dt.datetime | None = None) -> None:
    """A row for every registered job (due at once when new); the schedule text follows the code.
    Reads first: a pass with nothing to change takes no write lock (SQLite has one for all)."""
    now = now or utcnow()
    with db.read_sessions() as s:
        known = dict(s.execute(sa.select(ScheduledJob.name, ScheduledJob.schedule)).all())
    todo = [job for job in scheduler.jobs.values() if known.get(job.name) != str(job.schedule)]
    if not todo:
        return
    with db.write_sessions() as s:
        for job in todo:
            row = s.get(ScheduledJob, job.name)
            if row is None:
                s.add(ScheduledJob(name=job.name, schedule=str(job.schedule), enabled=True, next_run_at=now,
                                   attempts=0, updated_at=now))
            else:
                row.schedule, row.updated_at = str(job.schedule), now
        try:
            s.commit()
        except IntegrityError:  # another runner inserted the same rows a moment ago
            s.rollback()


def _claim(db: Database, job: Job, owner: str, now: dt.datetime, *, force: bool) -> bool:
    """The conditional UPDATE that makes one runner the job's only runner until the lease ends."""
    t = ScheduledJob.__table__
    free = sa.or_(t.c.lease_owner.is_(None), t.c.lease_expires_at <= now)
    due = sa.true() if force else sa.and_(t.c.enabled.is_(True), t.c.next_run_at <= now)
    with db.write_sessions() as s:
        claimed = s.execute(sa.update(t).where(t.c.name == job.name, free, due).values(
            lease_owner=owner, lease_expires_at=now + dt.timedelta(seconds=job.lease_seconds), updated_at=now))
        s.commit()
    return claimed.rowcount == 1


def _keep_lease(db: Database, job: Job, owner: str, stop: threading.Event) -> None:
    """Pushes the lease out while a long run is in flight (relative to the lease itself, so it
    follows whatever clock the run was claimed with)."""
    t = ScheduledJob.__table__
    step = dt.timedelta(seconds=job.lease_seconds / 3)
    while not stop.wait(step.total_seconds()):
        try:
            with db.write_sessions() as s:
                # computed here, not in SQL: SQLite keeps these timestamps as text
                current = s.scalar(sa.select(t.c.lease_expires_at).where(t.c.name == job.name, t.c.lease_owner == owner))
                if current is None:
                    return  # the lease was taken over; the run's result will not be recorded either
                s.execute(sa.update(t).where(t.c.name == job.name, t.c.lease_owner == owner)
                          .values(lease_expires_at=current + step))
                s.commit()
        except Exception:  # the next beat tries again; the lease is long enough for a missed one
            log.exception("could not extend the lease of job %s", job.name)


def _describe(result: Any) -> str | None:
    if result is None:
        return None
    return str(result)[:500]


def _run_claimed(db: Database, job: Job, owner: str, now: dt.datetime, settings: Any) -> JobRun:
    stop = threading.Event()
    keeper = threading.Thread(target=_keep_lease, args=(db, job, owner, stop), name=f"merx-job-lease-{job.name}",
                              daemon=True)
    keeper.start()
    started = time.perf_counter()
    error: str | None = None
    result = None
    try:
        result = job.run(JobContext(db=db, settings=settings, now=now, job=job.name))
    except Exception as e:  # a failing job is recorded and retried with backoff, never fatal to the runner
        log.exception("job %s failed", job.name)
        error = f"{type(e).__name__}: {e}"[:2000]
    finally:
        stop.set()
        keeper.join()
    duration_ms = int((time.perf_counter() - started) * 1000)
    t = ScheduledJob.__table__
    with db.write_sessions() as s:
        attempts = s.scalar(sa.select(t.c.attempts).where(t.c.name == job.name)) or 0
        if error is None:
            next_run, values = job.schedule.next_after(now), {"attempts": 0, "last_status": "succeeded",
                                                               "last_error": None, "last_result": _describe(result)}
        else:
            next_run = now + job.retry_delay(attempts + 1)
            values = {"attempts": attempts + 1, "last_status": "failed", "last_error": error, "last_result": None}
        # fenced: a runner whose lease was taken over (it ran past it) does not overwrite the new runner's row
        s.execute(sa.update(t).where(t.c.name == job.name, t.c.lease_owner == owner).values(
            next_run_at=next_run, lease_owner=None, lease_expires_at=None, last_run_at=now,
            last_duration_ms=duration_ms, updated_at=utcnow(), **values))
        s.commit()
    return JobRun(job.name, error is None, _describe(result), error, duration_ms, next_run)


def run_due_jobs(db: Database, scheduler: Scheduler, *, now: dt.datetime | None = None, owner: str | None = None,
                 settings: Any = None) -> list[JobRun]:
    """Run every enabled job that is due and not leased by another runner; returns the runs."""
    now = now or utcnow()
    owner = owner or runner_id()
    settings = settings or settings_of(db)
    sync_jobs(db, scheduler, now=now)
    t = ScheduledJob.__table__
    with db.read_sessions() as s:
        due = list(s.scalars(sa.select(t.c.name).where(
            t.c.enabled.is_(True), t.c.next_run_at <= now,
            sa.or_(t.c.lease_owner.is_(None), t.c.lease_expires_at <= now)).order_by(t.c.next_run_at, t.c.name)))
    runs = []
    for name in due:
        job = scheduler.jobs.get(name)
        if job is None:  # a row left by a job no longer registered (code removed it)
            continue
        if _claim(db, job, owner, now, force=False):
            runs.append(_run_claimed(db, job, owner, now, settings))
    return runs


def run_job_now(db: Database, scheduler: Scheduler, name: str, *, now: dt.datetime | None = None,
                owner: str | None = None, settings: Any = None) -> JobRun:
    """Run one job at once, whatever its next run time (`merx jobs run`, the console's button).
    Refused with 409 while another runner holds its lease."""
    job = scheduler.get(name)
    now = now or utcnow()
    owner = owner or runner_id()
    sync_jobs(db, scheduler, now=now)
    if not _claim(db, job, owner, now, force=True):
        raise Conflict(f"Job {name} is running elsewhere right now; try again when it finishes", type_slug="job-running")
    return _run_claimed(db, job, owner, now, settings or settings_of(db))


def set_enabled(db: Database, scheduler: Scheduler, name: str, enabled: bool) -> None:
    scheduler.get(name)
    sync_jobs(db, scheduler)
    t = ScheduledJob.__table__
    with db.write_sessions() as s:
        s.execute(sa.update(t).where(t.c.name == name).values(enabled=enabled, updated_at=utcnow()))
        s.commit()


def job_statuses(db: Database, scheduler: Scheduler | None = None) -> list[dict[str, Any]]:
    """Every job's row for the listing (`merx jobs list`, `/console/jobs`), by name."""
    with db.read_sessions() as s:
        rows = list(s.scalars(sa.select(ScheduledJob).order_by(ScheduledJob.name)))
    known = scheduler.jobs if scheduler is not None else {}
    return [{"name": r.name, "schedule": r.schedule, "enabled": r.enabled, "registered": r.name in known,
             "description": known[r.name].description if r.name in known else "",
             "next_run_at": _aware(r.next_run_at), "last_run_at": _aware(r.last_run_at),
             "last_duration_ms": r.last_duration_ms, "last_status": r.last_status, "last_result": r.last_result,
             "last_error": r.last_error, "attempts": r.attempts, "running": r.lease_owner is not None,
             "lease_owner": r.lease_owner, "lease_expires_at": _aware(r.lease_expires_at)} for r in rows]


def run_scheduler_loop(db: Database, scheduler: Scheduler, stop: threading.Event, *, poll_seconds: float = 5.0,
                       owner: str | None = None) -> None:
    """Blocking loop for `merx worker` and `merx serve`'s embedded worker: run due jobs, wait,
    repeat until `stop` is set. A broken pass (database restart) is logged and retried."""
    owner = owner or runner_id()
    while not stop.is_set():
        try:
            for run in run_due_jobs(db, scheduler, owner=owner):
                if run.succeeded:
                    log.debug("job %s done in %d ms: %s", run.name, run.duration_ms, run.result)
                else:
                    log.warning("job %s failed: %s (next try %s)", run.name, run.error, run.next_run_at.isoformat())
        except Exception:  # the loop outlives a database hiccup; the next pass tries again
            log.exception("scheduler pass failed")
        stop.wait(poll_seconds)


def start_scheduler_thread(db: Database, scheduler: Scheduler, *, poll_seconds: float = 5.0) -> tuple[threading.Thread,
                                                                                                   threading.Event]:
    """The loop on a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    thread = threading.Thread(target=run_scheduler_loop, args=(db, scheduler, stop),
                              kwargs={"poll_seconds": poll_seconds}, name="merx-scheduler", daemon=True)
    thread.start()
    return thread, stop

