"""Integration's timed work: connector pulls, watched folders and order exports."""

from __future__ import annotations

from merx.core.jobs import JobContext, Scheduler, every
from merx.integration.settings import get_integration_settings


def run_connectors(ctx: JobContext) -> str:
    from merx.integration.connectors.scheduler import run_due

    done = run_due(ctx.db, get_integration_settings().relay_gap_timeout_seconds)
    return "; ".join(done) if done else "nothing due"


def register(scheduler: Scheduler) -> None:
    scheduler.add("integration.connectors", every(get_integration_settings().connector_poll_seconds), run_connectors,
                  description="Run due connector pulls, import files dropped into watched folders, export new orders.")
