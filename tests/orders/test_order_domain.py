"""The order state machine (pure) and orders' part in the customer lifecycle."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa

from merx.orders.domain import TRANSITIONS, InvalidTransition, can_transition, check_transition


def test_happy_paths_are_allowed():
    ship = ["pending", "confirmed", "paid", "fulfilled", "delivered", "completed", "returned", "refunded"]
    pickup = ["pending", "confirmed", "ready_for_pickup", "picked_up", "completed"]
    for path in (ship, pickup):
        for current, target in zip(path, path[1:]):
            assert can_transition(current, target), (current, target)


@pytest.mark.parametrize("current,target", [
    ("pending", "paid"), ("pending", "fulfilled"), ("paid", "picked_up"), ("fulfilled", "cancelled"),
    ("picked_up", "cancelled"), ("cancelled", "confirmed"), ("refunded", "returned"), ("completed", "paid")])
def test_invalid_transitions_are_409(current, target):
    with pytest.raises(InvalidTransition) as err:
        check_transition(current, target, order_ref="MX1")
    assert err.value.status == 409 and err.value.extra["current_status"] == current


def test_final_states_have_no_exit():
    assert TRANSITIONS["cancelled"] == frozenset() and TRANSITIONS["refunded"] == frozenset()


def test_orders_lifecycle_participant_moves_a_customers_orders_and_back(shop, db):
    shop.location("WH")
    shop.product("PEN", price="2.00")
    shop.stock("PEN", "WH", 10)
    a = shop.order([("PEN", 1)], email="dup1@example.com").json()
    b = shop.order([("PEN", 2)], email="dup2@example.com").json()
    from merx.core.uow import UnitOfWork
    from merx.orders import public as orders
    from merx.orders.lifecycle import PARTICIPANT

    with UnitOfWork(db) as uow:
        moved = PARTICIPANT.on_merge(uow, a["customer_id"], b["customer_id"])
        uow.commit()
    assert moved["orders"] == [a["id"]]
    with UnitOfWork(db) as uow:
        assert [o["id"] for o in orders.orders_for_customer(uow, b["customer_id"])] == [a["id"], b["id"]]
        assert orders.orders_for_customer(uow, a["customer_id"]) == []
        PARTICIPANT.on_unmerge(uow, moved, a["customer_id"], b["customer_id"])
        uow.commit()
    with UnitOfWork(db) as uow:
        assert [o["id"] for o in orders.orders_for_customer(uow, a["customer_id"])] == [a["id"]]
        assert [o["id"] for o in orders.orders_for_customer(uow, b["customer_id"])] == [b["id"]]


def test_concurrent_requests_with_one_idempotency_key_create_one_order(shop, live_server, db):
    shop.location("WH")
    shop.product("PEN", price="2.00")
    shop.stock("PEN", "WH", 10)
    body = {"channel": "web", "customer": {"email": "twice@example.com"}, "lines": [{"sku": "PEN", "quantity": 1}]}
    with httpx.Client(base_url=live_server, timeout=120) as http:
        with ThreadPoolExecutor(max_workers=5) as pool:
            responses = list(pool.map(lambda _: http.post("/api/v1/orders", json=body,
                                                          headers={"Idempotency-Key": "same"}), range(5)))
        # in-flight duplicates are told to retry (409); once done, every retry replays the order
        assert {r.status_code for r in responses} <= {201, 409}
        for _ in range(100):  # the key is marked done just after the first response went out
            replay = http.post("/api/v1/orders", json=body, headers={"Idempotency-Key": "same"})
            if replay.status_code != 409:
                break
            time.sleep(0.05)
    assert replay.status_code == 201
    assert {r.json()["id"] for r in responses if r.status_code == 201} == {replay.json()["id"]}
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM orders")).scalar_one() == 1
    assert shop.levels("PEN")["WH"]["reserved"] == 1
