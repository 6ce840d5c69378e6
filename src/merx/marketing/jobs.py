"""Marketing's timed work: prepare campaign batches, move journeys on, send due messages.
Each is safe to run twice (leases, idem keys, conditional claims) and takes the time from
`ctx.now`, so tests run them with a controlled clock."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from merx.core.db import Database
from merx.core.jobs import JobContext, Scheduler, every
from merx.core.uow import UnitOfWork
from merx.marketing import campaigns, journeys, sending


def prepare_campaigns(db: Database, now: dt.datetime, *, time_budget: float = 60.0) -> int:
    """Prepares due campaigns batch by batch (one transaction each) for up to `time_budget` s."""
    started = time.monotonic()
    done = 0
    with UnitOfWork(db) as uow:
        due = campaigns.due_campaigns(uow, now)
    for cid in due:
        while time.monotonic() - started < time_budget:
            with UnitOfWork(db) as uow:
                n = campaigns.prepare_batch(uow, cid, now)
            done += n
            if n == 0:
                break
    return done


def advance_journeys(db: Database, now: dt.datetime) -> dict[str, int]:
    with UnitOfWork(db) as uow:
        journeys.ensure_built_in(uow)
        journeys.enrol_segments(uow, now)
        journeys.enrol_browsers(uow, now)
        uow.commit()
    total = {"queued": 0, "exited": 0, "completed": 0}
    while True:
        with UnitOfWork(db) as uow:
            counts = journeys.advance(uow, now)
        for k, v in counts.items():
            total[k] += v
        if sum(counts.values()) == 0:
            return total


def _campaigns(ctx: JobContext) -> str:
    return f"prepared {prepare_campaigns(ctx.db, ctx.now)} campaign recipients"


def _journeys(ctx: JobContext) -> str:
    return str(advance_journeys(ctx.db, ctx.now))


def _send(ctx: JobContext) -> Any:
    return str(sending.dispatch_until_idle(ctx.db, now=ctx.now, settings=ctx.settings, max_batches=20))


def register(scheduler: Scheduler) -> None:
    scheduler.add("marketing.campaigns", every(30), _campaigns,
                  description="Start scheduled campaigns and prepare their messages in batches (resumable).")
    scheduler.add("marketing.journeys", every(60), _journeys,
                  description="Move journey enrolments whose wait is over: queue their message or exit them.")
    scheduler.add("marketing.send", every(5), _send, lease_seconds=600,
                  description="Send due messages (windows, quiet hours, caps and consent checked at send time).")
