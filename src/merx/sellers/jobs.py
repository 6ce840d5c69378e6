"""Timed work of the sellers context: acceptance deadlines (and refunds to retry), weekly
payout cycles, and the nightly seller ratings."""

from __future__ import annotations

from merx.core.auth import SYSTEM
from merx.core.jobs import JobContext, Scheduler, daily, every
from merx.core.uow import UnitOfWork


def expire_acceptance(ctx: JobContext) -> str:
    from merx.sellers.seller_orders import expire_overdue, refund_pending_lines

    with UnitOfWork(ctx.db, actor=SYSTEM) as uow:
        expired = expire_overdue(uow, ctx.now)
        refunded = refund_pending_lines(uow)
    return f"expired {expired} lines; settled {refunded} refunds"


def payout_cycle(ctx: JobContext) -> str:
    from merx.sellers.payouts import run_due_cycle

    with UnitOfWork(ctx.db, actor=SYSTEM) as uow:
        return run_due_cycle(uow, ctx.now)


def seller_ratings(ctx: JobContext) -> str:
    from merx.sellers.rating import recompute_all

    with UnitOfWork(ctx.db, actor=SYSTEM) as uow:
        return f"rated {recompute_all(uow, ctx.now)} sellers"


def register(scheduler: Scheduler) -> None:
    scheduler.add("sellers.expire_acceptance", every(60), expire_acceptance,
                  description="Expire seller order lines not accepted by their deadline (cancel and refund them) "
                              "and retry refunds the payment provider refused.")
    scheduler.add("sellers.payout_cycle", daily("03:00"), payout_cycle,
                  description="Close last week's payout cycle (ending Monday 00:00 UTC) once: pay each seller's "
                              "positive balance, carry negative ones.")
    scheduler.add("sellers.ratings", daily("04:00"), seller_ratings,
                  description="Recompute every seller's rating over the rolling 90-day window; search re-ranks "
                              "their products.")
