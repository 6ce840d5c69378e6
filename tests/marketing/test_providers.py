"""Providers: SMS through a gateway as Standard-Webhooks-signed calls (verified with the
standardwebhooks library), inbound bounce/complaint webhooks to the suppression list, a
permanent SMTP refusal suppresses the address; giveaways and the A/B winner through the API."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import sqlalchemy as sa

from marketing_shop import make_customers, static_segment

SECRET = "whsec_" + base64.b64encode(b"marketing-gateway-test-secret-32b").decode()


class _Gateway(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["content-length"]))
        _Gateway.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def gateway(monkeypatch):  # type: ignore[no-untyped-def]
    from merx.marketing.settings import get_marketing_settings

    server = HTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Gateway.received = []
    monkeypatch.setenv("MERX_MARKETING_SMS_GATEWAY_URL", f"http://127.0.0.1:{server.server_port}/send")
    monkeypatch.setenv("MERX_MARKETING_GATEWAY_SECRET", SECRET)
    monkeypatch.setenv("MERX_MARKETING_SEND_WINDOWS", "00:00-00:00")
    monkeypatch.setenv("MERX_MARKETING_QUIET_HOURS", "")
    get_marketing_settings.cache_clear()
    yield _Gateway
    server.shutdown()
    get_marketing_settings.cache_clear()


def test_sms_campaign_goes_to_the_gateway_signed(client, db, settings, admin, gateway):
    from standardwebhooks.webhooks import Webhook

    from merx.core.db import utcnow
    from merx.core.uow import UnitOfWork
    from merx.crm import public as crm
    from merx.customers import public as customers
    from merx.marketing import jobs, sending

    with UnitOfWork(db) as uow:
        a = customers.create_customer(uow, customers.CustomerCreate(email="s1@example.com", phone="+48600100200",
                                                                    first_name="Ola", country="PL")).id
    with UnitOfWork(db) as uow:
        b = customers.create_customer(uow, customers.CustomerCreate(email="s2@example.com", phone="+48600100201",
                                                                    first_name="Jan", country="PL")).id
    with UnitOfWork(db) as uow:
        crm.record_consent(uow, a, channel="sms", granted=True, source="till")
    with UnitOfWork(db) as uow:  # b consented to email only
        crm.record_consent(uow, b, channel="email", granted=True, source="web")
    r = client.post("/api/v1/campaigns", headers=admin, json={"name": "SMS", "segment_id": static_segment(db, "sms", [a, b]),
                                                             "template": "newsletter", "channel": "sms"})
    assert r.status_code == 201, r.text
    assert client.post(f"/api/v1/campaigns/{r.json()['id']}/start", headers=admin).status_code == 200
    jobs.prepare_campaigns(db, utcnow())
    result = sending.dispatch_until_idle(db, settings=settings)
    assert result.sent == 1, str(result)
    [(headers, body)] = gateway.received
    payload = Webhook(SECRET).verify(body, headers)  # raises when the signature is wrong
    assert payload["to"] == "+48600100200" and payload["channel"] == "sms" and "Ola" in payload["text"]


def test_inbound_bounce_and_complaint_suppress_the_address(client, db, admin, gateway):
    from merx.marketing import providers

    body = json.dumps({"type": "complaint", "channel": "email", "address": "Angry@Example.com"}).encode()
    r = client.post("/api/v1/marketing/inbound", content=body, headers=providers.signed_headers(SECRET, body))
    assert r.status_code == 200 and r.json()["suppressed"] is True
    forged = client.post("/api/v1/marketing/inbound", content=body,
                         headers=providers.signed_headers("whsec_" + base64.b64encode(b"x" * 32).decode(), body))
    assert forged.status_code == 401 and forged.headers["content-type"].startswith("application/problem+json")
    bad = json.dumps({"type": "nonsense", "address": "a@b.c"}).encode()
    r = client.post("/api/v1/marketing/inbound", content=bad, headers=providers.signed_headers(SECRET, bad))
    assert r.status_code == 422
    listed = client.get("/api/v1/marketing/suppressions", headers=admin).json()["items"]
    assert [(s["address"], s["reason"]) for s in listed] == [("angry@example.com", "complaint")]


def test_a_permanently_refused_address_is_suppressed_and_not_tried_again(client, db, admin, monkeypatch):
    """A 5xx from the SMTP server fails the message and suppresses the address."""
    from merx.core.settings import Settings
    from merx.core.uow import UnitOfWork
    from merx.marketing import sending
    from merx.marketing.messages import insert_rows
    from merx.marketing.models import Message, Suppression
    from mail_server import LocalSmtpServer

    class Refusing(LocalSmtpServer):
        pass

    server = Refusing()

    async def refuse(server_, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        return "550 5.1.1 no such user"

    server._collector.handle_RCPT = refuse  # type: ignore[attr-defined]
    server.start()
    try:
        smtp = Settings(smtp_url=server.url)
        now = dt.datetime.now(dt.timezone.utc)
        with UnitOfWork(db) as uow:
            insert_rows(uow, [{"idem_key": "test:refused", "kind": "transactional", "channel": "email",
                               "customer_id": None, "address": "nobody@example.com", "locale": "en",
                               "template_key": "delivered", "subject": "s", "body_text": "t", "body_html": None,
                               "status": "queued", "due_at": now, "attempts": 0, "created_at": now}])
            uow.commit()
        assert sending.dispatch_until_idle(db, settings=smtp).failed == 1
        with UnitOfWork(db) as uow:
            m = uow.session.scalar(sa.select(Message))
            assert m.status == "failed" and "550" in m.reason
            assert uow.session.scalar(sa.select(Suppression.address)) == "nobody@example.com"
    finally:
        server.stop()


def test_giveaway_draw_is_reproducible_and_audited(client, db, admin):
    from merx.marketing import rules

    ids = make_customers(db, 12)
    now = dt.datetime.now(dt.timezone.utc)
    r = client.post("/api/v1/giveaways", headers=admin, json={
        "name": "Photo contest", "rule": "manual", "starts_at": (now - dt.timedelta(days=3)).isoformat(),
        "ends_at": (now - dt.timedelta(hours=1)).isoformat(), "winners": 2})
    assert r.status_code == 201, r.text
    gid = r.json()["id"]
    for cid in ids:
        assert client.post(f"/api/v1/giveaways/{gid}/entries", headers=admin,
                           json={"customer_id": cid, "evidence": "https://photos.example/1"}).status_code == 201
    dup = client.post(f"/api/v1/giveaways/{gid}/entries", headers=admin, json={"customer_id": ids[0]})
    assert dup.status_code == 409
    running = client.post("/api/v1/giveaways", headers=admin, json={
        "name": "Still running", "rule": "purchase", "starts_at": now.isoformat(),
        "ends_at": (now + dt.timedelta(days=3)).isoformat()}).json()
    early = client.post(f"/api/v1/giveaways/{running['id']}/draw", headers=admin, json={"seed": 1})
    assert early.status_code == 409 and "open until" in early.json()["detail"]  # no draw before the end
    r = client.post(f"/api/v1/giveaways/{gid}/draw", headers=admin, json={"seed": 20261203})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["seed"] == 20261203 and out["winners"] == rules.draw(ids, 20261203, 2)
    assert out["entries_sha256"] == rules.entries_digest(ids)
    assert client.post(f"/api/v1/giveaways/{gid}/draw", headers=admin).status_code == 409  # once
    audit = client.get("/api/v1/audit-log", headers=admin, params={"entity_type": "giveaway"}).json()
    assert any(e["action"] == "draw" and e["after"]["seed"] == 20261203 for e in audit["items"])
