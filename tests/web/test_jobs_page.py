"""The console's jobs page over the real ASGI app: last run, next run and last error of every
job, a CSRF-protected "run now" button, admin and staff only."""

from __future__ import annotations

import html
import re

import pytest

from merx.core.jobs import JobContext, run_due_jobs

PASSWORD = "correct horse battery"


def _token(page_html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page_html)
    assert found, "the page carries a CSRF token"
    return found.group(1)


def _signed_in(client, email: str):  # type: ignore[no-untyped-def]
    login = client.get("/console/login")
    r = client.post("/console/login", data={"email": email, "password": PASSWORD, "csrf_token": _token(login.text),
                                            "next": "/console"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


def _row(page_html: str, name: str) -> str:
    """The text of the table row of job `name`."""
    row = next(r for r in re.findall(r"<tr>(.*?)</tr>", page_html, re.S) if f"<code>{name}</code>" in r)
    return html.unescape(re.sub(r"<[^>]+>", " ", row))


@pytest.mark.backends("sqlite", "postgresql")
def test_jobs_page_shows_the_last_error_and_runs_a_job_now(client, shop, db):
    calls: list[str] = []

    def reconcile(ctx: JobContext) -> str:
        calls.append(ctx.job)
        if len(calls) == 1:
            raise ConnectionError("ledger service refused the connection")
        return "reconciled 3 payouts"

    scheduler = client.app.state.scheduler
    scheduler.add("test.reconcile", scheduler.jobs["orders.expire_checkouts"].schedule, reconcile,
                  description="Reconcile payouts with the ledger.")
    try:
        [failed] = [r for r in run_due_jobs(db, scheduler) if r.name == "test.reconcile"]
        assert not failed.succeeded
        _signed_in(client, shop.users["staff"])
        page = client.get("/console/jobs")
        assert page.status_code == 200
        row = _row(page.text, "test.reconcile")
        assert "ConnectionError: ledger service refused the connection" in row and "failed" in row
        assert "every 60s" in _row(page.text, "orders.expire_unpaid_orders")
        assert 'href="/console/jobs"' in page.text  # in the navigation

        # without the form's CSRF token the button does nothing
        forged = client.post("/console/jobs/run", data={"name": "test.reconcile"}, follow_redirects=False)
        assert forged.status_code == 403 and len(calls) == 1
        ran = client.post("/console/jobs/run", data={"name": "test.reconcile", "csrf_token": _token(page.text)})
        assert ran.status_code == 200 and "test.reconcile ran in" in html.unescape(ran.text)
        assert len(calls) == 2
        row = _row(client.get("/console/jobs").text, "test.reconcile")
        assert "reconciled 3 payouts" in row and "ConnectionError" not in row and "succeeded" in row
    finally:
        del scheduler.jobs["test.reconcile"]


def test_jobs_page_is_for_admin_and_staff_only(client, shop):
    _signed_in(client, shop.users["support_agent"])
    assert client.get("/console/jobs").status_code == 403
    page_of_orders = client.get("/console/orders")
    assert client.post("/console/jobs/run", data={"name": "orders.expire_checkouts",
                                                  "csrf_token": _token(page_of_orders.text)}).status_code == 403
