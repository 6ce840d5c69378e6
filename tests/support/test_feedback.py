"""CSAT after a solved ticket, NPS surveys to a segment on the scheduler (detractors open
tickets), follow-up tasks after a delivery, a return request ticket starting a return,
feedback statistics and the segment canvas."""

from __future__ import annotations

import pytest

import datetime as dt
import re

import sqlalchemy as sa

from merx.core.auth import SYSTEM
from merx.core.jobs import Scheduler, run_due_jobs
from merx.core.uow import UnitOfWork
from merx.support import jobs as support_jobs
from merx.support.models import OutgoingMail

from support_shop import delivered_order, product, stock, warehouse


def _tokens(db, purpose: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with db.read_sessions() as s:
        rows = s.execute(sa.select(OutgoingMail.to_address, OutgoingMail.body_text)
                         .where(OutgoingMail.purpose == purpose).order_by(OutgoingMail.id)).all()
    return [(to, re.search(r"/surveys/answers/(\S+)", body).group(1)) for to, body in rows]  # type: ignore[union-attr]


def _customer(db, email: str) -> int:  # type: ignore[no-untyped-def]
    from merx.customers.public import CustomerCreate, create_customer

    with UnitOfWork(db) as uow:
        return create_customer(uow, CustomerCreate(email=email)).id


@pytest.mark.backends("sqlite", "postgresql")
def test_solving_asks_for_a_rating_and_a_detractor_opens_a_complaint(client, make_key, db) -> None:
    agent = make_key("support_agent")
    r = client.post("/api/v1/tickets", json={"kind": "question", "subject": "Watering a fern", "body": "How often?",
                                             "channel": "phone", "requester_email": "ola@example.pl"}, headers=agent)
    assert r.status_code == 201, r.text
    ticket = r.json()
    assert ticket["messages"][0]["kind"] == "in"
    r = client.post(f"/api/v1/tickets/{ticket['id']}/replies", json={"body": "Twice a week.", "status": "solved"},
                    headers=agent)
    assert r.status_code == 201
    solved = client.get(f"/api/v1/tickets/{ticket['id']}", headers=agent).json()
    assert solved["status"] == "solved" and solved["solved_at"]
    [(to, token)] = _tokens(db, "csat")
    assert to == "ola@example.pl"
    # solving it again does not ask twice
    client.patch(f"/api/v1/tickets/{ticket['id']}", json={"status": "open"}, headers=agent)
    client.patch(f"/api/v1/tickets/{ticket['id']}", json={"status": "solved"}, headers=agent)
    assert len(_tokens(db, "csat")) == 1
    assert client.post(f"/api/v1/surveys/answers/{token}", json={"score": 9}).status_code == 422  # CSAT is 1-5
    r = client.post(f"/api/v1/surveys/answers/{token}", json={"score": 1, "comment": "Fern died anyway"})
    assert r.status_code == 200, r.text
    follow = r.json()["follow_up_ticket_id"]
    assert follow is not None
    complaint = client.get(f"/api/v1/tickets/{follow}", headers=agent).json()
    assert complaint["kind"] == "complaint" and complaint["tags"] == ["csat-detractor"]
    assert complaint["messages"][0]["body_text"] == "Fern died anyway"
    assert client.post(f"/api/v1/surveys/answers/{token}", json={"score": 5}).status_code == 409
    assert client.post("/api/v1/surveys/answers/not-a-token", json={"score": 5}).status_code == 404


def test_an_nps_survey_invites_its_segment_on_schedule(client, admin, make_key, db) -> None:
    from merx.crm.segments.service import save_static_segment

    ids = [_customer(db, f"n{i}@example.pl") for i in range(3)]
    with UnitOfWork(db) as uow:
        seg = save_static_segment(uow, name="Plant lovers", kind="static", customer_ids=ids[:2])
        uow.commit()
        seg_id = seg.id
    r = client.post("/api/v1/surveys", json={"name": "How are we doing?", "segment_id": seg_id, "every_days": 90},
                    headers=admin)
    assert r.status_code == 201, r.text
    survey_id = r.json()["id"]
    scheduler = Scheduler()
    support_jobs.register(scheduler)
    start = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)
    run_due_jobs(db, scheduler, now=start)
    invitations = _tokens(db, "nps")
    assert sorted(to for to, _ in invitations) == ["n0@example.pl", "n1@example.pl"]
    run_due_jobs(db, scheduler, now=start + dt.timedelta(days=2))  # not due again yet
    assert len(_tokens(db, "nps")) == 2
    scores = {"n0@example.pl": 10, "n1@example.pl": 3}
    follow_ups = []
    for to, token in invitations:
        r = client.post(f"/api/v1/surveys/answers/{token}", json={"score": scores[to], "comment": f"from {to}"})
        follow_ups.append(r.json()["follow_up_ticket_id"])
    assert follow_ups.count(None) == 1  # the promoter opens nothing, the detractor a ticket
    survey = next(s for s in client.get("/api/v1/surveys", headers=admin).json()["items"] if s["id"] == survey_id)
    # one promoter (10), one detractor (3) of two answers: 50 % - 50 % = 0
    assert (survey["invited"], survey["answered"], survey["nps"]) == (2, 2, 0.0)
    run_due_jobs(db, scheduler, now=start + dt.timedelta(days=91))
    assert len(_tokens(db, "nps")) == 4  # a new round, 90 days on


