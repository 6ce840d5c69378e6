"""Connector work runs as the scheduler's `integration.connectors` job (no longer inside the
relay): a file dropped into a watched folder is imported when the job runs."""

from __future__ import annotations

import sqlalchemy as sa
from catalog_fixtures import catalogue_skus

from merx.core.jobs import run_due_jobs
from merx.core.uow import UnitOfWork


def test_the_connectors_job_imports_a_file_dropped_into_a_watched_folder(client, admin, db, tmp_path):
    from merx.inventory import service as inventory

    with UnitOfWork(db) as uow:
        inventory.create_location(uow, {"code": "WH1", "name": "Main", "kind": "warehouse"})
    catalogue_skus(db, ["J-1"])
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    mapping = {"fields": {"sku": {"source": "sku", "required": True}, "location": {"source": "loc"},
                          "quantity": {"source": "qty", "type": "integer", "min": 0}}}
    r = client.post("/api/v1/connectors", json={"code": "drop", "name": "WMS drop", "target": "stock_levels",
                                                "mapping": mapping, "transport": {"folder": str(inbox)}}, headers=admin)
    assert r.status_code == 201, r.text
    (inbox / "levels.csv").write_text("sku,loc,qty\nJ-1,WH1,7\n")

    runs = {run.name: run for run in run_due_jobs(db, client.app.state.scheduler)}

    assert runs["integration.connectors"].result == "drop: imported levels.csv"
    with db.engine.connect() as conn:
        assert dict(conn.execute(sa.text("SELECT sku, on_hand FROM inventory_stock")).all()) == {"J-1": 7}
