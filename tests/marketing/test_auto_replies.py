"""One auto-reply rule set (support's keywords and intents) answers both support's live chat
and incoming SMS/messaging-app messages at marketing's signed gateway webhook; an incoming
message no rule answers becomes a support ticket; a redelivered webhook does nothing twice."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

SECRET = "whsec_" + base64.b64encode(b"marketing-autoreply-test-secret-32").decode()


class _Gateway(BaseHTTPRequestHandler):
    """A real local SMS/messaging gateway: records what Merx posts to it."""

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
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Gateway.received = []
    monkeypatch.setenv("MERX_MARKETING_SMS_GATEWAY_URL", f"http://127.0.0.1:{server.server_port}/send")
    monkeypatch.setenv("MERX_MARKETING_GATEWAY_SECRET", SECRET)
    get_marketing_settings.cache_clear()
    yield _Gateway
    server.shutdown()
    server.server_close()
    get_marketing_settings.cache_clear()


def _incoming(client, body: dict) -> object:  # type: ignore[no-untyped-def]
    from merx.marketing.providers import signed_headers

    raw = json.dumps(body).encode()
    return client.post("/api/v1/marketing/inbound-messages", content=raw, headers=signed_headers(SECRET, raw))


def test_intent_rules_are_pure():
    from merx.support import rules

    words = rules.message_words("Hi, where is my parcel?? It was order M-12")
    assert rules.rule_matches("intent:order_status", words)
    assert not rules.rule_matches("intent:returns", words)
    assert rules.rule_matches("parcel", words) and not rules.rule_matches("parcel tracking", words)
    assert rules.rule_matches("intent:opening_hours", rules.message_words("Jakie są GODZINY otwarcia?"))


@pytest.mark.backends("sqlite", "postgresql")
def test_one_rule_set_answers_chat_and_messaging_and_the_rest_become_tickets(client, db, settings, admin,
                                                                             gateway):
    from merx.marketing import sending

    for rule, reply in (("intent:order_status", "Track your order at https://shop.example/order"),
                        ("opening hours", "We are open 9-18, Saturdays 10-14.")):
        r = client.post("/api/v1/auto-replies", json={"keyword": rule, "reply": reply}, headers=admin)
        assert r.status_code == 201, r.text
    bad = client.post("/api/v1/auto-replies", json={"keyword": "intent:horoscope", "reply": "x"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "keyword"

    # support's live chat answers with the intent rule
    chat = client.post("/api/v1/chats", json={"message": "Where is my order??", "name": "Ola"}).json()
    assert [m["body"] for m in chat["messages"] if m["sender"] == "bot"] == [
        "Track your order at https://shop.example/order"]

    # the gateway's incoming SMS: answered through the gateway by the same rules
    r = _incoming(client, {"id": "g-1", "channel": "sms", "from": "+48601234567", "text": "gdzie paczka z zamówienia?"})
    assert r.status_code == 200 and r.json()["answered"] == "intent:order_status", r.text
    r = _incoming(client, {"id": "g-2", "channel": "messaging", "from": "+48601234568",
                           "text": "what are your OPENING hours"})
    assert r.json()["answered"] == "opening hours"
    again = _incoming(client, {"id": "g-1", "channel": "sms", "from": "+48601234567", "text": "gdzie paczka?"})
    assert again.status_code == 200 and again.json()["duplicate"] is True, again.text
    assert sending.dispatch_until_idle(db, settings=settings).sent == 2
    sent = sorted((json.loads(body)["to"], json.loads(body)["text"]) for _, body in gateway.received)
    assert sent == [("+48601234567", "Track your order at https://shop.example/order"),
                    ("+48601234568", "We are open 9-18, Saturdays 10-14.")]

    # no rule answers: a ticket for a person, once
    r = _incoming(client, {"id": "g-3", "channel": "sms", "from": "+48601234569", "text": "Can I pay in bitcoin?"})
    assert r.status_code == 200 and r.json()["answered"] is None and r.json()["ticket_id"]
    ticket = client.get(f"/api/v1/tickets/{r.json()['ticket_id']}", headers=admin)
    assert ticket.status_code == 200, ticket.text
    assert ticket.json()["channel"] == "messaging" and "bitcoin" in json.dumps(ticket.json())
    assert _incoming(client, {"id": "g-3", "channel": "sms", "from": "+48601234569",
                              "text": "Can I pay in bitcoin?"}).json()["ticket_id"] is None
    assert sending.dispatch_until_idle(db, settings=settings).sent == 0

    # unsigned or badly signed: refused; a bad body names the problem
    raw = json.dumps({"id": "g-4", "channel": "sms", "from": "+48601234560", "text": "hi"}).encode()
    assert client.post("/api/v1/marketing/inbound-messages", content=raw).status_code == 401
    r = _incoming(client, {"id": "g-5", "channel": "fax", "from": "+4860", "text": ""})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    log = client.get("/api/v1/messages", headers=admin, params={"status": "received"}).json()["items"]
    assert sorted(m["address"] for m in log) == ["+48601234567", "+48601234568", "+48601234569"]
