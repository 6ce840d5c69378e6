"""Bulk import/export over HTTP (CSV and XLSX), the per-row error report, idempotent
re-import, export -> import round trip, and channel feeds."""

from __future__ import annotations

import csv
import io
import json

import pytest
import sqlalchemy as sa
from openpyxl import Workbook, load_workbook

HEADER = ["sku", "name", "description", "category", "brand", "status", "price", "currency", "attr:color",
          "attr:material", "name:pl", "description:pl"]
GOOD_ROWS = [
    ["IMP-1", "Oak table", "Solid oak", "kitchen", "acme", "active", "199.00", "EUR", "red", "oak", "Stół dębowy", ""],
    ["IMP-2", "Pine shelf", "", "home", "", "draft", "49.90", "EUR", "blue", "pine", "", ""],
]
BAD_ROWS = [
    ["IMP-3", "Bad price", "", "home", "", "active", "19.999", "EUR", "red", "", "", ""],  # over-precise
    ["IMP-4", "Bad colour", "", "home", "", "active", "10.00", "EUR", "green", "", "", ""],  # not an option
    ["IMP-5", "Bad category", "", "nowhere", "", "active", "10.00", "EUR", "", "", "", ""],
    ["", "No sku", "", "", "", "", "", "", "", "", "", ""],
    ["IMP-6", "Float-ish", "", "", "", "active", "ten", "EUR", "", "", "", ""],
]


def csv_bytes(header, rows) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode()


def xlsx_bytes(header, rows) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def upload(client, headers, name, data, ctype="text/csv"):
    return client.post("/api/v1/products/import", files={"file": (name, data, ctype)}, headers=headers)


def state(db):
    with db.engine.connect() as conn:
        return (conn.execute(sa.text("SELECT count(*) FROM catalog_products")).scalar(),
                conn.execute(sa.text("SELECT coalesce(sum(version), 0) FROM catalog_products")).scalar(),
                conn.execute(sa.text("SELECT count(*) FROM outbox_events")).scalar(),
                conn.execute(sa.text("SELECT count(*) FROM audit_log WHERE entity_type='product'")).scalar())


@pytest.mark.backends("sqlite", "postgresql")
def test_csv_import_reports_bad_rows_and_second_import_changes_nothing(client, admin, db, catalog_ref):
    check_import_with_bad_rows(client, admin, db, "csv")


def test_xlsx_import_reports_bad_rows_and_second_import_changes_nothing(client, admin, db, catalog_ref):
    check_import_with_bad_rows(client, admin, db, "xlsx")


def check_import_with_bad_rows(client, admin, db, kind):
    rows = GOOD_ROWS[:1] + BAD_ROWS + GOOD_ROWS[1:]
    data = csv_bytes(HEADER, rows) if kind == "csv" else xlsx_bytes(HEADER, rows)
    ctype = "text/csv" if kind == "csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    r = upload(client, admin, f"products.{kind}", data, ctype)
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["rows"], report["created"], report["failed"]) == (7, 2, 5)
    errors = {(e["row"], e["field"]) for e in report["errors"]}
    # the header is row 1; the first data row is row 2
    assert errors == {(3, "price"), (4, "attr:color"), (5, "category"), (6, "sku"), (7, "price")}

    table = client.get("/api/v1/products?sku=IMP-1", headers=admin).json()["items"][0]
    assert table["price"] == {"amount": "199.00", "currency": "EUR"}
    assert table["attributes"] == {"color": "red", "material": "oak"} and table["category"] == "kitchen"
    assert client.get(f"/api/v1/products/{table['id']}?locale=pl").json()["name"] == "Stół dębowy"
    shelf = client.get("/api/v1/products?sku=IMP-2", headers=admin).json()["items"][0]
    assert shelf["status"] == "draft" and shelf["description"] is None
    # bad rows left nothing behind, not even partly
    for sku in ("IMP-3", "IMP-4", "IMP-5", "IMP-6"):
        assert client.get(f"/api/v1/products?sku={sku}", headers=admin).json()["items"] == []

    before = state(db)
    again = upload(client, admin, f"products.{kind}", data, ctype).json()
    assert (again["created"], again["updated"], again["unchanged"], again["failed"]) == (0, 0, 2, 5)
    assert state(db) == before  # no version bump, no event, no audit entry


