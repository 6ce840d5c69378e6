"""Campaigns to a segment: batched, resumable after a SIGKILL of the worker with no duplicate,
consent checked on every path, a template failing for one recipient skips only that one."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from marketing_shop import make_customers, static_segment


@pytest.fixture
def all_day(monkeypatch):  # type: ignore[no-untyped-def]
    """Send windows open all day (these tests are about batching, not the clock)."""
    from merx.marketing.settings import get_marketing_settings

    monkeypatch.setenv("MERX_MARKETING_SEND_WINDOWS", "00:00-00:00")
    monkeypatch.setenv("MERX_MARKETING_QUIET_HOURS", "")
    get_marketing_settings.cache_clear()
    yield
    get_marketing_settings.cache_clear()


def _statuses(db, campaign_id: int) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    from merx.core.uow import UnitOfWork
    from merx.marketing.models import Message

    out: dict[str, list[str]] = collections.defaultdict(list)
    with UnitOfWork(db) as uow:
        for address, status in uow.session.execute(sa.select(Message.address, Message.status).where(
                Message.campaign_id == campaign_id)):
            out[status].append(address)
    return out


def _campaign(client, admin, segment_id: int, template: str = "newsletter") -> int:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/campaigns", headers={**admin, "Idempotency-Key": f"c-{segment_id}-{template}"},
                    json={"name": "Winter news", "segment_id": segment_id, "template": template})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    r = client.post(f"/api/v1/campaigns/{cid}/start", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "scheduled", r.text
    return cid


@pytest.mark.backends("sqlite", "postgresql")
def test_campaign_is_sent_after_a_sigkill_of_the_worker_without_duplicates(client, db, settings, smtp_server, admin,
                                                                           all_day, tmp_path):
    n = 2500
    ids = make_customers(db, n, refuse_every=10)  # every 10th has no consent
    consenting = {f"p{i}@example.com" for i in range(n) if i % 10 != 9}
    cid = _campaign(client, admin, static_segment(db, "everyone", ids))

    env = dict(os.environ, MERX_DATABASE_URL=str(db.engine.url.render_as_string(hide_password=False)),
               MERX_SMTP_URL=smtp_server.url, MERX_MARKETING_SEND_WINDOWS="00:00-00:00",
               MERX_MARKETING_QUIET_HOURS="", MERX_MARKETING_BATCH_SIZE="200", MERX_DATA_DIR=str(tmp_path / "w"),
               MERX_LOG_LEVEL="WARNING")
    worker = subprocess.Popen([sys.executable, "-m", "merx.cli", "marketing", "run"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        got = smtp_server.wait_for(600, timeout=120)
        assert len(got) >= 600, worker.stderr.read().decode()[-2000:] if worker.poll() is not None else len(got)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    at_kill = len(smtp_server.messages)
    assert at_kill < len(consenting), "the worker finished before it was killed: the test proves nothing"

    # a new worker, after the dead one's claim lease ran out, finishes the campaign
    env["MERX_MARKETING_CLAIM_LEASE_SECONDS"] = "1"
    time.sleep(1.5)  # let the dead worker's claim expire (the lease is 1 s here)
    done = subprocess.run([sys.executable, "-m", "merx.cli", "marketing", "run"], env=env, capture_output=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]

    statuses = _statuses(db, cid)
    uncertain = set(statuses.get("uncertain", []))
    assert len(uncertain) <= 1  # at most the one message in flight when the worker died
    received = collections.Counter(m["To"] for m in smtp_server.messages)
    assert [a for a, k in received.items() if k > 1] == []  # no duplicates
    assert set(received) <= consenting  # nobody without consent
    assert consenting - set(received) <= uncertain  # everyone else got theirs
    assert len(statuses["skipped"]) == n // 10 and set(statuses["skipped"]).isdisjoint(received)
    r = client.get(f"/api/v1/campaigns/{cid}/report", headers=admin)
    assert r.status_code == 200
    counts = r.json()["counts"]
    assert counts["sent"] == len(statuses["sent"]) and counts["recipients"] == n and counts["queued"] == 0


@pytest.mark.backends("sqlite", "postgresql")
def test_consent_is_checked_on_every_path(client, db, settings, smtp_server, admin, all_day):
    """Campaign preparation, the sender (consent withdrawn after queueing), the one-click
    unsubscribe header, journeys (welcome): no marketing message to anyone without consent."""
    from merx.core.uow import UnitOfWork
    from merx.crm import public as crm
    from merx.marketing import jobs, sending
    from merx.core.db import utcnow

    ids = make_customers(db, 6, refuse_every=3)  # p2 and p5 have no consent
    segment = static_segment(db, "six", ids)
    cid = _campaign(client, admin, segment)
    again = client.post("/api/v1/campaigns", headers={**admin, "Idempotency-Key": f"c-{segment}-newsletter"},
                        json={"name": "Winter news", "segment_id": segment, "template": "newsletter"})
    assert again.status_code == 201 and again.json()["id"] == cid  # a retried create replays, makes no second one
    jobs.prepare_campaigns(db, utcnow())
    # p0 withdraws after their message was prepared, before it is sent
    with UnitOfWork(db) as uow:
        crm.record_consent(uow, ids[0], channel="email", granted=False, source="phone call")
    sending.dispatch_until_idle(db, settings=settings)
    got = smtp_server.wait_for(3)
    assert sorted(m["To"] for m in got) == ["p1@example.com", "p3@example.com", "p4@example.com"]
    statuses = _statuses(db, cid)
    assert sorted(statuses["skipped"]) == ["p0@example.com", "p2@example.com", "p5@example.com"]

    # one-click unsubscribe (RFC 8058): POST to the List-Unsubscribe URL; honoured at once
    header = next(m for m in got if m["To"] == "p1@example.com")["List-Unsubscribe"]
    url = header.strip("<>")
    path = url[url.index("/m/u/"):]
    assert client.get(path).status_code == 200  # a page with a button: a GET changes nothing
    with UnitOfWork(db) as uow:
        assert ids[1] in crm.consented_ids(uow, [ids[1]], "email")
    r = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 200 and r.json()["unsubscribed"] is True
    with UnitOfWork(db) as uow:
        assert crm.consented_ids(uow, [ids[1]], "email") == set()
    # a second campaign to the same segment: p1 now gets nothing either
    cid2 = _campaign(client, admin, segment, template="win_back")
    jobs.prepare_campaigns(db, utcnow())
    sending.dispatch_until_idle(db, settings=settings)
    assert len(smtp_server.wait_for(4, timeout=0.5)) == 3  # nothing more today: the daily cap is 1
    second = _statuses(db, cid2)
    assert sorted(second["queued"]) == ["p3@example.com", "p4@example.com"]  # waiting for tomorrow's window
    assert sorted(second["skipped"]) == ["p0@example.com", "p1@example.com", "p2@example.com", "p5@example.com"]
    report = client.get(f"/api/v1/campaigns/{cid}/report", headers=admin).json()
    assert report["counts"]["unsubscribed"] == 1


def test_a_template_failing_for_one_recipient_skips_only_that_recipient(client, db, settings, smtp_server, admin,
                                                                        all_day, caplog):
    from merx.core.db import utcnow
    from merx.marketing import jobs, sending

    r = client.put("/api/v1/templates/shout/en", headers=admin,
                   json={"subject": "Hi {{ customer.first_name.upper() }}", "body_text": "Big news."})
    assert r.status_code == 200, r.text
    ids = make_customers(db, 4, nameless_every=4)  # p3 has no first name: .upper() of nothing fails
    cid = _campaign(client, admin, static_segment(db, "four", ids), template="shout")
    with caplog.at_level("WARNING", logger="merx.marketing"):
        jobs.prepare_campaigns(db, utcnow())
    assert any("p3" in r.getMessage() or str(ids[3]) in r.getMessage() for r in caplog.records)
    sending.dispatch_until_idle(db, settings=settings)
    assert sorted(m["Subject"] for m in smtp_server.wait_for(3)) == ["Hi NAME0", "Hi NAME1", "Hi NAME2"]
    r = client.get("/api/v1/messages", headers=admin, params={"campaign_id": cid, "status": "skipped"})
    [skipped] = r.json()["items"]
    assert skipped["address"] == "p3@example.com" and "shout/en" in skipped["reason"]


def test_a_template_that_reaches_for_python_internals_is_refused_by_the_sandbox(client, admin):
    r = client.put("/api/v1/templates/evil/en", headers=admin,
                   json={"subject": "x", "body_text": "{{ ''.__class__.__mro__[1].__subclasses__() }}"})
    assert r.status_code == 200  # it compiles...
    r = client.post("/api/v1/templates/evil/preview", headers=admin, json={})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert "SecurityError" in r.text or "unsafe" in r.text  # ...but the sandbox refuses to run it
    r = client.put("/api/v1/templates/broken/en", headers=admin, json={"subject": "{{ oops", "body_text": "x"})
    assert r.status_code == 422 and "subject" in r.text


def test_ab_test_picks_a_significant_winner_and_sends_it_to_the_rest(client, db, settings, smtp_server, admin, all_day):
    import re as regex

    from merx.core.db import utcnow
    from merx.marketing import jobs, sending

    ids = make_customers(db, 40)
    segment = static_segment(db, "forty", ids)
    r = client.post("/api/v1/campaigns", headers=admin, json={"name": "Subject test", "segment_id": segment,
                                                             "template": "newsletter", "template_b": "newsletter_b",
                                                             "ab_test_fraction": 0.5})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    client.post(f"/api/v1/campaigns/{cid}/start", headers=admin)
    jobs.prepare_campaigns(db, utcnow())
    assert client.get(f"/api/v1/campaigns/{cid}", headers=admin).json()["status"] == "testing"
    sending.dispatch_until_idle(db, settings=settings)
    test_group = smtp_server.wait_for(20)
    assert len(test_group) == 20
    # nobody has clicked yet: no winner
    r = client.post(f"/api/v1/campaigns/{cid}/pick-winner", headers=admin)
    assert r.status_code == 409 and r.json()["type"].endswith("not-significant")
    # everyone who got variant B clicks its link; nobody with A does
    for m in test_group:
        if "20% off" in m["Subject"]:
            link = regex.search(r"http://\S+/m/c/\S+", m.get_body(("plain",)).get_content()).group(0)
            assert client.get(link[link.index("/m/c/"):], follow_redirects=False).status_code == 303
    r = client.post(f"/api/v1/campaigns/{cid}/pick-winner", headers=admin)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["winner"] == "B" and out["ab_result"]["p_value"] < 0.05 and out["status"] == "sending"
    # the rest of the segment is prepared with the winner
    jobs.prepare_campaigns(db, utcnow())
    statuses = client.get("/api/v1/messages", headers=admin, params={"campaign_id": cid, "limit": 100}).json()["items"]
    rest = [m for m in statuses if m["variant"] == "B" and m["status"] == "queued"]
    assert len(rest) == 20 and {m["template"] for m in rest} == {"newsletter_b"}
