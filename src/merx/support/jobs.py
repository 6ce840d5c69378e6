"""Support's timed work: SLA warnings and breaches, sending queued mail (the safety net
behind the after-commit send), and NPS surveys on their schedule."""

from __future__ import annotations

from merx.core.jobs import JobContext, Scheduler, every


def sla_check(ctx: JobContext) -> dict:
    from merx.support import sla

    return sla.check(ctx.db, ctx.now)


def send_mail(ctx: JobContext) -> dict:
    from merx.support import mailout

    return mailout.send_pending(ctx.db, ctx.settings, now=ctx.now)


def nps_surveys(ctx: JobContext) -> dict:
    from merx.support import feedback

    return feedback.run_due_surveys(ctx.db, now=ctx.now)


def register(scheduler: Scheduler) -> None:
    scheduler.add("support.sla_check", every(60), sla_check,
                  description="Emit SLA warnings and breaches for open tickets whose business-hours targets are near "
                              "or past.")
    scheduler.add("support.send_mail", every(30), send_mail,
                  description="Send queued support mail (replies, CSAT and NPS invitations) that the after-commit "
                              "send did not deliver; failed attempts are retried with backoff.")
    scheduler.add("support.nps_surveys", every(3600), nps_surveys,
                  description="Invite each NPS survey's segment when the survey is due.")
