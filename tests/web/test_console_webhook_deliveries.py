"""A webhook endpoint's deliveries on the console over the real ASGI stack and the real relay
(issue #20): the endpoint page lists what was sent, newest first; a delivery's page shows the
payload, the receiver's HTTP status and every attempt; Resend posts it again and the new
attempt shows; only admins see or resend."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from tests.web.conftest import csrf_of, form_sign_in as sign_in, run_coroutine


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A local HTTP receiver answering `got["status"]` (410 first: a final refusal, no retry)."""
    from merx.integration.settings import get_integration_settings

    monkeypatch.setenv("MERX_OUTBOUND_ALLOW", '["127.0.0.1"]')
    get_integration_settings.cache_clear()
    got: dict[str, Any] = {"bodies": [], "status": 410}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            got["bodies"].append(self.rfile.read(int(self.headers["content-length"])).decode())
            answer = b"gone for now" if got["status"] >= 400 else b"ok"
            self.send_response(got["status"])
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    got["url"] = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield got
    server.shutdown()
    get_integration_settings.cache_clear()


def _relay_round(db: Any) -> None:
    """Run the real relay until it is idle (as the worker would)."""
    from merx.integration.relay import Relay
    from merx.integration.settings import IntegrationSettings

    settings = IntegrationSettings(relay_lease_seconds=30, webhook_retry_base_seconds=0.01,
                                   webhook_retry_max_seconds=0.02, webhook_max_consecutive_failures=10,
                                   webhook_timeout_seconds=5, outbound_allow=["127.0.0.1"])

    async def go() -> None:
        relay = Relay(db, settings)
        await relay.start()
        try:
            for _ in range(20):
                if (await relay.run_once()).idle:
                    await asyncio.sleep(0.02)
        finally:
            await relay.stop()

    run_coroutine(go())


def test_endpoint_page_shows_deliveries_payload_attempts_and_resends(client: Any, shop: Any, admin: Any, db: Any,
                                                                     receiver: dict[str, Any]) -> None:
    hook = client.post("/api/v1/webhooks", headers=admin, json={"url": receiver["url"], "events": ["product.*"]}).json()
    product_id = shop.product_ids["MUG-1"]
    assert client.patch(f"/api/v1/products/{product_id}", headers=admin, json={"name": "Big Ceramic Mug"}).status_code == 200
    _relay_round(db)
    assert receiver["bodies"], "the relay sent the event"

    sign_in(client, shop.users["admin"])
    endpoint_page = client.get(f"/console/integration/webhooks/{hook['id']}")
    assert endpoint_page.status_code == 200
    delivery_id = int(re.search(r'<tr id="delivery-(\d+)">', endpoint_page.text).group(1))
    assert "product.updated" in endpoint_page.text and "410" in endpoint_page.text

    url = f"/console/integration/webhooks/{hook['id']}/deliveries/{delivery_id}"
    page = client.get(url)
    assert page.status_code == 200
    assert re.search(r'id="delivery-status">failed<', page.text)
    assert "HTTP 410" in page.text and "gone for now" in page.text  # the receiver's status and answer
    payload = re.search(r'<pre id="delivery-payload"[^>]*>(.*?)</pre>', page.text, re.S).group(1)
    assert "Big Ceramic Mug" in payload.replace("&#34;", '"') and "product.updated" in payload
    attempts_before = len(re.findall(r"<td>(?:delivery|retry|replay)</td>", page.text))

    receiver["status"] = 204  # the receiver is fixed: resend
    sent = client.post(f"{url}/resend", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == url
    after = client.get(url).text
    assert re.search(r'id="delivery-status">succeeded<', after) and "<td>replay</td>" in after
    assert len(re.findall(r"<td>(?:delivery|retry|replay)</td>", after)) == attempts_before + 1
    assert json.loads(receiver["bodies"][-1])["type"] == "product.updated"

    assert client.post(f"{url}/resend", data={}).status_code == 403  # no CSRF token
    assert client.get(f"/console/integration/webhooks/{hook['id']}/deliveries/999999").status_code == 404
    other = client.post("/api/v1/webhooks", headers=admin, json={"url": receiver["url"]}).json()
    assert client.get(f"/console/integration/webhooks/{other['id']}/deliveries/{delivery_id}").status_code == 404


def test_deliveries_are_admin_only(client: Any, shop: Any, admin: Any) -> None:
    hook = client.post("/api/v1/webhooks", headers=admin, json={"url": "https://example.com/hook"}).json()
    sign_in(client, shop.users["staff"])
    token = csrf_of(client.get("/console/orders").text)
    assert client.get(f"/console/integration/webhooks/{hook['id']}/deliveries/1").status_code == 403
    assert client.post(f"/console/integration/webhooks/{hook['id']}/deliveries/1/resend",
                       data={"csrf_token": token}).status_code == 403
