"""Inbound connectors: a declarative mapping edited through the API, imports as jobs with a
per-row error report, idempotent re-imports (done-when: the 10,000-row WMS stock file)."""

from __future__ import annotations

import json
import random

import pytest
import sqlalchemy as sa

from catalog_fixtures import catalogue_skus

from merx.core.uow import UnitOfWork

WMS_MAPPING = {
    "fields": {
        "sku": {"source": "Article", "required": True, "transform": ["strip", "upper"],
                "pattern": "^[A-Z0-9][A-Z0-9-]{2,40}$"},
        "location": {"source": "Site", "value_map": {"MAIN": "WH1", "NORTH": "WH2"}, "strict_map": True,
                     "default": "MAIN"},
        "quantity": {"source": "Qty", "type": "integer", "required": True, "min": 0, "max": 1_000_000,
                     "unit": {"source": "UoM", "factors": {"EA": 1, "DZ": 12, "BOX": 24}, "default": "EA"}},
    },
    "csv": {"delimiter": ";"},
}

# (how the row is broken, expected field in the report); 37 rows in all
MALFORMED = [
    ("blank_sku", "sku"), ("bad_sku", "sku"), ("qty_text", "quantity"), ("qty_negative", "quantity"),
    ("qty_fraction", "quantity"), ("unknown_unit", "quantity"), ("unknown_site", "location"),
    ("too_many_columns", "row"), ("too_few_columns", "row"), ("qty_too_big", "quantity"),
    ("blank_qty", "quantity"), ("duplicate", "sku,location"), ("fraction_after_unit", "quantity"),
]


def wms_file(rows: int = 10_000, bad: int = 37, seed: int = 4) -> tuple[bytes, dict[int, str], dict[tuple[str, str], int]]:
    """A WMS export: Article;Site;Qty;UoM. Returns the file, {row number: expected error field}
    and the expected on-hand quantity per (sku, location) of the good rows."""
    rng = random.Random(seed)
    bad_rows = sorted(rng.sample(range(2, rows + 1), bad))
    kinds = {n: MALFORMED[i % len(MALFORMED)] for i, n in enumerate(bad_rows)}
    lines = ["Article;Site;Qty;UoM"]
    expected: dict[tuple[str, str], int] = {}
    expected_errors: dict[int, str] = {}
    for n in range(1, rows + 1):
        sku = f"SKU-{n:05d}"
        site = "MAIN" if n % 3 else "NORTH"
        qty, uom = rng.randint(0, 500), rng.choice(["EA", "EA", "EA", "DZ", "BOX", ""])
        cells = [sku.lower() if n % 11 == 0 else sku, site, str(qty), uom]
        if n in kinds:
            kind, field = kinds[n]
            expected_errors[n] = field
            cells = {
                "blank_sku": ["  ", site, str(qty), uom],
                "bad_sku": ["SKU 1/2!", site, str(qty), uom],
                "qty_text": [sku, site, "twelve", uom],
                "qty_negative": [sku, site, "-4", "EA"],
                "qty_fraction": [sku, site, "2.5", "EA"],
                "unknown_unit": [sku, site, "3", "PALLET"],
                "unknown_site": [sku, "MOON", str(qty), uom],
                "too_many_columns": [sku, site, str(qty), uom, "extra"],
                "too_few_columns": [sku, site],
                "qty_too_big": [sku, site, "99999", "BOX"],
                "blank_qty": [sku, site, "", uom],
                "duplicate": [f"SKU-{n - 1:05d}", "MAIN" if (n - 1) % 3 else "NORTH", "7", "EA"],
                "fraction_after_unit": [sku, site, "1.3", "DZ"],
            }[kind]
        else:
            factor = {"EA": 1, "DZ": 12, "BOX": 24, "": 1}[uom]
            expected[(sku, "WH1" if site == "MAIN" else "WH2")] = qty * factor
        lines.append(";".join(cells))
    # a duplicate repeats the previous row's key: the previous row must be a good one
    for n, (kind, _) in kinds.items():
        if kind == "duplicate":
            assert n - 1 not in kinds
    return ("\n".join(lines) + "\n").encode(), expected_errors, expected


