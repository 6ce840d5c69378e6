"""The scheduler's sales work (task reminders, renewal reminders, expiry), the pipeline report
(weighted value, forecast by month, conversion and time in stage) and quote revisions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa

from sales_helpers import person, product


def _events(db, type_):
    from merx.core.models import OutboxEvent

    with db.read_sessions() as s:
        return [e.payload for e in s.scalars(sa.select(OutboxEvent).where(OutboxEvent.type == type_)
                                             .order_by(OutboxEvent.seq))]


def test_task_reminders_come_once_when_due(client, db):
    from merx.app import build_scheduler
    from merx.core.jobs import run_job_now

    rep = person(db, "sales_rep", "Rob")
    due = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3)
    r = client.post("/api/v1/activities", headers=rep.headers, json={
        "kind": "task", "subject": "Call back: did the seedlings take root?", "due_at": due.isoformat()})
    assert r.status_code == 201, r.text
    task = r.json()
    scheduler = build_scheduler()
    run_job_now(db, scheduler, "sales.task_reminders", now=due - dt.timedelta(hours=1))
    assert _events(db, "task.reminder_due") == []
    run_job_now(db, scheduler, "sales.task_reminders", now=due + dt.timedelta(minutes=1))
    run_job_now(db, scheduler, "sales.task_reminders", now=due + dt.timedelta(minutes=10))
    assert [e["activity_id"] for e in _events(db, "task.reminder_due")] == [task["id"]]
    # overdue on the rep's list once past due; done takes it off
    assert client.post(f"/api/v1/activities/{task['id']}/complete", headers=rep.headers).json()["done_at"]
    assert client.get("/api/v1/activities", params={"open_tasks": True}, headers=rep.headers).json()["items"] == []
    r = client.post("/api/v1/activities", headers=rep.headers, json={"kind": "visit", "subject": "Visit"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "location"


def test_renewal_reminder_then_expiry_or_auto_renewal(client, db):
    from merx.app import build_scheduler
    from merx.core.jobs import run_job_now

    rep = person(db, "sales_rep", "Rob")
    acc = client.post("/api/v1/accounts", headers=rep.headers, json={"name": "Renew Co"}).json()
    today = dt.datetime.now(dt.timezone.utc).date()
    base = [{"kind": "payment_terms", "days": 30}, {"kind": "delivery_terms", "days": 5},
            {"kind": "liability", "cap": {"currency": "EUR", "amount": "1000.00"}},
            {"kind": "penalty", "percent_per_week": "1"}]
    ids = {}
    for name, renewal in (("ends", {"kind": "renewal", "auto_renew": False, "days": 20}),
                          ("renews", {"kind": "renewal", "auto_renew": True, "days": 20})):
        c = client.post("/api/v1/contracts", headers=rep.headers, json={
            "title": name, "account_id": acc["id"], "starts_on": (today - dt.timedelta(days=100)).isoformat(),
            "ends_on": (today + dt.timedelta(days=30)).isoformat(), "clauses": base + [renewal]}).json()
        for status in ("review", "signed", "active"):
            assert client.post(f"/api/v1/contracts/{c['id']}/status", json={"status": status},
                               headers=rep.headers).status_code == 200
        ids[name] = c["id"]
    scheduler = build_scheduler()
    now = dt.datetime.now(dt.timezone.utc)
    run_job_now(db, scheduler, "sales.contracts_daily", now=now + dt.timedelta(days=5))
    tasks = client.get("/api/v1/activities", params={"open_tasks": True}, headers=rep.headers).json()["items"]
    assert tasks == []  # 25 days before the end: not yet within the 20-day notice
    run_job_now(db, scheduler, "sales.contracts_daily", now=now + dt.timedelta(days=12))
    run_job_now(db, scheduler, "sales.contracts_daily", now=now + dt.timedelta(days=13))
    tasks = client.get("/api/v1/activities", params={"open_tasks": True}, headers=rep.headers).json()["items"]
    assert sorted(t["rule"] for t in tasks) == ["renewal_reminder", "renewal_reminder"]  # once per contract
    run_job_now(db, scheduler, "sales.contracts_daily", now=now + dt.timedelta(days=32))
    ends = client.get(f"/api/v1/contracts/{ids['ends']}", headers=rep.headers).json()
    renews = client.get(f"/api/v1/contracts/{ids['renews']}", headers=rep.headers).json()
    assert ends["status"] == "expired"
    assert renews["status"] == "active" and renews["ends_on"] > (today + dt.timedelta(days=30)).isoformat()


def test_pipeline_report_weights_forecast_and_conversion(client, db):
    rep = person(db, "sales_rep", "Rob")
    acc = client.post("/api/v1/accounts", headers=rep.headers, json={"name": "Pipe Co"}).json()

    def deal(amount, close):
        r = client.post("/api/v1/deals", headers=rep.headers, json={
            "title": "d", "account_id": acc["id"], "amount": {"currency": "EUR", "amount": amount},
            "expected_close": close})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    a, _, c = deal("1000.00", "2027-03-10"), deal("500.00", "2027-03-20"), deal("200.00", "2027-04-01")
    for stage in ("needs_analysis", "quote"):
        client.post(f"/api/v1/deals/{a}/move", json={"stage": stage}, headers=rep.headers)
    client.post(f"/api/v1/deals/{c}/move", json={"stage": "lost", "lost_reason": "budget"}, headers=rep.headers)
    report = client.get("/api/v1/deals/pipeline", headers=rep.headers).json()
    by_stage = {s["stage"]: s for s in report["by_stage"]}
    assert (by_stage["quote"]["amount"], by_stage["quote"]["weighted"]) == ("1000.00", "400.00")
    assert (by_stage["visit"]["amount"], by_stage["visit"]["weighted"]) == ("500.00", "50.00")
    # March: 1000 x 0.40 + 500 x 0.10; the lost deal is in no forecast
    assert report["forecast"] == [{"month": "2027-03", "pipeline": "1500.00", "weighted": "450.00"}]
    conv = {c["stage"]: c for c in report["conversion"]}
    assert (conv["visit"]["entered"], conv["visit"]["moved_on"]) == (3, 1)
    assert Decimal(conv["visit"]["conversion_percent"]) == Decimal("33.3")
    assert (conv["needs_analysis"]["entered"], conv["needs_analysis"]["moved_on"]) == (1, 1)


def test_a_revision_supersedes_the_sent_quote_and_its_link(client, db):
    rep = person(db, "sales_rep", "Rob")
    product(db, "SEED-1", "100.00")
    acc = client.post("/api/v1/accounts", headers=rep.headers, json={
        "name": "Rev Co", "contacts": [{"name": "R", "email": "r@rev.example"}]}).json()
    q = client.post("/api/v1/quotes", headers=rep.headers, json={
        "account_id": acc["id"], "lines": [{"sku": "SEED-1", "quantity": 1}]}).json()
    link = client.post(f"/api/v1/quotes/{q['id']}/send", headers=rep.headers).json()["accept_url"]
    token = link.rsplit("/", 1)[1]
    r = client.post(f"/api/v1/quotes/{q['id']}/revise", headers=rep.headers, json={
        "account_id": acc["id"], "lines": [{"sku": "SEED-1", "quantity": 2, "discount_percent": "5"}]})
    assert r.status_code == 201, r.text
    rev = r.json()
    assert (rev["number"], rev["revision"], rev["total"]["amount"]) == (q["number"], 2, "190.00")
    assert client.get(f"/api/v1/quotes/{q['id']}", headers=rep.headers).json()["status"] == "superseded"
    assert client.get(f"/api/v1/quote-links/{token}").status_code == 404
    assert client.post(f"/api/v1/quote-links/{token}/accept", json={"accepted_by": "x"}).status_code == 404

    # the revision is sent, then its validity passes unanswered: the daily pass expires it and its link
    from merx.app import build_scheduler
    from merx.core.jobs import run_job_now

    token = client.post(f"/api/v1/quotes/{rev['id']}/send", headers=rep.headers).json()["accept_url"].rsplit("/", 1)[1]
    valid_until = dt.date.fromisoformat(rev["valid_until"])
    at = dt.datetime.combine(valid_until, dt.time(6), tzinfo=dt.timezone.utc)
    run_job_now(db, build_scheduler(), "sales.contracts_daily", now=at)
    assert client.get(f"/api/v1/quote-links/{token}").json()["status"] == "sent"  # still valid that day
    run_job_now(db, build_scheduler(), "sales.contracts_daily", now=at + dt.timedelta(days=1))
    assert client.get(f"/api/v1/quotes/{rev['id']}", headers=rep.headers).json()["status"] == "expired"
    assert client.get(f"/api/v1/quote-links/{token}").status_code == 404
