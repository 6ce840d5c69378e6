"""Order transitions with `read_back=False` (the demo's year of orders replays thousands):
the same status, stock, events and timeline as with the read-back, only no order returned."""

from __future__ import annotations

import sqlalchemy as sa

from merx.core.auth import SYSTEM
from merx.core.models import OutboxEvent
from merx.core.uow import UnitOfWork


def test_a_shipped_and_a_collected_order_move_on_without_reading_them_back(shop, db):
    from merx.orders import public as orders

    shop.location("WH")
    shop.location("ST", kind="store", pickup=True)
    shop.product("RB-1")
    shop.stock("RB-1", "WH", 5)
    shop.stock("RB-1", "ST", 5)
    shipped = shop.order([("RB-1", 2)], fulfilment={"type": "ship"})
    collected = shop.order([("RB-1", 1)], fulfilment={"type": "pickup", "location": "ST"})
    assert shipped.status_code == collected.status_code == 201, (shipped.text, collected.text)
    ship_id, pick_id = shipped.json()["id"], collected.json()["id"]
    steps = [
        lambda uow: orders.fulfil(uow, ship_id, carrier="DPD", tracking_number="42", read_back=False),
        lambda uow: orders.simple_transition(uow, ship_id, "delivered", read_back=False),
        lambda uow: orders.simple_transition(uow, ship_id, "completed", read_back=False),
        lambda uow: orders.ready_for_pickup(uow, pick_id, read_back=False),
        lambda uow: orders.picked_up(uow, pick_id, location="ST", payment_collected=True, read_back=False),
    ]
    for step in steps:
        with UnitOfWork(db, actor=SYSTEM) as uow:
            assert step(uow) is None
    got = {oid: shop.client.get(f"/api/v1/orders/{oid}", headers=shop.admin).json() for oid in (ship_id, pick_id)}
    assert got[ship_id]["status"] == "completed" and got[ship_id]["fulfilment"]["tracking"]["number"] == "42"
    assert got[pick_id]["status"] == "picked_up" and got[pick_id]["payment"]["status"] == "captured"
    levels = shop.levels("RB-1")
    assert (levels["WH"]["on_hand"], levels["ST"]["on_hand"]) == (3, 4)  # shipped and handed over: consumed
    assert (levels["WH"]["reserved"], levels["ST"]["reserved"]) == (0, 0)
    with db.read_sessions() as s:
        types = list(s.scalars(sa.select(OutboxEvent.type).where(OutboxEvent.aggregate_type == "order")
                               .order_by(OutboxEvent.seq)))
    for expected in ("order.fulfilled", "order.delivered", "order.completed", "order.ready_for_pickup",
                     "order.picked_up"):
        assert expected in types, types
