"""Orders' timed work: lapsed checkouts, stranded pending orders and unaccepted pay-later guest
orders (orders/expiry.py)."""

from __future__ import annotations

from merx.core.jobs import JobContext, Scheduler, every
from merx.core.uow import UnitOfWork
from merx.orders import expiry
from merx.orders.settings import get_orders_settings


def expire_checkouts(ctx: JobContext) -> str:
    with UnitOfWork(ctx.db) as uow:
        return f"reopened {expiry.expire_checkouts(uow, ctx.now)} carts"


def expire_unpaid_orders(ctx: JobContext) -> str:
    with UnitOfWork(ctx.db) as uow:
        done = expiry.expire_unpaid_orders(uow, ctx.now)
    return (f"cancelled {done['stranded_pending']} stranded pending orders and {done['guest_holds']} pay-later guest "
            f"orders; retried {done['voids_retried']} voids")


def register(scheduler: Scheduler) -> None:
    interval = every(get_orders_settings().expiry_job_seconds)
    scheduler.add("orders.expire_checkouts", interval, expire_checkouts,
                  description="Reopen carts whose checkout hold lapsed and release their stock.")
    scheduler.add("orders.expire_unpaid_orders", interval, expire_unpaid_orders,
                  description="Cancel and void pending orders stranded past the hold time, and guests' pay-later "
                              "orders not accepted before their hold expired.")
