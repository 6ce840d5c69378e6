"""Demo data for the stores: two associates bound to their stores, assisted orders (pickup
in another store, paid at the counter, by a payment link), pickups handed over (and one
refused check), payment links and carts sent to customers (one checked out through its link),
returns of online orders at a counter, and kiosk sessions. Everything goes
through the same use cases the associate app and the kiosk call."""

from __future__ import annotations

import random
from typing import Any

from merx.core.auth import SYSTEM, Principal, Role
from merx.core.errors import Problem

DEMO_ASSOCIATE_EMAIL = "marta@demo.merx"
DEMO_ASSOCIATE_PASSWORD = "merx-store"
ASSOCIATES = [  # email, name, stores
    (DEMO_ASSOCIATE_EMAIL, "Marta Lis", ["ST-WAW", "ST-GDN"]),
    ("tomasz@demo.merx", "Tomasz Wrona", ["ST-KRK"]),
]


def _stocked(db: Any, store: str, want: int, exclude: set[str]) -> list[str]:
    """Active SKUs with at least 2 units free at `store` (the inventory's stock levels)."""
    from merx.catalog import public as catalog
    from merx.core.uow import UnitOfWork
    from merx.inventory import public as inventory

    with UnitOfWork(db, readonly=True) as uow:
        rows = [r for r in inventory.stock_levels(uow, location=store)
                if r["on_hand"] - r["reserved"] >= 2 and r["sku"] not in exclude]
        active = catalog.lookup_skus(uow, [r["sku"] for r in rows[:200]])
    return [r["sku"] for r in rows[:200] if r["sku"] in active and active[r["sku"]].status == "active"][:want]


