"""A replica's index follower (search/replica.py) on PostgreSQL: what other processes commit
reaches its index without waiting for a poll, and without waiting for a shared subscriber
another process is running when none of that subscriber's events lies on the way."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from merx.core.events import MessageBus
from merx.core.models import SubscriberCursor
from merx.core.uow import UnitOfWork
from merx.inventory.events import StockChanged

SEARCH = "/api/v1/search"
pytestmark = pytest.mark.backends("postgresql")


def _create(client, admin, sku, name):
    r = client.post("/api/v1/products", json={"sku": sku, "name": name,
                                              "price": {"amount": "30.00", "currency": "EUR"}}, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _names_found(client, q):
    r = client.get(SEARCH, params={"q": q, "lang": "en"})
    assert r.status_code == 200, r.text
    return {i["product_id"]: i["name"] for i in r.json()["items"]}


def _rename_elsewhere(db, product_id, name):
    """The rename another replica commits: this process's bus never hears of it."""
    from merx.catalog.products import update_product
    from merx.catalog.schemas import ProductPatch

    with UnitOfWork(db, message_bus=MessageBus()) as uow:
        update_product(uow, product_id, ProductPatch(name=name))


@pytest.fixture
def hour_long_poll(monkeypatch):
    """The follower thread polls once an hour: only a wake-up brings it back sooner."""
    from merx.search.settings import get_search_settings

    monkeypatch.setenv("MERX_SEARCH_FOLLOW_POLL_SECONDS", "3600")
    get_search_settings.cache_clear()
    yield
    monkeypatch.delenv("MERX_SEARCH_FOLLOW_POLL_SECONDS")
    get_search_settings.cache_clear()


def test_another_replicas_commit_wakes_the_follower_without_a_poll(client, admin, db, settings, hour_long_poll):
    from merx.search.replica import follower_for

    pid = _create(client, admin, "W-1", "Lamp amber")
    assert _names_found(client, "amber") == {pid: "Lamp amber"}  # applied inline: no thread yet
    follower = follower_for(db, settings.data_dir)
    follower.start()
    try:
        _rename_elsewhere(db, pid, "Lamp cobalt")
        deadline = time.monotonic() + 60  # a bound on a loaded machine, not a latency claim
        while _names_found(client, "cobalt").get(pid) != "Lamp cobalt":
            assert time.monotonic() < deadline, "the follower was not woken by the other process's commit"
            time.sleep(0.05)
    finally:
        follower.stop()


def test_a_shared_subscriber_busy_elsewhere_holds_back_only_its_own_events(client, admin, db):
    pid = _create(client, admin, "W-2", "Lamp amber")
    assert _names_found(client, "amber") == {pid: "Lamp amber"}
    other_runner = db.engine.connect()  # another process's runner in the middle of a batch
    try:
        other_runner.execute(sa.select(SubscriberCursor).where(SubscriberCursor.name == "search.signals")
                             .with_for_update())
        r = client.patch(f"/api/v1/products/{pid}", json={"name": "Lamp cobalt"}, headers=admin)
        assert r.status_code == 200, r.text
        # a rename is none of search.signals' business: the follower goes past its cursor
        assert _names_found(client, "cobalt") == {pid: "Lamp cobalt"}
        # a stock change is: the follower stops before it (the stock row is not written yet),
        # and so before the rename behind it
        with UnitOfWork(db) as uow:
            uow.emit(StockChanged(sku="W-2", location="WH-1", on_hand=0, reserved=0, available=0,
                                  reason="count", status="out_of_stock"))
            uow.commit()
        r = client.patch(f"/api/v1/products/{pid}", json={"name": "Lamp denim"}, headers=admin)
        assert r.status_code == 200, r.text
        assert _names_found(client, "denim") == {}
    finally:
        other_runner.rollback()
        other_runner.close()
    assert _names_found(client, "denim") == {pid: "Lamp denim"}
