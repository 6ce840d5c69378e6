"""Outbound requests (finding 11) and connector credentials (finding 12): webhooks and
connectors refuse internal addresses in every spelling unless the allow-list names them, on
save and again on every connection; a pulled answer is reported by status, never echoed;
credentials are encrypted, write-only and kept out of the audit log."""

from __future__ import annotations

import asyncio
import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import httpx
import pytest
import sqlalchemy as sa

from merx.core.uow import UnitOfWork
from merx.integration.models import Connector, WebhookAttempt
from merx.integration.outbound import AllowList, guarded_client
from merx.integration.relay import Relay
from merx.integration.settings import IntegrationSettings
from parcel_events import ParcelRegistered

INTERNAL = ["http://127.0.0.1/h", "http://169.254.169.254/latest/meta-data/", "http://[::1]:8080/h",
            "http://2130706433/h", "http://0x7f.1/h", "http://0177.0.0.1/h", "http://[::ffff:127.0.0.1]/h",
            "http://10.0.0.5/h", "http://192.168.1.1/h", "http://100.64.0.1/h", "http://localhost:9/h",
            "http://[64:ff9b::a9fe:a9fe]/h", "http://[2002:7f00:1::]/h"]  # NAT64 and 6to4 to 169.254/127
STOCK_MAPPING = {"fields": {"sku": {"source": "sku", "required": True}, "location": {"source": "loc", "default": "WH1"},
                            "quantity": {"source": "qty", "type": "integer", "min": 0}}}


@contextmanager
def _server(status: int, body: bytes, content_type: str = "text/plain") -> Iterator[tuple[str, list[dict]]]:
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/feed", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("url", INTERNAL)
def test_webhooks_and_connectors_refuse_internal_addresses_in_any_spelling(client, admin, url):
    r = client.post("/api/v1/webhooks", json={"url": url}, headers=admin)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "url"
    r = client.post("/api/v1/connectors", json={"code": "pull", "name": "Pull", "target": "stock_levels",
                                                "mapping": STOCK_MAPPING, "transport": {"url": url}}, headers=admin)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["transport.url"]


def test_the_allow_list_admits_only_what_it_names(client, admin, allow_local_outbound):
    assert client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/h"}, headers=admin).status_code == 201
    for url in ("http://169.254.169.254/", "http://10.0.0.5/h", "http://[::1]/h"):
        assert client.post("/api/v1/webhooks", json={"url": url}, headers=admin).status_code == 422, url


def test_every_connection_is_checked_after_resolving_the_name():
    """A name that resolved to a public address when saved can point inside later (DNS
    rebinding): the client checks the address it actually connects to."""
    with _server(200, b"ok") as (url, seen):
        named = url.replace("127.0.0.1", "localhost")
        with guarded_client(AllowList.parse([])) as c, pytest.raises(httpx.ConnectError, match="loopback"):
            c.get(named)
        with guarded_client(AllowList.parse(["127.0.0.1"])) as c:
            assert c.get(named).status_code == 200
    assert len(seen) == 1


@pytest.mark.backends("sqlite", "postgresql")
def test_a_webhook_saved_while_allowed_is_not_delivered_once_the_address_is_refused(client, admin, db, receiver):
    hook = client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=admin).json()
    with UnitOfWork(db) as uow:
        uow.emit(ParcelRegistered(parcel_id=1, n=1), version=1)
        uow.commit()

    async def run() -> None:
        relay = Relay(db, IntegrationSettings(relay_lease_seconds=30, webhook_retry_base_seconds=60, outbound_allow=[]))
        await relay.start()
        try:
            await relay.run_once()
        finally:
            await relay.stop()

    asyncio.run(run())
    assert receiver.received == [] and receiver.attempts == {}
    with db.engine.connect() as conn:
        errors = conn.scalars(sa.select(WebhookAttempt.error)).all()
    assert len(errors) == 1 and "loopback" in errors[0], errors
    assert hook["id"]


