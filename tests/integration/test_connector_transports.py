"""Connector transports: files dropped in a watched folder, HTTP pull from a real local server,
and the outbound order export (file and HTTP), each run by the worker's scheduler."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa
from catalog_fixtures import catalogue_skus
from order_events import order_placed

from merx.core.uow import UnitOfWork
from merx.integration.connectors.scheduler import run_due

MAPPING = {"fields": {"sku": {"source": "sku", "required": True}, "location": {"source": "loc", "default": "WH1"},
                      "quantity": {"source": "qty", "type": "integer", "min": 0}}}


def _location(db):
    from merx.inventory import service as inventory

    with UnitOfWork(db) as uow:
        inventory.create_location(uow, {"code": "WH1", "name": "Main", "kind": "warehouse"})
    catalogue_skus(db, ["F-1", "F-2", "F-3", "P-1", "P-2"])  # what the files and the pulled feed count


def _stock(db) -> dict[str, int]:
    with db.engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT sku, on_hand FROM inventory_stock")).all())


def test_files_dropped_in_the_watched_folder_are_imported_once(client, admin, db, tmp_path):
    _location(db)
    inbox = tmp_path / "wms-inbox"
    inbox.mkdir()
    r = client.post("/api/v1/connectors", json={"code": "drop", "name": "WMS drop", "target": "stock_levels",
                                                "mapping": MAPPING, "transport": {"folder": str(inbox)}}, headers=admin)
    assert r.status_code == 201, r.text
    (inbox / "a.csv").write_text("sku,loc,qty\nF-1,WH1,3\nF-2,,4\n")
    (inbox / "b.csv").write_text("sku,loc,qty\nF-1,WH1,9\nF-3,WH1,oops\n")
    done = run_due(db)
    assert sorted(done) == ["drop: imported a.csv", "drop: imported b.csv"]
    assert _stock(db) == {"F-1": 9, "F-2": 4}
    assert sorted(p.name for p in (inbox / "processed").iterdir()) == ["a.csv", "b.csv"]
    assert run_due(db) == []  # nothing left to import
    jobs = client.get("/api/v1/connectors/drop/imports", headers=admin).json()["items"]
    assert [j["source"] for j in jobs] == ["folder", "folder"] and jobs[1]["rows_failed"] == 1


def test_http_pull_imports_from_a_real_server(client, admin, db, receiver):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    _location(db)
    payload = json.dumps([{"sku": "P-1", "qty": 2}, {"sku": "P-2", "qty": 5}]).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/stock.json"
        r = client.post("/api/v1/connectors", json={"code": "pull", "name": "ERP pull", "target": "stock_levels",
                                                    "format": "json", "mapping": MAPPING,
                                                    "transport": {"url": url, "interval_seconds": 60}}, headers=admin)
        assert r.status_code == 201, r.text
        assert run_due(db) == ["pull: pulled (succeeded)"]
        assert _stock(db) == {"P-1": 2, "P-2": 5}
        assert run_due(db) == []  # not due again for 60 s
        job = client.post("/api/v1/connectors/pull/pull", headers=admin).json()
        assert job["status"] == "duplicate"  # same content: nothing changed
    finally:
        server.shutdown()


def _placed(db, order_id: int, total: str) -> None:
    with UnitOfWork(db) as uow:
        uow.emit(order_placed(order_id, 7, [{"sku": "X-1", "quantity": 1, "unit_price": total}],
                              email="a@b.example",
                              placed_at=dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.timezone.utc)), version=1)
        uow.commit()


@pytest.mark.backends("sqlite", "postgresql")  # PostgreSQL's JSONB does not keep the mapping's key order
def test_orders_are_exported_to_files_and_http_without_gaps_or_repeats(client, admin, db, receiver, tmp_path):
    from merx.core.events import MessageBus

    outbox = tmp_path / "erp-out"
    mapping = {"fields": {"OrderNo": {"source": "number", "required": True}, "Email": {"source": "email"},
                          "Total": {"source": "totals.total", "type": "decimal"},
                          "Currency": {"source": "currency", "value_map": {"EUR": "978"}}}}
    r = client.post("/api/v1/connectors", json={"code": "erp-orders", "name": "ERP orders", "direction": "outbound",
                                                "target": "orders", "format": "csv", "mapping": mapping,
                                                "transport": {"folder": str(outbox)}}, headers=admin)
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/connectors", json={"code": "wms-orders", "name": "WMS orders", "direction": "outbound",
                                                "target": "orders", "format": "json", "mapping": mapping,
                                                "transport": {"url": receiver.url}}, headers=admin)
    assert r.status_code == 201, r.text
    # other contexts' order handlers are not fed these hand-made events
    import merx.core.uow as uow_module

    quiet = MessageBus()
    original = uow_module.default_bus
    uow_module.default_bus = quiet
    try:
        _placed(db, 1, "10.00")
        _placed(db, 2, "25.50")
        run_due(db)
        _placed(db, 3, "7.25")
        run_due(db)
        run_due(db)
    finally:
        uow_module.default_bus = original
    files = sorted(p for p in outbox.iterdir() if p.suffix == ".csv")
    assert len(files) == 2
    lines = [line for f in files for line in f.read_text().splitlines()[1:]]
    assert lines == ["M-1,a@b.example,10.00,978", "M-2,a@b.example,25.50,978", "M-3,a@b.example,7.25,978"]
    posted = [record for batch in receiver.received for record in batch]
    assert [(r["OrderNo"], r["Total"], r["Currency"]) for r in posted] == [
        ("M-1", "10.00", "978"), ("M-2", "25.50", "978"), ("M-3", "7.25", "978")]
