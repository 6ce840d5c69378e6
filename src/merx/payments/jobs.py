"""Payments' timed work: the test gateway's delayed confirmations."""

from __future__ import annotations

import os

from merx.core.jobs import JobContext, Scheduler, every


def _delay() -> int:
    return int(os.environ.get("MERX_PAYMENTS_TESTCARD_DELAY_SECONDS", "5"))


def deliver_testcard_confirmations(ctx: JobContext) -> str:
    from merx.core.uow import UnitOfWork
    from merx.payments import gateway_pages

    with UnitOfWork(ctx.db) as uow:
        n = gateway_pages.deliver_delayed(uow, ctx.now, _delay())
    return f"{n} delayed test-card payments confirmed"


def register(scheduler: Scheduler) -> None:
    scheduler.add("payments.testcard_deliver", every(5), deliver_testcard_confirmations,
                  description="The test card gateway confirms delayed payments (card 4000 0000 0000 0077) by "
                              "signed webhook, MERX_PAYMENTS_TESTCARD_DELAY_SECONDS after checkout.")