def test_a_delivery_creates_a_follow_up_whose_outcome_is_feedback(client, admin, make_key, db) -> None:
    warehouse(client, admin)
    client.post("/api/v1/categories", json={"code": "plants", "name": "Plants"}, headers=admin)
    product(client, admin, "FICUS", "Ficus", category="plants")
    product(client, admin, "POT", "Pot")
    stock(client, admin, "FICUS", 5)
    stock(client, admin, "POT", 5)
    r = client.post("/api/v1/follow-up-rules", json={"name": "Did it take root?", "category": "plants", "delay_days": 30,
                                                     "script": "Ask how the plant took root."}, headers=admin)
    assert r.status_code == 201, r.text
    plant = delivered_order(client, admin, "ola@example.pl", [("FICUS", 1)])
    delivered_order(client, admin, "ola@example.pl", [("POT", 1)])  # no plant: no call
    agent = make_key("support_agent")
    tasks = client.get("/api/v1/follow-up-tasks", headers=agent).json()["items"]
    assert [(t["order_id"], t["script"]) for t in tasks] == [(plant["id"], "Ask how the plant took root.")]
    due = dt.datetime.fromisoformat(tasks[0]["due_at"])
    assert dt.timedelta(days=29, hours=23) < due - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(days=30)
    r = client.post(f"/api/v1/follow-up-tasks/{tasks[0]['id']}/done", json={"outcome": "problem",
                                                                           "note": "Leaves turning yellow"},
                    headers=agent)
    assert r.status_code == 200 and r.json()["status"] == "done"
    ticket = client.get(f"/api/v1/tickets/{r.json()['follow_up_ticket_id']}", headers=agent).json()
    assert (ticket["kind"], ticket["channel"], ticket["order_id"]) == ("complaint", "phone", plant["id"])
    assert client.get("/api/v1/follow-up-tasks", headers=agent).json() == {"items": [], "next_cursor": None}


