"""`inventory.receive_stock_many`: a delivery of many lines in one transaction gives the same
stock, ledger and `inventory.stock_changed` events as receiving each line on its own, and a
bad line refuses the whole delivery, naming it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from catalog_fixtures import catalogue_skus

from merx.core.errors import ValidationProblem
from merx.core.models import OutboxEvent
from merx.core.uow import UnitOfWork

API = "/api/v1"


def _locations(client, admin) -> dict[str, int]:  # type: ignore[no-untyped-def]
    ids = {}
    for code, kind in (("WH-A", "warehouse"), ("ST-B", "store")):
        r = client.post(f"{API}/locations", json={"code": code, "name": code, "kind": kind}, headers=admin)
        assert r.status_code == 201, r.text
        ids[code] = r.json()["id"]
    return ids


def _stock(client, admin, sku: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    r = client.get(f"{API}/inventory/stock", params={"sku": sku}, headers=admin)
    assert r.status_code == 200, r.text
    return {row["location"]: row["on_hand"] for row in r.json()["items"]}


def _stock_events(db) -> list[dict]:  # type: ignore[no-untyped-def]
    with db.read_sessions() as s:
        return [row.payload for row in s.scalars(sa.select(OutboxEvent).where(OutboxEvent.type == "inventory.stock_changed")
                                                 .order_by(OutboxEvent.seq))]


@pytest.mark.backends("sqlite", "postgresql")
def test_a_delivery_of_many_lines_lands_like_each_line_received_alone(client, admin, db):
    from merx.inventory import public as inventory

    catalogue_skus(db, ("RM-1", "RM-2", "RM-3"))
    ids = _locations(client, admin)
    with UnitOfWork(db) as uow:  # RM-3 already has stock: the delivery adds to it
        inventory.receive_stock(uow, "RM-3", ids["WH-A"], 4, reason="receipt", reference="first")
        uow.commit()
    receipts = [("RM-1", ids["WH-A"], 10), ("RM-1", ids["ST-B"], 2), ("RM-2", ids["WH-A"], 1),
                ("RM-3", ids["WH-A"], 6), ("RM-1", ids["WH-A"], 5)]  # a SKU twice at one place: both count
    before = len(_stock_events(db))
    with UnitOfWork(db) as uow:
        assert inventory.receive_stock_many(uow, receipts, reason="receipt", reference="PO-7") == 5
        uow.commit()
    assert _stock(client, admin, "RM-1") == {"WH-A": 15, "ST-B": 2}
    assert _stock(client, admin, "RM-2") == {"WH-A": 1}
    assert _stock(client, admin, "RM-3") == {"WH-A": 10}
    ledger = client.get(f"{API}/inventory/movements", params={"sku": "RM-1"}, headers=admin).json()["items"]
    assert sorted((m["location"], m["on_hand_delta"], m["reason"], m["reference"]) for m in ledger) == [
        ("ST-B", 2, "receipt", "PO-7"), ("WH-A", 5, "receipt", "PO-7"), ("WH-A", 10, "receipt", "PO-7")]
    # one event per changed row, with the row's final quantity (search and analytics read it)
    events = {(e["sku"], e["location"]): e for e in _stock_events(db)[before:]}
    assert set(events) == {("RM-1", "WH-A"), ("RM-1", "ST-B"), ("RM-2", "WH-A"), ("RM-3", "WH-A")}
    assert events[("RM-1", "WH-A")]["on_hand"] == 15 and events[("RM-1", "WH-A")]["status"] == "in_stock"
    assert events[("RM-2", "WH-A")]["status"] == "low_stock"  # 1 unit: under the default threshold
    assert events[("RM-3", "WH-A")]["on_hand"] == 10


def test_a_delivery_with_an_unknown_sku_or_no_units_is_refused_whole_naming_the_line(client, admin, db):
    from merx.inventory import public as inventory

    catalogue_skus(db, ("RM-1",))
    ids = _locations(client, admin)
    for receipts, field in (([("RM-1", ids["WH-A"], 3), ("NOPE-9", ids["WH-A"], 1)], "receipts[1].sku"),
                            ([("RM-1", ids["WH-A"], 3), ("RM-1", ids["ST-B"], 0)], "receipts[1].quantity")):
        with UnitOfWork(db) as uow:
            with pytest.raises(ValidationProblem) as refused:
                inventory.receive_stock_many(uow, receipts, reason="receipt", reference="PO-8")
            uow.commit()
        assert refused.value.errors[0].field == field
    assert _stock(client, admin, "RM-1") == {}  # nothing of either delivery was written
    assert _stock_events(db) == []
