"""The associate's product card (instore/finding.py) beyond stock: the store price after the
automatic promotions that apply in the `store` channel (and not the web-only or coupon ones),
the product's translations, and the delivery days per place (this shelf, another store, a
warehouse: the configured days)."""

from __future__ import annotations

from typing import Any

import pytest

from instore_shop import api_key_headers as _key, seed_chain


@pytest.fixture
def chain(db: Any) -> Any:
    return seed_chain(db)


@pytest.mark.backends("sqlite", "postgresql")
def test_the_card_shows_the_store_price_after_store_promotions_only(client: Any, db: Any, chain: Any) -> None:
    admin, waw = _key(db, chain.users["admin"]), _key(db, chain.users["waw"])
    before = client.get("/api/v1/instore/stores/ST-WAW/products/LAMP-FLOOR", headers=waw).json()
    assert (before["price"], before["store_price"], before["promotions"]) == ("129.00", "129.00", [])
    for body in (
        {"name": "Lighting week: 20% off in stores", "kind": "line_percent", "percent": "20",
         "categories": ["lighting"], "channels": ["store"]},
        {"name": "Web only: 50% off", "kind": "line_percent", "percent": "50", "categories": ["lighting"],
         "channels": ["web"]},
        {"name": "Coupon: 30% off", "kind": "line_percent", "percent": "30", "categories": ["lighting"],
         "coupon_code": "LAMP30"},
        {"name": "Kitchen: 10% off", "kind": "line_percent", "percent": "10", "categories": ["kitchen"]},
    ):
        r = client.post("/api/v1/promotions", headers=admin, json=body)
        assert r.status_code == 201, r.text
    card = client.get("/api/v1/instore/stores/ST-WAW/products/LAMP-FLOOR", headers=waw).json()
    assert card["price"] == "129.00" and card["store_price"] == "103.20"  # 129.00 - 20%
    assert card["promotions"] == ["Lighting week: 20% off in stores"]
    kettle = client.get("/api/v1/instore/stores/ST-WAW/products/KETTLE-1", headers=waw).json()
    assert kettle["store_price"] == "32.31" and kettle["promotions"] == ["Kitchen: 10% off"]  # 35.90 - 3.59


def test_the_card_carries_the_translations_and_the_delivery_days(client: Any, db: Any, chain: Any,
                                                                  monkeypatch: Any) -> None:
    from merx.instore.settings import get_instore_settings

    waw, krk = _key(db, chain.users["waw"]), _key(db, chain.users["krk"])
    card = client.get("/api/v1/instore/stores/ST-KRK/products/KETTLE-1", headers=krk).json()
    assert card["translations"] == {"pl": {"name": "Steel Kettle (PL)"}}
    assert card["name"] == "Steel Kettle"
    # On this store's shelf: 0 days; the warehouse: the configured 3.
    assert (card["here"]["code"], card["here"]["available"], card["here"]["days"]) == ("ST-KRK", 3, 0)
    assert [(w["code"], w["days"]) for w in card["warehouses"]] == [("WH-POZ", 3)]
    # Seen from Warsaw: Kraków's units are another store's (2 days), none on the shelf here.
    from_waw = client.get("/api/v1/instore/stores/ST-WAW/products/KETTLE-1", headers=waw).json()
    assert (from_waw["here"]["available"], from_waw["here"]["days"]) == (0, 0)
    assert [(s["code"], s["days"]) for s in from_waw["stores"]] == [("ST-KRK", 2)]
    # The days are the shop's settings.
    monkeypatch.setattr(get_instore_settings(), "instore_warehouse_delivery_days", 5)
    monkeypatch.setattr(get_instore_settings(), "instore_store_delivery_days", 1)
    later = client.get("/api/v1/instore/stores/ST-WAW/products/KETTLE-1", headers=waw).json()
    assert [(s["code"], s["days"]) for s in later["stores"]] == [("ST-KRK", 1)]
    assert [(w["code"], w["days"]) for w in later["warehouses"]] == [("WH-POZ", 5)]