@pytest.mark.backends("sqlite", "postgresql")
def test_return_request_ticket_starts_a_return_and_stats_count_it(client, admin, make_key, db) -> None:
    warehouse(client, admin)
    product(client, admin, "VASE", "Glass vase")
    stock(client, admin, "VASE", 5)
    order = delivered_order(client, admin, "ola@example.pl", [("VASE", 2)])
    agent = make_key("support_agent")
    r = client.post("/api/v1/tickets", json={"kind": "return_request", "subject": "Vase too small", "reason": "too small",
                                             "order_id": order["id"], "order_line": 1, "channel": "web_form"},
                    headers=agent)
    ticket = r.json()
    r = client.post(f"/api/v1/tickets/{ticket['id']}/return", json={"lines": [{"line": 1, "quantity": 1, "reason": "too_small"}]},
                    headers=agent)
    assert r.status_code == 201, r.text
    assert r.json()["return_id"] is not None
    again = client.post(f"/api/v1/tickets/{ticket['id']}/return", json={"lines": [{"line": 1, "quantity": 1}]},
                        headers=agent)
    assert again.status_code == 409
    for subject, reason in (("Too pricey", "price"), ("Pricey", "price"), ("Shipping cost", "shipping")):
        client.post("/api/v1/tickets", json={"kind": "objection", "subject": subject, "reason": reason}, headers=agent)
    stats = client.get("/api/v1/feedback/stats", headers=agent).json()
    assert stats["by_kind"] == {"objection": 3, "return_request": 1}
    assert stats["objections_ranked"] == [{"reason": "price", "count": 2}, {"reason": "shipping", "count": 1}]
    assert stats["return_reasons"] == [{"reason": "too small", "requests": 1, "returns_started": 1}]
    assert client.get("/api/v1/feedback/stats", headers=make_key("sales_rep")).status_code == 403


def test_canvas_ranks_items_by_tagged_evidence_from_the_segment(client, admin, make_key, db) -> None:
    from merx.crm.segments.service import save_static_segment

    inside, outside = _customer(db, "in@example.pl"), _customer(db, "out@example.pl")
    with UnitOfWork(db) as uow:
        seg_id = save_static_segment(uow, name="Balcony gardeners", kind="static", customer_ids=[inside]).id
        uow.commit()
    agent = make_key("support_agent")
    for body in ({"kind": "pain", "label": "Little sun on the balcony", "tag": "shade"},
                 {"kind": "pain", "label": "Pots blown over", "tag": "wind"},
                 {"kind": "job", "label": "Grow herbs", "tag": "herbs"}):
        assert client.post(f"/api/v1/segments/{seg_id}/canvas", json=body, headers=agent).status_code == 201
    for cid, subject, tags in ((inside, "Basil wilts in shade", ["shade"]), (inside, "Fern in a dark corner", ["shade"]),
                               (inside, "Pot fell", ["wind"]), (outside, "Shade again", ["shade"])):
        client.post("/api/v1/tickets", json={"kind": "question", "subject": subject, "customer_id": cid, "tags": tags},
                    headers=agent)
    # reviews are evidence too: the member's tagged review counts, an outsider's does not
    pot = product(client, admin, "POT-1", "Heavy terracotta pot")
    for cid, title in ((inside, "Finally a pot the wind leaves alone"), (outside, "Windy here too")):
        r = client.post("/api/v1/reviews", json={"product_id": pot, "rating": 5, "title": title, "tags": ["wind"],
                                                 "customer_id": cid}, headers=agent)
        assert r.status_code == 201, r.text
    canvas = client.get(f"/api/v1/segments/{seg_id}/canvas", headers=agent).json()
    assert canvas["members"] == 1
    assert [(p["tag"], p["tickets"], p["reviews"], p["evidence"]) for p in canvas["pains"]] == [
        ("shade", 2, 0, 2), ("wind", 1, 1, 2)]
    assert "Finally a pot the wind leaves alone" in canvas["pains"][1]["examples"]
    assert "Windy here too" not in canvas["pains"][1]["examples"]
    assert "Shade again" not in canvas["pains"][0]["examples"]
    assert [(j["tag"], j["evidence"]) for j in canvas["jobs"]] == [("herbs", 0)]
    r = client.post(f"/api/v1/segments/{seg_id}/canvas", json={"kind": "fear", "label": "x", "tag": "x"}, headers=agent)
    assert r.status_code == 422
