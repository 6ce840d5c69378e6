"""Webhooks from the console (#20 Build 2): add an endpoint (secret shown once), send it a
signed test message that a real local receiver verifies, disable and enable it."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest
from standardwebhooks import Webhook

from tests.web.conftest import csrf_of, form_sign_in as sign_in


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict]:
    from merx.integration.settings import get_integration_settings

    monkeypatch.setenv("MERX_OUTBOUND_ALLOW", '["127.0.0.1"]')
    get_integration_settings.cache_clear()
    got: dict = {"requests": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers["content-length"])).decode()
            got["requests"].append((dict(self.headers), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    got["url"] = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield got
    server.shutdown()
    get_integration_settings.cache_clear()


def test_admin_adds_an_endpoint_tests_it_with_a_verified_signature_and_disables_it(client, shop, receiver):
    sign_in(client, shop.users["admin"])
    page = client.get("/console/integration").text
    r = client.post("/console/integration/webhooks", data={"csrf_token": csrf_of(page), "url": receiver["url"],
                                                           "events": "order.* product.updated"}, follow_redirects=True)
    secret = re.search(r"signing secret \(shown once\): (whsec_[A-Za-z0-9+/=]+)", r.text).group(1)
    endpoint_id = re.search(r"Endpoint (\d+) created", r.text).group(1)
    assert "order.*, product.updated" in r.text
    r = client.post(f"/console/integration/webhooks/{endpoint_id}/test", data={"csrf_token": csrf_of(r.text)},
                    follow_redirects=True)
    assert "Test delivered: HTTP 204" in r.text
    headers, body = receiver["requests"][-1]
    verified = Webhook(secret).verify(body, {k.lower(): v for k, v in headers.items()})
    assert verified["type"] == "webhook.test" and json.loads(body)["type"] == "webhook.test"
    r = client.post(f"/console/integration/webhooks/{endpoint_id}/active", data={"csrf_token": csrf_of(r.text),
                                                                                 "active": "no"}, follow_redirects=True)
    assert "Endpoint disabled" in r.text and "disabled by a user" in r.text
    r = client.post(f"/console/integration/webhooks/{endpoint_id}/active", data={"csrf_token": csrf_of(r.text),
                                                                                 "active": "yes"}, follow_redirects=True)
    assert "Endpoint enabled" in r.text


def test_an_endpoint_on_a_private_address_is_refused_with_a_sentence(client, shop):
    sign_in(client, shop.users["admin"])
    page = client.get("/console/integration").text
    r = client.post("/console/integration/webhooks", data={"csrf_token": csrf_of(page),
                                                           "url": "http://10.1.2.3/hook"}, follow_redirects=True)
    assert "Not created" in r.text and "No webhook endpoints yet" in r.text
