"""Locations, adjustments (delta and compare-and-set), transfers, thresholds, availability,
the ledger, and checkout holds expiring."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from catalog_fixtures import catalogue_skus

API = "/api/v1"


@pytest.fixture(autouse=True)
def _catalogued_skus(db):  # type: ignore[no-untyped-def]
    """The products whose stock these tests move: inventory refuses SKUs the catalog does not know."""
    catalogue_skus(db, ("SKU-1", "S", "BOOK", "H", "A", "B", "C"))


def _loc(client, admin, code, kind="warehouse", **kw):  # type: ignore[no-untyped-def]
    r = client.post(f"{API}/locations", json={"code": code, "name": code, "kind": kind, **kw}, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()


def _adjust(client, admin, **body):  # type: ignore[no-untyped-def]
    return client.post(f"{API}/inventory/adjustments", json=body, headers=admin)


def test_locations_are_created_by_admin_listed_publicly_with_hours(client, admin, make_key):
    body = {"code": "KRK-1", "name": "Kraków Rynek", "kind": "store", "lat": 50.0614, "lon": 19.9366,
            "pickup": True, "accepts_returns": True, "timezone": "Europe/Warsaw",
            "opening_hours": {"mon": [["09:00", "21:00"]], "sun": []}}
    assert client.post(f"{API}/locations", json=body).status_code == 401
    assert client.post(f"{API}/locations", json=body, headers=make_key("staff")).status_code == 403
    r = client.post(f"{API}/locations", json=body, headers=admin)
    assert r.status_code == 201 and r.json()["opening_hours"]["mon"] == [["09:00", "21:00"]]
    assert client.post(f"{API}/locations", json=body, headers=admin).status_code == 409
    bad = client.post(f"{API}/locations", json={**body, "code": "X", "opening_hours": {"mon": [["21:00", "09:00"]]}},
                      headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "opening_hours.mon[0]"
    bad = client.post(f"{API}/locations", json={**body, "code": "Y", "kind": "garage"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "kind"
    listed = client.get(f"{API}/locations", params={"pickup": True}).json()["items"]
    assert [loc["code"] for loc in listed] == ["KRK-1"]
    patched = client.patch(f"{API}/locations/KRK-1", json={"accepts_returns": False}, headers=admin).json()
    assert patched["accepts_returns"] is False and patched["version"] == 2


@pytest.mark.backends("sqlite", "postgresql")
def test_stock_for_a_sku_the_catalog_does_not_know_is_refused_naming_the_sku(client, admin, db):
    """Regression: `NOPE-1` got "on hand 5", phantom stock no product page or cart can reach."""
    from merx.core.errors import ValidationProblem
    from merx.core.uow import UnitOfWork
    from merx.inventory import adjustments

    _loc(client, admin, "WH")
    r = _adjust(client, admin, sku="NOPE-1", location="WH", delta=5, reason="receipt")
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "sku" and "NOPE-1" in r.json()["errors"][0]["message"]
    # a counted-stock feed refuses the unknown row alone and stores the known one
    with UnitOfWork(db) as uow:
        results = adjustments.set_stock_levels(uow, [{"sku": "NOPE-1", "location": "WH", "on_hand": 5},
                                                     {"sku": "SKU-1", "location": "WH", "on_hand": 4}])
        uow.commit()
    assert isinstance(results[0], ValidationProblem) and results[0].errors[0].field == "sku"
    assert results[1] == "created"
    with db.engine.connect() as conn:
        assert dict(conn.execute(sa.text("SELECT sku, on_hand FROM inventory_stock")).all()) == {"SKU-1": 4}


@pytest.mark.backends("sqlite", "postgresql")
def test_adjustments_delta_and_compare_and_set_with_ledger(client, admin, db):
    _loc(client, admin, "WH")
    r = _adjust(client, admin, sku="SKU-1", location="WH", delta=10, reason="receipt")
    assert r.status_code == 200 and r.json()["on_hand"] == 10 and r.json()["status"] == "in_stock"
    r = _adjust(client, admin, sku="SKU-1", location="WH", set=7, expected=9)
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "expected" and r.json()["on_hand"] == 10
    r = _adjust(client, admin, sku="SKU-1", location="WH", set=7, expected=10)
    assert r.status_code == 200 and r.json()["on_hand"] == 7
    r = _adjust(client, admin, sku="SKU-1", location="WH", delta=-8)
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "delta"
    assert _adjust(client, admin, sku="SKU-1", location="NOPE", delta=1).json()["errors"][0]["field"] == "location"
    assert _adjust(client, admin, sku="SKU-1", location="WH").status_code == 422
    # the same adjustment retried with its Idempotency-Key is applied once
    for _ in range(3):
        r = client.post(f"{API}/inventory/adjustments", json={"sku": "SKU-1", "location": "WH", "delta": -2},
                        headers={**admin, "Idempotency-Key": "adj-1"})
        assert r.json()["on_hand"] == 5
    moves = client.get(f"{API}/inventory/movements", params={"sku": "SKU-1"}, headers=admin).json()["items"]
    assert [(m["reason"], m["on_hand_delta"]) for m in moves] == [("receipt", 10), ("count", -3), ("adjustment", -2)]
    assert all(m["actor_user_id"] is not None for m in moves)
    assert sum(m["on_hand_delta"] for m in moves) == 5
    with db.engine.connect() as conn:
        count = conn.execute(sa.text("SELECT COUNT(*) FROM audit_log WHERE entity_type = 'stock'")).scalar_one()
    assert count == 3


@pytest.mark.backends("sqlite", "postgresql")
def test_check_constraints_refuse_negative_or_over_reserved_rows(db):
    from sqlalchemy.exc import IntegrityError

    with db.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO inventory_locations (code, name, kind, pickup, accepts_returns, ships, "
                             "priority, timezone, active, version, created_at, updated_at) VALUES "
                             "('L', 'L', 'warehouse', false, false, true, 1, 'UTC', true, 1, '2026-01-01', "
                             "'2026-01-01')"))
    for on_hand, reserved in ((-1, 0), (1, 2), (1, -1)):
        with pytest.raises(IntegrityError):
            with db.engine.begin() as conn:
                conn.execute(sa.text("INSERT INTO inventory_stock (sku, location_id, on_hand, reserved, incoming, "
                                     "version, updated_at) SELECT 'S', id, :oh, :rs, 0, 1, '2026-01-01' "
                                     "FROM inventory_locations"), {"oh": on_hand, "rs": reserved})


def test_transfers_move_stock_immediately_or_through_transit(client, admin):
    _loc(client, admin, "A")
    _loc(client, admin, "B")
    _adjust(client, admin, sku="S", location="A", delta=5)
    r = client.post(f"{API}/inventory/transfers", json={"sku": "S", "from_location": "A", "to_location": "B",
                                                        "quantity": 2}, headers=admin)
    assert r.status_code == 201 and r.json()["status"] == "completed"
    r = client.post(f"{API}/inventory/transfers", json={"sku": "S", "from_location": "A", "to_location": "B",
                                                        "quantity": 2, "in_transit": True}, headers=admin)
    transfer_id = r.json()["id"]
    levels = {s["location"]: s for s in client.get(f"{API}/inventory/stock", params={"sku": "S"},
                                                   headers=admin).json()["items"]}
    assert (levels["A"]["on_hand"], levels["B"]["on_hand"], levels["B"]["incoming"]) == (1, 2, 2)
    assert client.post(f"{API}/inventory/transfers/{transfer_id}/receive", headers=admin).json()["status"] == "received"
    assert client.post(f"{API}/inventory/transfers/{transfer_id}/receive", headers=admin).status_code == 409
    levels = {s["location"]: s for s in client.get(f"{API}/inventory/stock", params={"sku": "S"},
                                                   headers=admin).json()["items"]}
    assert (levels["A"]["on_hand"], levels["B"]["on_hand"], levels["B"]["incoming"]) == (1, 4, 0)
    short = client.post(f"{API}/inventory/transfers", json={"sku": "S", "from_location": "A", "to_location": "B",
                                                            "quantity": 2}, headers=admin)
    assert short.status_code == 409 and short.json()["shortages"][0]["available"] == 1


def test_availability_nearest_first_with_thresholds_per_product_and_location(client, admin, make_key):
    _loc(client, admin, "WAW", kind="store", lat=52.2297, lon=21.0122, pickup=True)
    _loc(client, admin, "KRK", kind="store", lat=50.0647, lon=19.9450, pickup=True, low_stock_threshold=1)
    _loc(client, admin, "GDN", kind="warehouse", lat=54.3520, lon=18.6466)
    _adjust(client, admin, sku="BOOK", location="WAW", delta=3)
    _adjust(client, admin, sku="BOOK", location="KRK", delta=3)
    _adjust(client, admin, sku="BOOK", location="GDN", delta=0)
    client.put(f"{API}/inventory/thresholds", json={"sku": "BOOK", "low_stock": 4}, headers=admin)
    # from Katowice: Kraków (~70 km) before Warsaw (~250 km) before Gdańsk
    r = client.get(f"{API}/availability", params={"sku": "BOOK", "lat": 50.2649, "lon": 19.0238})
    assert r.status_code == 200
    body = r.json()
    assert [(loc["location"], loc["status"]) for loc in body["locations"]] == [
        ("KRK", "in_stock"), ("WAW", "low_stock"), ("GDN", "out_of_stock")]
    assert 60 < body["locations"][0]["distance_km"] < 80
    assert body["status"] == "in_stock"
    assert "available" not in body["locations"][0] or body["locations"][0]["available"] is None
    staff_view = client.get(f"{API}/availability", params={"sku": "BOOK"}, headers=make_key("staff")).json()
    assert staff_view["available"] == 6
    assert client.get(f"{API}/availability", params={"sku": "BOOK", "lat": 50}).status_code == 422


@pytest.mark.backends("sqlite", "postgresql")
def test_expired_holds_are_released_by_the_sweep_and_by_the_next_allocation(db):
    from merx.core.uow import UnitOfWork
    from merx.inventory import adjustments, holds, locations, reads, rules

    with UnitOfWork(db) as uow:
        locations.create_location(uow, {"code": "W", "name": "W", "kind": "warehouse"})
    with UnitOfWork(db) as uow:
        adjustments.adjust(uow, sku="H", location="W", delta=3)
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    with UnitOfWork(db) as uow:
        holds.allocate(uow, "cart:1", [rules.LineRequest("lines[0]", "H", 2)], expires_at=past)
        uow.commit()
    with UnitOfWork(db) as uow:
        holds.allocate(uow, "cart:2", [rules.LineRequest("lines[0]", "H", 1)],
                         expires_at=past + dt.timedelta(hours=1))
        uow.commit()
    # a new checkout for 2 units succeeds: the lapsed hold of cart 1 is released first
    with UnitOfWork(db) as uow:
        holds.allocate(uow, "order:9", [rules.LineRequest("lines[0]", "H", 2)])
        uow.commit()
    with UnitOfWork(db) as uow:
        assert holds.holds_of(uow, "cart:1") == []
        assert [h["quantity"] for h in holds.holds_of(uow, "cart:2")] == [1]
        assert reads.stock_levels(uow, sku="H")[0]["reserved"] == 3
        # the sweep releases holds whose time is up and reports their owners
        owners = holds.sweep_expired(uow, now=past + dt.timedelta(hours=2))
    assert owners == ["cart:2"]
    with UnitOfWork(db) as uow:
        level = reads.stock_levels(uow, sku="H")[0]
        assert (level["on_hand"], level["reserved"]) == (3, 2)
        loc_id = locations.get_location_by_code(uow, "W").id
        assert reads.ledger_totals(uow, "H", loc_id) == (3, 2)


@pytest.mark.backends("sqlite", "postgresql")
def test_set_stock_levels_counts_many_rows_in_one_transaction_and_refuses_rows_one_by_one(db):
    from merx.core.errors import Conflict, NotFound, ValidationProblem
    from merx.core.uow import UnitOfWork
    from merx.inventory import adjustments, holds, locations, reads, rules

    with UnitOfWork(db) as uow:
        locations.create_location(uow, {"code": "W", "name": "W", "kind": "warehouse"})
    with UnitOfWork(db) as uow:
        adjustments.adjust(uow, sku="A", location="W", delta=5)
    with UnitOfWork(db) as uow:
        holds.allocate(uow, "order:1", [rules.LineRequest("lines[0]", "A", 4)])
        uow.commit()
    rows = [{"sku": "A", "location": "W", "on_hand": 3},   # below the 4 reserved: refused
            {"sku": "B", "location": "W", "on_hand": 7},   # new row
            {"sku": "C", "location": "NOPE", "on_hand": 1},  # unknown location
            {"sku": "B", "location": "W", "on_hand": 9}]   # the same row again, later in the file
    with UnitOfWork(db) as uow:
        out = adjustments.set_stock_levels(uow, rows, note="ERP count")
        uow.commit()
    assert isinstance(out[0], Conflict) and out[0].errors[0].field == "quantity"
    assert out[1] == "created" and out[3] == "updated"
    assert isinstance(out[2], (NotFound, ValidationProblem)) and "NOPE" in out[2].detail
    with UnitOfWork(db) as uow:
        location = locations.get_location_by_code(uow, "W", field="location")
        assert reads.ledger_totals(uow, "A", location.id) == (5, 4)  # untouched
        assert reads.ledger_totals(uow, "B", location.id) == (9, 0)  # the ledger says what the row says
    with UnitOfWork(db) as uow:
        again = adjustments.set_stock_levels(uow, [{"sku": "B", "location": "W", "on_hand": 9}])
        uow.commit()
    assert again == ["unchanged"]
