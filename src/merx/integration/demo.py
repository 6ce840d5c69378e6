"""The integration part of the demo shop: webhook endpoints with a real delivery log and a
warehouse connector whose stock file has a few bad rows.

The deliveries are real: a small receiver listens on 127.0.0.1 while the demo runs, the relay
signs and posts the events (Standard Webhooks) and the receiver checks each signature. One
receiver answers 204, one fails the first attempt of every message with a 503 (the relay
retries it), and one answers 410 Gone (failed, not retried; the relay disables the endpoint
after its tenth failure in a row). When the demo ends the receiver stops, so the two
endpoints that pointed at it are deactivated with that reason: `merx serve` does not keep
posting to a port nobody listens on, and MERX_OUTBOUND_ALLOW stays the shop's own choice."""

from __future__ import annotations

import asyncio
import hmac
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import sqlalchemy as sa

from merx.core.db import Database, utcnow
from merx.core.uow import UnitOfWork
from merx.integration import webhooks
from merx.integration.models import WebhookDelivery, WebhookEndpoint
from merx.integration.outbound import AllowList

# (path, description, event types); the receiver's answer depends on the path
ENDPOINTS = [
    ("/erp/orders", "ERP order sync (demo receiver, answers 204)", ["order.*"]),
    ("/crm/customers", "CRM contact sync (demo receiver, fails each first attempt with 503)",
     ["customer.*", "loyalty.*"]),
    ("/legacy/stock", "Old shop's stock feed (demo receiver, answers 410 Gone)", ["inventory.*"]),
]
STOPPED = "the demo's local receiver stopped when `merx demo` finished loading"

# The warehouse's nightly stock count: semicolon CSV, article codes in any case, site names
# of the WMS, units in pieces or boxes; the bad rows are the ones real exports carry.
STOCK_MAPPING = {
    "fields": {
        "sku": {"source": "Article", "required": True, "transform": ["strip", "upper"],
                "pattern": "^[A-Z0-9][A-Z0-9-]{2,40}$"},
        "location": {"source": "Site", "value_map": {"POZNAN": "WH-POZ", "WROCLAW": "WH-WRO"}, "strict_map": True},
        "quantity": {"source": "Qty", "type": "integer", "required": True, "min": 0, "max": 100000,
                     "unit": {"source": "UoM", "factors": {"EA": 1, "BOX": 12}, "default": "EA"}},
    },
    "csv": {"delimiter": ";"},
}


@dataclass
class _Receiver:
    """What the local receiver saw: messages by path, and signatures it could not verify."""

    secrets: dict[str, str] = field(default_factory=dict)
    seen: dict[str, set[str]] = field(default_factory=dict)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, headers: Any, body: bytes) -> int:
        secret = self.secrets.get(path)
        if secret is None:
            return 404
        msg_id, ts = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "0")
        expected = webhooks.sign(secret, msg_id, int(ts) if ts.isdigit() else 0, body.decode())
        if not any(hmac.compare_digest(expected, s) for s in headers.get("webhook-signature", "").split()):
            with self.lock:
                self.bad_signatures += 1
            return 401
        with self.lock:
            first = msg_id not in self.seen.setdefault(path, set())
            self.seen[path].add(msg_id)
        if path == "/crm/customers" and first:
            return 503
        if path == "/legacy/stock":
            return 410
        return 204


def _serve(receiver: _Receiver) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            code = receiver.answer(self.path, self.headers, body)
            self.send_response(code)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:  # the demo's progress bars are its output
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, name="merx-demo-webhooks", daemon=True).start()
    return server


@dataclass
class DemoWebhooks:
    server: ThreadingHTTPServer
    receiver: _Receiver
    endpoint_ids: list[int]


def create_endpoints(db: Database) -> DemoWebhooks:
    """Before the demo's last orders and loyalty changes: an endpoint receives the events
    committed after it exists."""
    from merx.integration.schemas import WebhookCreate
    from merx.integration.service import create_endpoint

    receiver = _Receiver()
    server = _serve(receiver)
    port = server.server_address[1]
    ids = []
    for path, description, events in ENDPOINTS:
        with UnitOfWork(db) as uow:
            out = create_endpoint(uow, WebhookCreate(url=f"http://127.0.0.1:{port}{path}", events=events,
                                                     description=description),
                                  allow=AllowList.parse(["127.0.0.1"]))
        receiver.secrets[path] = out.secret
        ids.append(out.id)
    return DemoWebhooks(server, receiver, ids)