def test_import_updates_changed_rows_only(client, admin, db, catalog_ref):
    upload(client, admin, "p.csv", csv_bytes(HEADER, GOOD_ROWS))
    before_events = state(db)[2]
    changed = [list(GOOD_ROWS[0]), list(GOOD_ROWS[1])]
    changed[0][6] = "179.00"
    r = upload(client, admin, "p.csv", csv_bytes(HEADER, changed)).json()
    assert (r["created"], r["updated"], r["unchanged"]) == (0, 1, 1)
    with db.engine.connect() as conn:
        types = [t for (t,) in conn.execute(sa.text("SELECT type FROM outbox_events ORDER BY seq"))][before_events:]
    assert types == ["product.updated", "product.price_changed"]
    assert client.get("/api/v1/products?sku=IMP-1", headers=admin).json()["items"][0]["version"] == 2


def test_malformed_csv_rows_are_reported_not_500(client, admin, db, catalog_ref):
    raw = (b"sku,name,price,currency\n"
           b"OK-1,Good,1.00,EUR\n"
           b"SHORT-1,Missing columns\n"
           b"ENC-1,Caf\xe9 latin-1,2.00,EUR\n"
           b"OK-2,Also good,3.00,EUR,extra\n"
           b"OK-3,Fine,4.00,EUR\n")
    r = upload(client, admin, "bad.csv", raw)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["created"] == 2 and report["failed"] == 3
    assert {(e["row"], e["field"]) for e in report["errors"]} == {(3, "row"), (4, "name"), (5, "row")}
    # whole-file problems are a clear 422
    r = upload(client, admin, "x.csv", b"name,price\nA,1.00\n")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "columns.sku"
    r = upload(client, admin, "x.csv", b"sku,colour\nA,red\n")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "columns.colour"
    r = upload(client, admin, "x.xlsx", b"PK\x03\x04 not really a workbook",
               "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file"


def test_raw_csv_body_and_roles(client, admin, make_key, db):
    body = b"sku,name,price,currency\nRAW-1,Raw,1.00,EUR\n"
    assert client.post("/api/v1/products/import", content=body, headers={"Content-Type": "text/csv"}).status_code == 401
    customer = make_key("customer", customer_id=1)
    assert client.post("/api/v1/products/import", content=body,
                       headers={**customer, "Content-Type": "text/csv"}).status_code == 403
    r = client.post("/api/v1/products/import", content=body, headers={**admin, "Content-Type": "text/csv"})
    assert r.status_code == 200 and r.json()["created"] == 1


def test_seller_import_cannot_touch_other_sellers_products(client, admin, make_key, sellers):
    north, south = sellers
    north_key, south_key = make_key("seller", seller_id=north), make_key("seller", seller_id=south)
    upload(client, north_key, "n.csv", b"sku,name,price,currency,status\nN-1,North mug,5.00,EUR,draft\n")
    r = upload(client, south_key, "s.csv",
               b"sku,name,price,currency,status\nN-1,Stolen,1.00,EUR,draft\nS-1,South mug,6.00,EUR,draft\n")
    report = r.json()
    assert report["created"] == 1 and report["failed"] == 1 and report["errors"][0]["field"] == "sku"
    n1 = client.get("/api/v1/products?sku=N-1", headers=admin).json()["items"][0]
    assert n1["name"] == "North mug" and n1["seller_id"] == north
    # each seller exports only its own
    exported = client.get("/api/v1/products/export", headers=south_key).text
    assert "S-1" in exported and "N-1" not in exported


@pytest.mark.backends("sqlite", "postgresql")
def test_csv_export_import_round_trip(client, admin, db, catalog_ref):
    check_round_trip(client, admin, db, "csv")


def test_xlsx_export_import_round_trip(client, admin, db, catalog_ref):
    check_round_trip(client, admin, db, "xlsx")


def check_round_trip(client, admin, db, fmt):
    products = [
        {"sku": "RT-1", "name": "Mug, \"large\"", "description": "Line one\nline two", "category": "kitchen",
         "brand": "acme", "price": {"amount": "19.90", "currency": "EUR"},
         "prices": [{"amount": "85.00", "currency": "PLN"}], "attributes": {"color": "red", "material": "clay",
                                                                           "weight": "0.5", "waterproof": True},
         "translations": {"pl": {"name": "Kubek", "attributes": {"material": "glina"}}},
         "media": ["https://img.example/a.jpg", "https://img.example/b.jpg"], "channels": ["web", "b2b"],
         "ean": "4006381333931",
         "variants": [{"sku": "RT-1-XL", "options": {"size": "XL"}, "price": {"amount": "21.00", "currency": "EUR"}}]},
        {"sku": "RT-2", "name": "Plate", "status": "draft", "price": {"amount": "5.00", "currency": "PLN"},
         "channels": []},
    ]
    for p in products:
        assert client.post("/api/v1/products", json=p, headers=admin).status_code == 201, p
    r = client.get(f"/api/v1/products/export?format={fmt}", headers=admin)
    assert r.status_code == 200
    exported = r.content
    if fmt == "xlsx":
        ws = load_workbook(io.BytesIO(exported)).active
        header = [c.value for c in ws[1]]
        assert "attr:material:pl" in header and "name:pl" in header and "price:PLN" in header
    before = client.get("/api/v1/products", headers=admin).json()["items"]
    counts_before = state(db)
    # re-importing the export into the same catalog changes nothing
    report = upload(client, admin, f"export.{fmt}", exported).json()
    assert report["failed"] == 0 and report["created"] == 0 and report["updated"] == 0, report
    assert state(db) == counts_before
    # and into an empty catalog it rebuilds the same products
    for p in before:
        client.delete(f"/api/v1/products/{p['id']}?purge=true", headers=admin)
    report = upload(client, admin, f"export.{fmt}", exported).json()
    assert report["failed"] == 0 and report["created"] == 2, report
    after = client.get("/api/v1/products", headers=admin).json()["items"]

    def comparable(p):
        keep = ("sku", "name", "description", "status", "category", "brand", "price", "prices", "attributes",
                "translations", "media", "channels")
        return {k: p[k] for k in keep} | {"variants": [{k: v[k] for k in ("sku", "ean", "options", "prices")}
                                                      for v in p["variants"]]}

    assert [comparable(p) for p in after] == [comparable(p) for p in before]


def test_channel_feed_csv_and_json(client, admin, catalog_ref):
    client.post("/api/v1/products", json={
        "sku": "F-1", "name": "Mug", "description": "A mug", "category": "kitchen", "brand": "acme",
        "price": {"amount": "9.99", "currency": "EUR"}, "attributes": {"material": "clay"},
        "translations": {"pl": {"name": "Kubek", "attributes": {"material": "glina"}}},
        "media": ["https://img.example/mug.jpg"], "channels": ["web", "marketplace"],
        "variants": [{"sku": "F-1-L", "options": {"size": "L"}}]}, headers=admin)
    client.post("/api/v1/products", json={"sku": "F-2", "name": "Hidden", "status": "draft", "channels": ["web"],
                                          "price": {"amount": "1.00", "currency": "EUR"}}, headers=admin)
    client.post("/api/v1/products", json={"sku": "F-3", "name": "Store only", "channels": ["store"],
                                          "price": {"amount": "1.00", "currency": "EUR"}}, headers=admin)
    feed = client.get("/api/v1/channels/web/feed?format=json&locale=pl").json()
    assert feed["count"] == 2 and [i["id"] for i in feed["items"]] == ["F-1", "F-1-L"]
    item = feed["items"][0]
    assert item["title"] == "Kubek" and item["description"] == "A mug"  # fallback for the missing translation
    assert item["category"] == "Dom > Kuchnia" and item["brand"] == "Acme"
    assert item["price"] == "9.99" and item["currency"] == "EUR" and item["attributes"]["material"] == "glina"
    assert feed["items"][1]["title"] == "Kubek - L"
    r = client.get("/api/v1/channels/web/feed?format=csv")
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["id"] for row in rows] == ["F-1", "F-1-L"] and rows[0]["title"] == "Mug"
    assert json.loads(rows[0]["attributes"]) == {"material": "clay"}
    assert client.get("/api/v1/channels/nope/feed").status_code == 404
    assert client.get("/api/v1/channels/web/feed?locale=xx").status_code == 422
    assert [i["id"] for i in client.get("/api/v1/channels/store/feed").json()["items"]] == ["F-3"]
