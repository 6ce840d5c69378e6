"""Contract risk from real facts: an account with late payments (orders placed through the orders
context, one paid through its API, two left unpaid past the terms) and a contract missing its
penalty clause. The score and its reasons equal an independent computation written here from the
documented method (docs/sales-risk.md); the warning event and the owner's task appear."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from sales_helpers import outbox_matches_published_schemas, person, product, warehouse_with_stock


def _place(db, who, customer_id, qty, role="sales_rep"):
    from merx.core.auth import Principal, Role
    from merx.core.uow import UnitOfWork
    from merx.orders import public as orders

    with UnitOfWork(db) as uow:
        return orders.place_order_at_prices(uow, customer_id=customer_id, currency="EUR",
                                            lines=[orders.PricedLine("SEED-1", qty, Decimal("100.00"))],
                                            placed_by=Principal(user_id=who.user_id, role=Role(role)))


def _account(client, who, name, email, **extra):
    r = client.post("/api/v1/accounts", headers=who.headers, json={
        "name": name, "payment_terms": "net30", "contacts": [{"name": name + " buyer", "email": email}], **extra})
    assert r.status_code == 201, r.text
    return r.json()


def _independent_score(totals, paid, placed_at, now, *, terms_days, credit_limit, other_revenue, late_milestones):
    """The method of docs/sales-risk.md, written out again for this test."""
    points = {}
    due = [p + dt.timedelta(days=terms_days) for p in placed_at]
    late = sum(1 for d, is_paid in zip(due, paid) if not is_paid and now > d)
    if late:
        points["overdue_history"] = min(30, 10 * late)
    days = [(now - p).total_seconds() / 86400 if not is_paid else 0.0 for p, is_paid in zip(placed_at, paid)]
    dso = sum(float(t) * d for t, d in zip(totals, days)) / float(sum(totals))
    if dso > terms_days + 15:
        points["days_sales_outstanding"] = 15
    elif dso > terms_days:
        points["days_sales_outstanding"] = 8
    open_amount = sum(t for t, is_paid in zip(totals, paid) if not is_paid)
    use = open_amount / credit_limit * 100
    if use > 100:
        points["credit_limit_use"] = 20
    elif use > 80:
        points["credit_limit_use"] = 10
    points["no_penalty_clause"] = 10  # the contract has none
    points["payment_terms_longer"] = 10  # 45 days against net 30
    if sum(totals) / (sum(totals) + other_revenue) * 100 > 25:
        points["concentration"] = 10
    if late_milestones:
        points["milestones_late"] = min(15, 5 * late_milestones)
    return points


@pytest.mark.backends("sqlite", "postgresql")
def test_late_payments_and_no_penalty_clause_raise_the_risk_with_its_reasons(client, db, admin):
    from merx.app import build_scheduler
    from merx.core.jobs import run_job_now
    from merx.core.models import OutboxEvent

    manager = person(db, "staff", "Mia Manager")
    rep = person(db, "sales_rep", "Rob Rep")
    product(db, "SEED-1", "100.00")
    warehouse_with_stock(client, admin, {"SEED-1": 100})
    risky = _account(client, rep, "Late Payer Ltd", "ap@late.example", credit_limit={"currency": "EUR", "amount": "450.00"})
    other = _account(client, manager, "Prompt Payer AG", "ap@prompt.example")

    orders = [_place(db, rep, risky["customer_id"], q) for q in (1, 2, 3)]
    _place(db, manager, other["customer_id"], 1, role="staff")
    r = client.post(f"/api/v1/orders/{orders[0]['id']}/capture", headers=admin)
    assert r.status_code == 200, r.text

    today = dt.datetime.now(dt.timezone.utc).date()
    r = client.post("/api/v1/contracts", headers=rep.headers, json={
        "title": "Seedlings supply 2027", "account_id": risky["id"], "value": {"currency": "EUR", "amount": "5000.00"},
        "starts_on": today.isoformat(), "ends_on": (today + dt.timedelta(days=365)).isoformat(),
        "clauses": [{"kind": "payment_terms", "days": 45}, {"kind": "delivery_terms", "days": 10, "incoterm": "DAP"},
                    {"kind": "liability", "cap": {"currency": "EUR", "amount": "5000.00"}}],
        "milestones": [{"kind": "delivery", "description": "first delivery",
                        "due_on": (today + dt.timedelta(days=10)).isoformat()}]})
    assert r.status_code == 201, r.text
    contract = r.json()
    for status in ("review", "signed", "active"):
        r = client.post(f"/api/v1/contracts/{contract['id']}/status", json={"status": status}, headers=rep.headers)
        assert r.status_code == 200, r.text

    # fifty days on, the daily job recomputes: two orders are now 20 days past their net-30 terms
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=50)
    run = run_job_now(db, build_scheduler(), "sales.contracts_daily", now=later)
    assert run.error is None, run.error
    got = client.get(f"/api/v1/contracts/{contract['id']}", headers=rep.headers).json()

    facts = [client.get(f"/api/v1/orders/{o['id']}", headers=admin).json() for o in orders]
    other_total = Decimal(client.get("/api/v1/orders", params={"customer_id": other["customer_id"]},
                                     headers=admin).json()["items"][0]["totals"]["total"])
    expected = _independent_score(
        [Decimal(f["totals"]["total"]) for f in facts], [f["payment"]["status"] == "captured" for f in facts],
        [dt.datetime.fromisoformat(f["created_at"]) for f in facts], later, terms_days=30,
        credit_limit=Decimal("450.00"), other_revenue=other_total, late_milestones=1)
    assert {r["factor"]: r["points"] for r in got["risk_reasons"]} == expected
    assert got["risk_score"] == min(100, sum(expected.values()))
    assert got["risk_level"] == "high"
    assert all(r["detail"] for r in got["risk_reasons"])  # every factor says why

    # the warnings: one event per level raised (medium when signed, high now), and a task each
    with db.read_sessions() as s:
        raised = [e.payload for e in s.scalars(sa.select(OutboxEvent).where(OutboxEvent.type == "contract.risk_raised")
                                               .order_by(OutboxEvent.seq))]
    assert [(e["level"], e["previous_level"]) for e in raised][-1] == ("high", "medium")
    assert {x["factor"] for x in raised[-1]["reasons"]} == set(expected)
    tasks = client.get("/api/v1/activities", params={"open_tasks": True}, headers=rep.headers).json()["items"]
    risk_tasks = [t for t in tasks if t["rule"] == "contract_risk"]
    assert any("high" in t["subject"] and t["owner_user_id"] == rep.user_id for t in risk_tasks)
    assert outbox_matches_published_schemas(db) >= {"contract.created", "contract.status_changed",
                                                    "contract.risk_raised", "order.paid"}


def test_signing_without_a_required_clause_is_refused_and_changes_nothing(client, db):
    rep = person(db, "sales_rep", "Rob Rep")
    acc = _account(client, rep, "Clause Co", "buyer@clause.example")
    r = client.post("/api/v1/contracts", headers=rep.headers, json={
        "title": "No liability", "account_id": acc["id"], "clauses": [{"kind": "payment_terms", "days": 30}],
        "milestones": [{"kind": "payment", "description": "deposit", "due_on": "2030-01-01"}]})
    cid = r.json()["id"]
    mid = r.json()["milestones"][0]["id"]
    done = client.post(f"/api/v1/contracts/{cid}/milestones/{mid}/complete", headers=rep.headers)
    assert done.status_code == 200 and done.json()["milestones"][0]["done_at"]
    assert client.post(f"/api/v1/contracts/{cid}/milestones/{mid}/complete", headers=rep.headers).status_code == 409
    r = client.put(f"/api/v1/contracts/{cid}/clauses", headers=rep.headers, json={"clauses": [
        {"kind": "payment_terms", "days": 30}, {"kind": "payment_terms", "days": 45}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "clauses"
    r = client.put(f"/api/v1/contracts/{cid}/clauses", headers=rep.headers, json={"clauses": [
        {"kind": "payment_terms", "days": 30}, {"kind": "penalty"}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "clauses[1].percent_per_week"
    assert client.post(f"/api/v1/contracts/{cid}/status", json={"status": "review"}, headers=rep.headers).status_code == 200
    r = client.post(f"/api/v1/contracts/{cid}/status", json={"status": "signed"}, headers=rep.headers)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert sorted(e["message"] for e in r.json()["errors"]) == ["delivery_terms clause is required",
                                                               "liability clause is required"]
    got = client.get(f"/api/v1/contracts/{cid}", headers=rep.headers).json()
    assert got["status"] == "review" and got["risk_score"] is None
    # an impossible move is a 409 naming the field
    r = client.post(f"/api/v1/contracts/{cid}/status", json={"status": "completed"}, headers=rep.headers)
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "status"