def _setup(client, admin, db):
    from merx.inventory import service as inventory

    with UnitOfWork(db) as uow:
        inventory.create_location(uow, {"code": "WH1", "name": "Main warehouse", "kind": "warehouse"})
    with UnitOfWork(db) as uow:
        inventory.create_location(uow, {"code": "WH2", "name": "North warehouse", "kind": "warehouse"})
    catalogue_skus(db, ["A-1", "A-2", "A-3", "A-4", "J-1", "J-3"])  # what the small files below count
    r = client.post("/api/v1/connectors", json={"code": "wms", "name": "WMS stock", "target": "stock_levels",
                                                "format": "csv", "mapping": WMS_MAPPING}, headers=admin)
    assert r.status_code == 201, r.text


def _counts(db) -> tuple[int, int]:
    with db.engine.connect() as conn:
        events = conn.scalar(sa.text("SELECT count(*) FROM outbox_events WHERE type = 'inventory.stock_changed'"))
        movements = conn.scalar(sa.text("SELECT count(*) FROM inventory_movements"))
    return events, movements


def test_wms_file_of_10000_rows_with_37_bad_ones_imports_idempotently(client, admin, db):
    _setup(client, admin, db)
    catalogue_skus(db, [f"SKU-{n:05d}" for n in range(1, 10_001)])
    content, expected_errors, expected = wms_file()
    r = client.post("/api/v1/connectors/wms/imports", files={"file": ("stock.csv", content, "text/csv")}, headers=admin)
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["status"] == "partial"
    assert job["rows_total"] == 10_000
    assert job["rows_failed"] == 37
    assert job["rows_created"] == len(expected) == 10_000 - 37
    reported = {e["row"]: e for e in job["errors"]}
    assert set(reported) == set(expected_errors)
    for row, field in expected_errors.items():
        assert reported[row]["field"] == field, reported[row]
        assert reported[row]["message"]
    messages = {e["message"] for e in job["errors"]}
    assert len(messages) >= 10  # different faults get different reasons

    with db.engine.connect() as conn:
        stock = {(r.sku, r.code): r.on_hand for r in conn.execute(sa.text(
            "SELECT s.sku, l.code, s.on_hand FROM inventory_stock s JOIN inventory_locations l ON l.id = s.location_id"))}
    assert stock == expected
    before = _counts(db)

    # the same file again: recognised by its content hash, nothing processed
    r = client.post("/api/v1/connectors/wms/imports", files={"file": ("stock.csv", content, "text/csv")}, headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "duplicate"
    # forced: every row is checked again, and every good one is a no-op
    r = client.post("/api/v1/connectors/wms/imports?force=true", files={"file": ("stock.csv", content, "text/csv")},
                    headers=admin)
    job2 = r.json()
    assert (job2["rows_created"], job2["rows_updated"], job2["rows_unchanged"], job2["rows_failed"]) == (
        0, 0, 10_000 - 37, 37)
    assert _counts(db) == before
    with db.engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT sum(on_hand) FROM inventory_stock")) == sum(expected.values())

    report = client.get(f"/api/v1/connectors/wms/imports/{job['id']}/errors.csv", headers=admin)
    assert report.status_code == 200 and report.text.count("\n") == 38


@pytest.mark.backends("sqlite", "postgresql")
def test_changed_rows_update_and_the_rest_stay(client, admin, db):
    _setup(client, admin, db)
    first = b"Article;Site;Qty;UoM\nA-1;MAIN;5;EA\nA-2;MAIN;1;DZ\nA-3;NORTH;0;\n"
    r = client.post("/api/v1/connectors/wms/imports", files={"file": ("a.csv", first, "text/csv")}, headers=admin)
    assert r.json()["rows_created"] == 3
    second = b"Article;Site;Qty;UoM\nA-1;MAIN;5;EA\nA-2;MAIN;2;DZ\nA-3;NORTH;0;\nA-4;MAIN;1;BOX\n"
    job = client.post("/api/v1/connectors/wms/imports", files={"file": ("b.csv", second, "text/csv")},
                      headers=admin).json()
    assert (job["rows_created"], job["rows_updated"], job["rows_unchanged"], job["status"]) == (1, 1, 2, "succeeded")
    with db.engine.connect() as conn:
        stock = dict(conn.execute(sa.text("SELECT sku, on_hand FROM inventory_stock")).all())
    assert stock == {"A-1": 5, "A-2": 24, "A-3": 0, "A-4": 24}


@pytest.mark.backends("sqlite", "postgresql")
def test_rows_for_skus_the_catalog_does_not_know_are_refused_naming_the_sku(client, admin, db):
    """Regression: a feed row for `NOPE-1` became "on hand 5", phantom stock."""
    _setup(client, admin, db)
    body = b"Article;Site;Qty;UoM\nA-1;MAIN;5;EA\nNOPE-1;MAIN;5;EA\n"
    job = client.post("/api/v1/connectors/wms/imports", files={"file": ("n.csv", body, "text/csv")},
                      headers=admin).json()
    assert (job["rows_created"], job["rows_failed"]) == (1, 1)
    assert [(e["row"], e["field"]) for e in job["errors"]] == [(2, "sku")]
    assert "NOPE-1" in job["errors"][0]["message"]
    with db.engine.connect() as conn:
        assert dict(conn.execute(sa.text("SELECT sku, on_hand FROM inventory_stock")).all()) == {"A-1": 5}


def test_json_source_with_records_path_and_defaults(client, admin, db):
    _setup(client, admin, db)
    mapping = {"fields": {"sku": {"source": "item.code", "required": True},
                          "location": {"source": "site", "default": "WH1"},
                          "quantity": {"source": "qty", "type": "integer", "min": 0}},
               "json": {"records_path": "data.items"}}
    r = client.post("/api/v1/connectors", json={"code": "erp", "name": "ERP", "target": "stock_levels",
                                                "format": "json", "mapping": mapping}, headers=admin)
    assert r.status_code == 201, r.text
    body = json.dumps({"data": {"items": [{"item": {"code": "J-1"}, "qty": 4}, {"item": {"code": "J-2"}, "qty": -1},
                                          {"item": {"code": "J-3"}, "site": "WH2", "qty": 2}, "junk"]}}).encode()
    job = client.post("/api/v1/connectors/erp/imports", files={"file": ("x.json", body, "application/json")},
                      headers=admin).json()
    assert job["rows_created"] == 2 and job["rows_failed"] == 2
    assert [(e["row"], e["field"]) for e in job["errors"]] == [(2, "quantity"), (4, "row")]


def test_mapping_is_validated_and_editable(client, admin, db, make_key):
    bad = {"code": "x", "name": "X", "target": "stock_levels",
           "mapping": {"fields": {"sku": {"source": "A"}, "quantity": {"type": "float"}}}}
    r = client.post("/api/v1/connectors", json=bad, headers=admin)
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"mapping.fields.location", "mapping.fields.quantity.type"} <= fields
    _setup(client, admin, db)
    r = client.patch("/api/v1/connectors/wms", json={"mapping": {**WMS_MAPPING, "fields": {
        **WMS_MAPPING["fields"], "location": {"source": "Site", "default": "WH1"}}}}, headers=admin)
    assert r.status_code == 200 and r.json()["version"] == 2
    assert client.post("/api/v1/connectors", json=bad, headers=make_key("staff")).status_code == 403
    assert client.get("/api/v1/connectors", headers=make_key("seller", seller_id=1)).status_code == 403
    assert client.get("/api/v1/connectors/wms", headers=make_key("staff")).status_code == 200
    assert client.post("/api/v1/connectors/wms/imports", files={"file": ("a.csv", b"x", "text/csv")},
                       headers=make_key("staff")).status_code == 403
