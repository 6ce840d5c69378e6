"""A dealer's monthly stock and sell-out file, in its own columns, imported through an inbound
connector (target `dealer_reports`): rows land as the API's report would (dealer by id or its
account's tax id), a resent row updates, an identical one is unchanged, a bad row is reported by
row and field while the others are kept; the figures feed the stock-health check."""

from __future__ import annotations

import pytest

from sales_helpers import person

MAPPING = {
    "fields": {
        "dealer": {"source": "Haendler", "required": True, "transform": ["strip"]},
        "month": {"source": "Monat", "required": True, "transform": ["strip"]},
        "sku": {"source": "Artikel", "required": True, "transform": ["strip", "upper"]},
        "stock_units": {"source": "Bestand", "type": "integer", "required": True, "min": 0},
        "sell_out_units": {"source": "Abverkauf", "type": "integer", "required": True, "min": 0},
    },
    "csv": {"delimiter": ";"},
}


@pytest.mark.backends("sqlite", "postgresql")
def test_dealer_stock_and_sell_out_through_a_connector(client, db, admin):
    manager = person(db, "staff", "Mia Manager")
    rep = person(db, "sales_rep", "Ann Rep")
    acc = client.post("/api/v1/accounts", headers=rep.headers, json={
        "name": "Nord Werkzeuge GmbH", "tax_id": "DE811907980",
        "contacts": [{"name": "Buyer", "email": "buy@nord.example"}]}).json()
    dealer = client.post("/api/v1/sales/dealers", headers=manager.headers, json={
        "account_id": acc["id"], "territory": "north", "stock_share_limit": "0.5"}).json()
    r = client.post("/api/v1/connectors", headers=admin, json={
        "code": "nord-sellout", "name": "Nord's stock and sell-out", "target": "dealer_reports", "format": "csv",
        "mapping": MAPPING})
    assert r.status_code == 201, r.text
    feed = ("Haendler;Monat;Artikel;Bestand;Abverkauf\n"
            "DE811907980;2026-10;dr-1;30;40\n"
            f"{dealer['id']};2026-10;DR-2;10;20\n"
            "DE000000000;2026-10;DR-3;1;1\n"   # no such dealer
            f"{dealer['id']};2026-13;DR-4;1;1\n")  # no such month
    job = client.post("/api/v1/connectors/nord-sellout/imports", headers=admin,
                      files={"file": ("oct.csv", feed.encode(), "text/csv")})
    assert job.status_code == 201, job.text
    job = job.json()
    assert (job["status"], job["rows_created"], job["rows_failed"]) == ("partial", 2, 2)
    assert {e["row"]: e["field"] for e in job["errors"]} == {3: "dealer", 4: "month"}
    # 40 units in stock against 60 sold: 0.67 of the month's sell-out, over the 0.5 allowed
    over = client.get("/api/v1/sales/dealers/overstocked", params={"month": "2026-10"}, headers=manager.headers).json()
    assert [(d["dealer_id"], d["stock_units"], d["sell_out_units"]) for d in over["items"]] == [(dealer["id"], 40, 60)]

    feed2 = ("Haendler;Monat;Artikel;Bestand;Abverkauf\n"
             "DE811907980;2026-10;DR-1;30;40\n"  # the same
             "DE811907980;2026-10;DR-2;0;20\n")  # corrected stock
    job = client.post("/api/v1/connectors/nord-sellout/imports", headers=admin,
                      files={"file": ("oct2.csv", feed2.encode(), "text/csv")}).json()
    assert (job["rows_created"], job["rows_updated"], job["rows_unchanged"], job["rows_failed"]) == (0, 1, 1, 0)
    assert client.get("/api/v1/sales/dealers/overstocked", params={"month": "2026-10"},
                      headers=manager.headers).json()["items"] == []  # 30 against 60: within the limit
