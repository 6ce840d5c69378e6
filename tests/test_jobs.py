"""The scheduler (core/jobs.py): one runner at a time per job across processes, at least once
when a runner dies, retries with backoff, and the last error visible in `merx jobs list`.
Runs take `now=`: nothing here sleeps or waits on the wall clock."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from merx.core.db import Database
from merx.core.errors import Conflict
from merx.core.jobs import JobContext, Scheduler, daily, every, job_statuses, run_due_jobs, run_job_now, set_enabled

T0 = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.timezone.utc)


class RunnerDied(BaseException):
    """Stands for the process being killed mid-job: nothing after it runs, not even `except Exception`."""


def merx(*args: str, db: Database, tmp_path: Path) -> subprocess.CompletedProcess:
    """The `merx` command as an operator runs it, against the test's database."""
    env = {**os.environ, "MERX_DATABASE_URL": db.url, "MERX_DATA_DIR": str(tmp_path), "MERX_LOG_LEVEL": "WARNING"}
    return subprocess.run([str(Path(sys.executable).parent / "merx"), *args], env=env, capture_output=True, text=True,
                          timeout=120)


def _status(db: Database, name: str) -> dict:
    return {j["name"]: j for j in job_statuses(db)}[name]


@pytest.mark.backends("sqlite", "postgresql")
def test_two_runners_on_two_database_handles_never_run_a_job_at_once(db):
    other = Database(db.url)  # a second process's engine on the same database
    started, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def blocking(ctx: JobContext) -> str:
        ran.append(ctx.job)
        started.set()
        assert release.wait(30), "the test never released the job"
        return "done"

    scheduler = Scheduler()
    scheduler.add("test.blocking", every(60), blocking)
    first: list = []
    runner = threading.Thread(target=lambda: first.extend(run_due_jobs(db, scheduler, now=T0, owner="runner-a")))
    runner.start()
    try:
        assert started.wait(30)
        # while runner A holds the lease, runner B finds nothing to run, and "run now" is refused
        assert run_due_jobs(other, scheduler, now=T0, owner="runner-b") == []
        with pytest.raises(Conflict):
            run_job_now(other, scheduler, "test.blocking", now=T0, owner="runner-b")
        assert _status(other, "test.blocking")["lease_owner"] == "runner-a"
    finally:
        release.set()
        runner.join(30)
        other.dispose()
    assert ran == ["test.blocking"]
    assert [(r.name, r.succeeded, r.result) for r in first] == [("test.blocking", True, "done")]
    row = _status(db, "test.blocking")
    assert row["lease_owner"] is None and row["last_status"] == "succeeded"
    assert row["next_run_at"] == T0 + dt.timedelta(seconds=60)


@pytest.mark.backends("sqlite", "postgresql")
def test_a_job_whose_runner_died_runs_again_once_the_lease_expires(db):
    calls: list[dt.datetime] = []

    def dies_first_time(ctx: JobContext) -> str:
        calls.append(ctx.now)
        if len(calls) == 1:
            raise RunnerDied()
        return "second runner finished it"

    scheduler = Scheduler()
    scheduler.add("test.crashy", every(60), dies_first_time, lease_seconds=120)
    with pytest.raises(RunnerDied):
        run_due_jobs(db, scheduler, now=T0, owner="doomed")
    # the dead runner's lease still stands: nobody runs the job twice at once
    assert run_due_jobs(db, scheduler, now=T0 + dt.timedelta(seconds=119), owner="survivor") == []
    runs = run_due_jobs(db, scheduler, now=T0 + dt.timedelta(seconds=121), owner="survivor")
    assert [(r.name, r.succeeded) for r in runs] == [("test.crashy", True)]
    assert len(calls) == 2
    assert _status(db, "test.crashy")["lease_owner"] is None


@pytest.mark.backends("sqlite", "postgresql")
def test_a_failing_job_is_retried_with_exponential_backoff_and_its_error_is_listed(db, tmp_path):
    outcomes = ["fail", "fail", "ok"]

    def flaky(ctx: JobContext) -> str:
        if outcomes.pop(0) == "fail":
            raise RuntimeError("upstream answered 503")
        return "recovered"

    scheduler = Scheduler()
    scheduler.add("test.flaky", every(3600), flaky, retry_base_seconds=30)
    [first] = run_due_jobs(db, scheduler, now=T0)
    assert not first.succeeded and first.error == "RuntimeError: upstream answered 503"
    row = _status(db, "test.flaky")
    assert row["attempts"] == 1 and row["next_run_at"] == T0 + dt.timedelta(seconds=30)
    assert row["last_error"] == "RuntimeError: upstream answered 503"

    listed = merx("jobs", "list", db=db, tmp_path=tmp_path)
    assert listed.returncode == 0, listed.stderr
    line = next(ln for ln in listed.stdout.splitlines() if "test.flaky" in ln)
    assert "RuntimeError: upstream answered 503" in line and "failed" in line

    assert run_due_jobs(db, scheduler, now=T0 + dt.timedelta(seconds=29)) == []  # backing off
    [second] = run_due_jobs(db, scheduler, now=T0 + dt.timedelta(seconds=30))
    assert not second.succeeded
    retry_at = T0 + dt.timedelta(seconds=30 + 60)  # the wait doubles after the second failure
    assert _status(db, "test.flaky")["next_run_at"] == retry_at and _status(db, "test.flaky")["attempts"] == 2
    assert run_due_jobs(db, scheduler, now=retry_at - dt.timedelta(seconds=1)) == []
    [third] = run_due_jobs(db, scheduler, now=retry_at)
    assert third.succeeded and third.result == "recovered"
    row = _status(db, "test.flaky")
    assert row["attempts"] == 0 and row["last_error"] is None and row["last_status"] == "succeeded"
    assert row["next_run_at"] == retry_at + dt.timedelta(seconds=3600)  # back on its schedule


def test_merx_jobs_run_runs_a_registered_job_now_and_names_unknown_ones(db, tmp_path):
    done = merx("jobs", "run", "orders.expire_unpaid_orders", db=db, tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "orders.expire_unpaid_orders: succeeded" in done.stdout
    assert "cancelled 0 stranded pending orders" in done.stdout
    assert _status(db, "orders.expire_unpaid_orders")["last_status"] == "succeeded"
    unknown = merx("jobs", "run", "no.such.job", db=db, tmp_path=tmp_path)
    assert unknown.returncode == 2 and "No job named no.such.job" in unknown.stderr


def test_a_disabled_job_waits_and_a_daily_job_runs_at_its_time(db):
    ran: list[dt.datetime] = []
    scheduler = Scheduler()
    scheduler.add("test.nightly", daily("03:00"), lambda ctx: ran.append(ctx.now))
    [first] = run_due_jobs(db, scheduler, now=T0)  # new jobs run once at once, then keep their time
    assert first.next_run_at == dt.datetime(2026, 12, 4, 3, 0, tzinfo=dt.timezone.utc)
    set_enabled(db, scheduler, "test.nightly", False)
    assert run_due_jobs(db, scheduler, now=first.next_run_at) == []
    set_enabled(db, scheduler, "test.nightly", True)
    [second] = run_due_jobs(db, scheduler, now=first.next_run_at)
    assert second.next_run_at == dt.datetime(2026, 12, 5, 3, 0, tzinfo=dt.timezone.utc)
    assert ran == [T0, first.next_run_at]
