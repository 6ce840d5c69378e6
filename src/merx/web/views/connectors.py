"""Console connectors: the list (searchable, paged), one connector with its import jobs, and
running it now: uploading a file through it, or running its configured source (an HTTP pull,
its watched folder, an outbound order export), as `POST /api/v1/connectors/{code}/imports`
and `/pull` and the worker's schedule do. The import runs in the request (the API's does
too) and the answer is its job's page: status, counts, and the rows it refused.

Running is admin-only, as the API's; staff read the lists and job pages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from merx.core.auth import Role
from merx.core.errors import NotFound, Problem
from merx.integration import public as integration
from merx.web.common import PageRoute, checked_form, console_user, problem_sentence, redirect, render, unit_of_work
from merx.web.views.listing import list_query

router = APIRouter(route_class=PageRoute)
READERS = (Role.admin, Role.staff)
RUNNERS = (Role.admin,)
PAGE_SIZE = 25
JOBS_PAGE = 20
ERRORS_SHOWN = 100  # the rest are in the CSV report
RUNNING_REFRESH_SECONDS = 3


def _source(c: Any) -> str | None:
    """What "Run now" does for this connector, in words (None: only an upload runs it)."""
    t = c.transport or {}
    if c.direction == "outbound":
        return "export the new orders" + (f" to {t['url']}" if t.get("url") else "")
    if t.get("url"):
        return f"pull {t['url']}"
    if t.get("folder"):
        return f"import the files waiting in {t['folder']}"
    return None


@router.get("/console/connectors")
def connectors_page(request: Request) -> Response:
    me = console_user(request, *READERS)
    lq = list_query(request)
    with unit_of_work(request, me, readonly=True) as uow:
        rows, next_cursor = integration.list_connectors(uow, limit=PAGE_SIZE, cursor=lq.cursor, q=lq.q)
    return render(request, "console/connectors.html",
                  {"rows": rows, "next_cursor": next_cursor, "lq": lq, "sources": {c.code: _source(c) for c in rows},
                   "can_run": me.role in RUNNERS}, principal=me)


@router.get("/console/connectors/{code}")
def connector_page(request: Request, code: str, cursor: str | None = None) -> Response:
    me = console_user(request, *READERS)
    with unit_of_work(request, me, readonly=True) as uow:
        connector = integration.get_connector(uow, code)
        jobs, next_cursor = integration.list_jobs(uow, code, limit=JOBS_PAGE, cursor=cursor or None, newest_first=True)
    return render(request, "console/connector.html",
                  {"c": connector, "jobs": jobs, "next_cursor": next_cursor, "source": _source(connector),
                   "can_run": me.role in RUNNERS}, principal=me)


@router.post("/console/connectors/{code}/run")
async def run_connector(request: Request, code: str) -> Response:
    """With a file: import it through the connector (`force` re-checks a file imported
    before). Without one: run the configured source."""
    form = await checked_form(request)
    me = console_user(request, *RUNNERS)
    back = f"/console/connectors/{code}"
    upload = form.get("file")
    db = request.app.state.db
    try:
        if upload is not None and hasattr(upload, "read") and getattr(upload, "filename", ""):
            content = await upload.read()
            if not content:
                return redirect(back, flash=f"Not run: {upload.filename} is empty.")
            job = await run_in_threadpool(integration.run_import, db, code, content, filename=upload.filename,
                                          source="upload", actor=me, force=form.get("force") == "on")
            return redirect(f"{back}/imports/{job.id}", flash=_finished(job))
        if form.get("source") != "configured":
            return redirect(back, flash="Not run: choose a file to upload.")
        done = await run_in_threadpool(integration.run_source_now, db, code)
    except NotFound:
        raise
    except Problem as e:
        if e.status >= 500 and e.status != 502:  # 502: the pulled address failed, which staff should read
            raise
        return redirect(back, flash=f"Not run: {problem_sentence(e)}")
    return redirect(f"{back}/imports/{done.job_id}" if done.job_id else back, flash=done.message)


def _finished(job: Any) -> str:
    if job.status == "duplicate":
        return f"Nothing imported: {job.message}."
    return (f"Import {job.id} {job.status}: {job.rows_total} rows, {job.rows_created} created, {job.rows_updated} "
            f"updated, {job.rows_unchanged} unchanged, {job.rows_failed} refused.")


@router.get("/console/connectors/{code}/imports/{job_id}")
def import_job_page(request: Request, code: str, job_id: int) -> Response:
    me = console_user(request, *READERS)
    with unit_of_work(request, me, readonly=True) as uow:
        connector = integration.get_connector(uow, code)
        job = integration.get_job(uow, code, job_id)
    return render(request, "console/connector_import.html",
                  {"c": connector, "job": job, "errors": job.errors[:ERRORS_SHOWN],
                   "refresh": RUNNING_REFRESH_SECONDS if job.status == "running" else None}, principal=me)