def seed(db: Any, rng: random.Random, progress: Any = None) -> dict[str, int]:
    from merx.core import accounts
    from merx.core.uow import UnitOfWork
    from merx.customers import public as customers
    from merx.instore import access, assisted, counter_returns, held_carts, kiosk, pickups
    from merx.orders import public as orders

    task = progress.add_task("stores", total=6) if progress is not None else None

    def step() -> None:
        if progress is not None:
            progress.advance(task)

    users: dict[str, Principal] = {}
    for email, name, stores in ASSOCIATES:
        with UnitOfWork(db) as uow:
            user = accounts.create_user(uow, name=name, role=Role.store_associate, email=email,
                                        password=DEMO_ASSOCIATE_PASSWORD)
            uow.commit()
            users[email] = Principal(user_id=user.id, role=Role.store_associate, name=name)
        with UnitOfWork(db, SYSTEM) as uow:
            access.bind_associate(uow, users[email].user_id, stores, role_of_user=Role.store_associate)
    marta, tomasz = users[ASSOCIATES[0][0]], users[ASSOCIATES[1][0]]
    step()
    with UnitOfWork(db, readonly=True) as uow:
        people = [c.id for c in uow.session.scalars(customers.list_customers_stmt(uow).limit(40))]
        lookup = {c: customers.get_customer(uow, c) for c in people}
    rng.shuffle(people)
    made = {"assisted orders": 0, "pickups handed over": 0, "counter returns": 0, "kiosk sessions": 0}
    if len(people) < 8:  # a demo too small for the stores' story
        return made
    krk = _stocked(db, "ST-KRK", 3, set())
    waw = _stocked(db, "ST-WAW", 3, set(krk))

    def store(p: Principal, code: str) -> Any:
        with UnitOfWork(db, p) as uow:
            return access.require_store(uow, code)

    def order(p: Principal, at: str, sku: str, customer: int, *, fulfilment: str, pickup: str | None,
              mode: str) -> dict[str, Any]:
        address = None
        if fulfilment == "ship":
            address = {"line1": "ul. Marszałkowska 10", "city": "Warszawa", "postal_code": "00-001", "country": "PL"}
        with UnitOfWork(db, p) as uow:
            return assisted.place_assisted_order(uow, store(p, at), assisted.AssistedOrderIn(
                customer_id=customer, email=None, lines=[(sku, 1)], fulfilment=fulfilment, pickup_store=pickup,
                address=address, payment_mode=mode))

    # Marta (Warsaw) sells what only Kraków has on the shelf: picked up and paid there.
    for i, sku in enumerate(krk[:2]):
        o = order(marta, "ST-WAW", sku, people[i], fulfilment="pickup", pickup="ST-KRK", mode="at_pickup")
        made["assisted orders"] += 1
        with UnitOfWork(db, tomasz) as uow:
            pickups.mark_ready(uow, store(tomasz, "ST-KRK"), o["id"])
        if i == 0:
            with UnitOfWork(db, tomasz) as uow:
                try:  # the customer read out a wrong code first: refused and logged
                    pickups.hand_over(uow, store(tomasz, "ST-KRK"), o["id"], code="000000", payment_collected=True)
                except pickups.VerificationFailed:
                    pass
            with UnitOfWork(db, tomasz) as uow:
                code = pickups.pickup_code_of(uow, o["number"])
                pickups.hand_over(uow, store(tomasz, "ST-KRK"), o["id"], code=code, payment_collected=True)
            made["pickups handed over"] += 1
    step()
    # Warsaw's own shelf: paid at the counter, handed over by name; one sent a payment link.
    for i, sku in enumerate(waw[:2]):
        o = order(marta, "ST-WAW", sku, people[2 + i], fulfilment="pickup", pickup="ST-WAW", mode="counter")
        made["assisted orders"] += 1
        with UnitOfWork(db, marta) as uow:
            pickups.mark_ready(uow, store(marta, "ST-WAW"), o["id"])
        if i == 0:
            c = lookup[people[2]]
            if c.last_name:
                with UnitOfWork(db, marta) as uow:
                    pickups.hand_over(uow, store(marta, "ST-WAW"), o["id"], name=c.last_name)
                made["pickups handed over"] += 1
    if waw[2:]:
        o = order(marta, "ST-WAW", waw[2], people[4], fulfilment="ship", pickup=None, mode="link")
        made["assisted orders"] += 1
        with UnitOfWork(db, marta) as uow:  # the link goes to the customer's email (or phone)
            try:
                held_carts.send_payment_link(uow, store(marta, "ST-WAW"), o["id"])
            except Problem:
                pass
    # Carts held at the Warsaw counter and sent: one checked out at home, one still waiting.
    for i, customer in enumerate((people[3], people[7])):
        lines = [(sku, 1) for sku in waw[:2]] if i == 0 else [(waw[0], 2)]
        try:
            with UnitOfWork(db, marta) as uow:
                held = held_carts.hold_and_send(uow, store(marta, "ST-WAW"), assisted.AssistedOrderIn(
                    customer_id=customer, email=None, lines=lines, fulfilment="pickup", pickup_store="ST-WAW",
                    address=None, payment_mode="link"))
            made["carts sent"] = made.get("carts sent", 0) + 1
            if i == 0:
                with UnitOfWork(db) as uow:
                    held_carts.order_held_cart(uow, held["link"].rsplit("/", 1)[1])
                made["assisted orders"] += 1
        except Problem:  # a customer without email or phone, or the shelf ran out: the story goes on
            pass
    if krk[2:]:  # Kraków: one waiting to be prepared
        order(tomasz, "ST-KRK", krk[2], people[5], fulfilment="pickup", pickup="ST-KRK", mode="at_pickup")
        made["assisted orders"] += 1
    step()
    # Online orders, delivered, brought back to a store counter.
    online = _stocked(db, "WH-POZ", 2, set(krk) | set(waw)) or waw[:1]
    for i, (sku, (p, at)) in enumerate(zip(online, ((tomasz, "ST-KRK"), (marta, "ST-WAW")))):
        with UnitOfWork(db, SYSTEM) as uow:
            o = orders.place_order(uow, orders.OrderCreate(
                channel="web", customer={"id": people[6 + i]}, lines=[{"sku": sku, "quantity": 2}],
                fulfilment={"type": "ship", "address": {"line1": "ul. Długa 3", "city": "Kraków", "country": "PL"}},
                payment={"provider": "manual"}))
        with UnitOfWork(db, SYSTEM) as uow:
            orders.capture_payment(uow, o["id"])
        with UnitOfWork(db, SYSTEM) as uow:
            orders.fulfil(uow, o["id"], carrier="inpost", tracking_number=f"DEMO{o['id']:06d}")
        with UnitOfWork(db, SYSTEM) as uow:
            orders.simple_transition(uow, o["id"], "delivered")
        with UnitOfWork(db, p) as uow:
            counter_returns.take_return(uow, store(p, at), order_number=o["number"], lines=[
                counter_returns.ReturnLineIn(line=1, quantity=1, reason=("too_large", "defective")[i],
                                             restock=i == 0)],
                condition=("as_new", "damaged")[i], refund_method="cash")
        made["counter returns"] += 1
    step()
    # The Warsaw kiosk: two shoppers browsed and left, one ordered for delivery (pays by link).
    with UnitOfWork(db) as uow:
        here = access.store_for_kiosk(uow, "ST-WAW")
    for n in range(3):
        with UnitOfWork(db) as uow:
            sid = kiosk.start_session(uow, here)
        made["kiosk sessions"] += 1
        if n == 2 and waw:
            with UnitOfWork(db) as uow:
                kiosk.kiosk_order(uow, here, sid, email="walk-in@example.com", lines=[(waw[0], 1)], fulfilment="ship",
                                  pickup_store=None, address={"line1": "ul. Prosta 5", "city": "Warszawa",
                                                              "country": "PL"})
        with UnitOfWork(db) as uow:
            kiosk.end_session(uow, here, sid, "idle")
    step()
    step()
    return {k: v for k, v in made.items()}
