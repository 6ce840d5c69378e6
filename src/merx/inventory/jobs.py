"""Inventory's timed work: releasing holds whose time to live has passed."""

from __future__ import annotations

from merx.core.jobs import JobContext, Scheduler, every
from merx.core.uow import UnitOfWork
from merx.inventory import holds
from merx.inventory.settings import get_inventory_settings


def release_expired_holds(ctx: JobContext) -> str:
    with UnitOfWork(ctx.db) as uow:
        owners = holds.sweep_expired(uow, now=ctx.now)
    return f"released the holds of {len(owners)} owners"


def register(scheduler: Scheduler) -> None:
    interval = get_inventory_settings().reservation_sweep_interval_seconds
    if interval > 0:
        scheduler.add("inventory.release_expired_holds", every(interval), release_expired_holds,
                      description="Give back the stock of holds whose time to live has passed.")