def test_a_pulled_answer_is_reported_by_status_not_echoed(client, admin, allow_local_outbound):
    secret_page = b"AccessKeyId=ASIA-INTERNAL-ONLY\nSecretAccessKey=do-not-show-staff\n"
    with _server(200, secret_page) as (url, _):
        r = client.post("/api/v1/connectors", json={"code": "pull", "name": "Pull", "target": "stock_levels",
                                                    "mapping": STOCK_MAPPING, "transport": {"url": url}}, headers=admin)
        assert r.status_code == 201, r.text
        job = client.post("/api/v1/connectors/pull/pull", headers=admin).json()
    assert job["status"] == "failed", job
    assert "HTTP 200 OK" in job["message"]
    assert "do-not-show-staff" not in json.dumps(job) and "INTERNAL-ONLY" not in json.dumps(job)
    with _server(500, b"Traceback: db password hunter2", "text/html") as (url, _):
        client.patch("/api/v1/connectors/pull", json={"transport": {"url": url}}, headers=admin)
        r = client.post("/api/v1/connectors/pull/pull", headers=admin)
    assert r.status_code == 502 and "HTTP 500 Internal Server Error" in r.json()["detail"]
    assert "hunter2" not in r.text


@pytest.mark.backends("sqlite", "postgresql")
def test_connector_credentials_are_encrypted_write_only_and_not_audited(client, admin, db, allow_local_outbound):
    token = "Bearer wms-s3cret-0042"
    with _server(200, b"sku,loc,qty\nC-1,WH1,3\n", "text/csv") as (url, seen):
        r = client.post("/api/v1/connectors", json={
            "code": "wms", "name": "WMS", "target": "stock_levels", "mapping": STOCK_MAPPING,
            "transport": {"url": url, "headers": {"Authorization": token, "X-Shop": "shop-7781"}}}, headers=admin)
        assert r.status_code == 201, r.text
        assert r.json()["transport"]["headers"] == {"Authorization": "********", "X-Shop": "********"}
        shown = client.get("/api/v1/connectors/wms", headers=admin).json()
        assert shown["transport"] == {"url": url, "headers": {"Authorization": "********", "X-Shop": "********"}}
        # sending back what was shown (masked) keeps the credential; a new value replaces it
        client.patch("/api/v1/connectors/wms", json={"name": "WMS north", "transport": shown["transport"]}, headers=admin)
        client.post("/api/v1/connectors/wms/pull", headers=admin)
        client.patch("/api/v1/connectors/wms", json={"transport": {**shown["transport"], "headers": {
            "Authorization": "Bearer rotated-0043", "X-Shop": "********"}}}, headers=admin)
        client.post("/api/v1/connectors/wms/pull?force=true", headers=admin)
    assert [(h["authorization"], h["x-shop"]) for h in seen] == [(token, "shop-7781"), ("Bearer rotated-0043", "shop-7781")]
    with db.engine.connect() as conn:
        stored = json.dumps(conn.scalar(sa.select(Connector.transport)))
        audit = json.dumps([list(row) for row in conn.execute(sa.text("SELECT before, after FROM audit_log"))])
    for secret in ("wms-s3cret-0042", "rotated-0043", "shop-7781"):
        assert secret not in stored and secret not in audit


def test_a_connector_stored_with_plaintext_headers_still_works_and_is_masked(client, admin, db, allow_local_outbound):
    with _server(200, b"sku,loc,qty\nC-1,WH1,3\n", "text/csv") as (url, seen):
        assert client.post("/api/v1/connectors", json={"code": "old", "name": "Old", "target": "stock_levels",
                                                        "mapping": STOCK_MAPPING, "transport": {"url": url}},
                           headers=admin).status_code == 201
        with db.engine.begin() as conn:  # as a row written before credentials were encrypted
            conn.execute(sa.update(Connector).values(transport={"url": url, "headers": {"Authorization": "Basic b2xk"}}))
        assert client.get("/api/v1/connectors/old", headers=admin).json()["transport"]["headers"] == {
            "Authorization": "********"}
        client.post("/api/v1/connectors/old/pull", headers=admin)
        client.patch("/api/v1/connectors/old", json={"name": "Old, resealed"}, headers=admin)
        client.post("/api/v1/connectors/old/pull?force=true", headers=admin)
    assert [h["authorization"] for h in seen] == ["Basic b2xk", "Basic b2xk"]
    with db.engine.connect() as conn:
        assert "b2xk" not in json.dumps(conn.scalar(sa.select(Connector.transport)))
