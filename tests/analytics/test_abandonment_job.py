"""The abandonment scan runs as the scheduler's `analytics.abandonment_scan` job: a cart left
for more than a day is recorded once, on the job's clock."""

from __future__ import annotations

import datetime as dt

from merx.analytics.store import write_events_parquet
from merx.core.jobs import run_due_jobs, run_job_now


def test_the_abandonment_job_records_a_cart_left_for_a_day_once(db, client, admin, settings):
    left_at = dt.datetime(2026, 11, 2, 9, 0)
    write_events_parquet([
        {"customer_id": 51, "type": "add_to_cart", "occurred_at": left_at, "cart_id": "c1", "value": 18.0,
         "currency": "EUR"},
    ], settings.data_dir / "events")
    scheduler = client.app.state.scheduler
    utc = dt.timezone.utc

    run_job_now(db, scheduler, "analytics.abandonment_scan", now=left_at.replace(tzinfo=utc) + dt.timedelta(hours=23))
    assert client.get("/api/v1/analytics/abandonment", headers=admin).json()["carts"] == 0  # not a day yet
    runs = {r.name: r for r in run_due_jobs(db, scheduler, now=left_at.replace(tzinfo=utc) + dt.timedelta(hours=25))}

    assert "'cart': 1" in runs["analytics.abandonment_scan"].result
    report = client.get("/api/v1/analytics/abandonment", headers=admin).json()
    assert report["carts"] == 1 and report["items"][0]["customer_id"] == 51 and report["items"][0]["value"] == "18.00"
    run_job_now(db, scheduler, "analytics.abandonment_scan", now=left_at.replace(tzinfo=utc) + dt.timedelta(hours=30))
    assert client.get("/api/v1/analytics/abandonment", headers=admin).json()["carts"] == 1  # recorded once
