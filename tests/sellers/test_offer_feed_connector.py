"""A seller's offer feed with its own column names, imported through an inbound connector's
declarative mapping (target `offers`): rows create and update that seller's offers, unchanged
rows stay unchanged, a bad row is reported by row and field and the others are kept."""

from __future__ import annotations

import pytest

from marketplace_helpers import Market

FEED_MAPPING = {
    "fields": {
        "seller": {"source": "Vendor", "default": "alfa", "transform": ["strip", "lower"]},
        "sku": {"source": "Artikel", "required": True, "transform": ["strip", "upper"]},
        "price": {"source": "Preis", "type": "decimal", "required": True, "min": 0},
        "quantity": {"source": "Bestand", "type": "integer", "required": True, "min": 0},
        "shipping": {"source": "Versand", "type": "decimal", "default": "0"},
        "lead_time_days": {"source": "Lieferzeit", "type": "integer", "default": 2},
        "condition": {"source": "Zustand", "value_map": {"neu": "new", "gebraucht": "used"}, "strict_map": True,
                      "default": "neu"},
    },
    "csv": {"delimiter": ";"},
}


@pytest.mark.backends("sqlite", "postgresql")
def test_a_sellers_feed_maps_onto_its_offers(client, admin, make_key):
    m = Market(client, admin, make_key)
    m.product("BOOK-1", "30.00", "books")
    m.product("MUG-1", "9.00", "home")
    m.product("PEN-1", "3.00", "stationery")
    alfa_id, a = m.seller("alfa")
    m.seller("bravo")
    m.offer(a, "MUG-1", "7.00", quantity=1)  # updated by the feed
    m.ok(client.post("/api/v1/connectors", headers=admin, json={
        "code": "alfa-feed", "name": "Alfa's offer feed", "target": "offers", "format": "csv",
        "mapping": FEED_MAPPING}), 201)
    feed = ("Artikel;Preis;Bestand;Versand;Lieferzeit;Zustand\n"
            "book-1;24.50;12;3.90;1;neu\n"
            "MUG-1;6.50;20;;;gebraucht\n"
            "NOPE-1;5.00;1;;;neu\n"        # not a catalog SKU
            "PEN-1;2.00;5;;;kaputt\n")     # condition outside the value map
    job = m.ok(client.post("/api/v1/connectors/alfa-feed/imports", headers=admin,
                           files={"file": ("feed.csv", feed.encode(), "text/csv")}), 201)
    assert (job["status"], job["rows_created"], job["rows_updated"], job["rows_failed"]) == ("partial", 1, 1, 2)
    assert {e["row"]: e["field"] for e in job["errors"]} == {3: "sku", 4: "condition"}  # data rows counted from 1
    offers = {o["sku"]: o for o in m.ok(client.get("/api/v1/offers", headers=a))["items"]}
    assert set(offers) == {"BOOK-1", "MUG-1"} and all(o["seller_id"] == alfa_id for o in offers.values())
    book, mug = offers["BOOK-1"], offers["MUG-1"]
    assert (book["price"]["amount"], book["shipping"]["amount"], book["quantity"], book["lead_time_days"],
            book["condition"]) == ("24.50", "3.90", 12, 1, "new")
    assert (mug["price"]["amount"], mug["quantity"], mug["condition"]) == ("6.50", 20, "used")

    # the next day's feed: one price changed, one row the same, a row for another seller's code
    feed2 = ("Vendor;Artikel;Preis;Bestand;Versand;Lieferzeit;Zustand\n"
             "alfa;BOOK-1;22.00;12;3.90;1;neu\n"
             "alfa;MUG-1;6.50;20;0;2;gebraucht\n"
             "ghost;PEN-1;2.00;5;;;neu\n")
    job = m.ok(client.post("/api/v1/connectors/alfa-feed/imports", headers=admin,
                           files={"file": ("feed2.csv", feed2.encode(), "text/csv")}), 201)
    assert (job["rows_created"], job["rows_updated"], job["rows_unchanged"], job["rows_failed"]) == (0, 1, 1, 1)
    assert job["errors"][0]["field"] == "seller"
    assert m.ok(client.get(f"/api/v1/offers/{book['id']}", headers=a))["price"]["amount"] == "22.00"
