"""Analytics' timed work: the abandonment scan (carts and browsing left without a purchase),
which emits `cart.abandoned` / `browse.abandoned` for marketing's reminders."""

from __future__ import annotations

from merx.core.jobs import JobContext, Scheduler, every
from merx.core.uow import UnitOfWork

SCAN_EVERY_SECONDS = 3600  # reminders go out within the hour; the scan reads every tracked event
ABANDONED_AFTER_HOURS = 24


def scan_abandonment(ctx: JobContext) -> dict:
    from merx.analytics import service

    with UnitOfWork(ctx.db) as uow:
        return service.abandonment_scan(uow, data_dir=ctx.settings.data_dir, hours=ABANDONED_AFTER_HOURS, now=ctx.now)


def register(scheduler: Scheduler) -> None:
    scheduler.add("analytics.abandonment_scan", every(SCAN_EVERY_SECONDS), scan_abandonment,
                  description=f"Record carts and browsing abandoned for {ABANDONED_AFTER_HOURS} h (emitting their "
                              "events) and credit recovered revenue.")