def seed(db: Database, hooks: DemoWebhooks, progress: Any = None) -> dict[str, int]:
    """The connector import (its stock changes are events too), then the relay until every
    delivery is settled, then the receiver stops."""
    try:
        job = _stock_import(db)
        _deliver(db, hooks)
    finally:
        hooks.server.shutdown()
        hooks.server.server_close()
    with UnitOfWork(db) as uow:
        for e in uow.session.scalars(sa.select(WebhookEndpoint).where(WebhookEndpoint.id.in_(hooks.endpoint_ids),
                                                                      WebhookEndpoint.active.is_(True))):
            e.active, e.disabled_at, e.disabled_reason = False, utcnow(), STOPPED
            e.version += 1
        uow.commit()
        deliveries = uow.session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)
                                        .where(WebhookDelivery.endpoint_id.in_(hooks.endpoint_ids))) or 0
    return {"webhook deliveries": int(deliveries), "connector rows changed": job.rows_created + job.rows_updated,
            "connector rows refused": job.rows_failed}


def _stock_import(db: Database) -> Any:
    from merx.integration.connectors.service import create_connector, run_import
    from merx.integration.schemas import ConnectorCreate
    from merx.inventory import public as inventory

    with UnitOfWork(db) as uow:
        create_connector(uow, ConnectorCreate(code="wms-stock", name="Warehouse stock count (WMS)",
                                              target="stock_levels", format="csv", mapping=STOCK_MAPPING))
    with UnitOfWork(db, readonly=True) as uow:
        rows = [r for r in inventory.stock_levels(uow, location="WH-POZ")][:24]
    lines = ["Article;Site;Qty;UoM"]
    for i, r in enumerate(rows):
        qty = int(r.get("on_hand") or 10) + (i % 5) - 2
        lines.append(f"{r['sku'].lower() if i % 4 == 0 else r['sku']};POZNAN;{max(qty, 0)};EA")
    # what a WMS export really carries: a site it was never told about, a count typed as text,
    # a negative count, a unit nobody mapped, an article code with a space in it
    lines += ["PHO-00000;GDYNIA;5;EA", "LAP-00001;POZNAN;twelve;EA", "HEA-00002;WROCLAW;-3;EA",
              "TV-00003;WROCLAW;2;PALLET", "KIT 00004;POZNAN;1;EA"]
    content = ("\n".join(lines) + "\n").encode()
    return run_import(db, "wms-stock", content, filename="stock-count-poznan.csv", source="upload")


def _deliver(db: Database, hooks: DemoWebhooks) -> None:
    from merx.integration.relay import Relay
    from merx.integration.settings import get_integration_settings

    # Only this run reaches 127.0.0.1, retries after a fraction of a second rather than
    # minutes, and publishes nothing to NATS (the server's relay does that from its own cursor).
    settings = get_integration_settings().model_copy(update={
        "outbound_allow": ["127.0.0.1"], "webhook_retry_base_seconds": 0.05, "webhook_retry_max_seconds": 0.2,
        "nats_url": None})
    settings.__dict__.pop("outbound_allow_list", None)  # the cached_property of the copied settings

    async def run() -> None:
        relay = Relay(db, settings)
        await relay.start()
        try:
            for _ in range(200):
                stats = await relay.run_once()
                if stats.idle and not _pending(db, hooks.endpoint_ids):
                    return
                if stats.idle:
                    await asyncio.sleep(0.1)
        finally:
            await relay.stop()

    asyncio.run(run())


def _pending(db: Database, endpoint_ids: list[int]) -> bool:
    with UnitOfWork(db, readonly=True) as uow:
        return bool(uow.session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery).where(
            WebhookDelivery.endpoint_id.in_(endpoint_ids), WebhookDelivery.status == "pending")))
