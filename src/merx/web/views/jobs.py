"""Console jobs: every scheduled job with its last run, next run and last error, and a button
to run one now (core/jobs.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from merx.core import jobs
from merx.core.auth import Role
from merx.core.errors import Problem
from merx.web.common import PageRoute, console_user, csrf_form, problem_sentence, redirect, render

router = APIRouter(route_class=PageRoute)
JOBS_ROLES = (Role.admin, Role.staff)


@router.get("/console/jobs")
def jobs_page(request: Request) -> Response:
    me = console_user(request, *JOBS_ROLES)
    db, scheduler = request.app.state.db, request.app.state.scheduler
    jobs.sync_jobs(db, scheduler)
    return render(request, "console/jobs.html", {"jobs": jobs.job_statuses(db, scheduler)}, principal=me)


@router.post("/console/jobs/run")
def run_now(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *JOBS_ROLES)
    name = str(form.get("name", ""))
    try:
        run = jobs.run_job_now(request.app.state.db, request.app.state.scheduler, name,
                               owner=f"console:{me.user_id}:{jobs.runner_id()}")
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect("/console/jobs", flash=f"Not run: {problem_sentence(e)}")
    if run.succeeded:
        return redirect("/console/jobs", flash=f"{name} ran in {run.duration_ms} ms: {run.result or 'done'}.")
    return redirect("/console/jobs", flash=f"{name} failed: {run.error}")
