"""The loyalty part of the demo shop: a programme with spending rules and a Gold tier that ships
free, two members, an order paid partly with points (its console page shows the points line)
and one cancelled (the points given back). Runs after the money demo (invoicing/demo.py), which
sets up the tax rates, the shipping zones and stocked products."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from merx.core.auth import SYSTEM
from merx.core.errors import Problem
from merx.core.uow import UnitOfWork

ADDRESS = {"name": "Ewa Lis", "line1": "ul. Półwiejska 2", "city": "Poznań", "postal_code": "61-888", "country": "PL"}


def seed(db: Any, rng: random.Random, progress: Any = None) -> dict[str, int]:
    from merx.crm import loyalty
    from merx.customers import public as customers
    from merx.inventory import public as inventory
    from merx.orders import public as orders

    with UnitOfWork(db) as uow:
        loyalty.create_program(uow, code="club", name="Merx Club", currency="EUR", points_per_unit=Decimal(1),
                               point_value=Decimal("0.05"), expiry_days=365, referral_reward_points=200,
                               redeem_min_points=100, redeem_max_share=Decimal("0.5"),
                               tiers=[{"name": "Silver", "threshold": 0, "benefits": []},
                                      {"name": "Gold", "threshold": 2000, "benefits": ["free_shipping"]}])
    with UnitOfWork(db) as uow:
        skus = [r["sku"] for r in inventory.stock_levels(uow, location="WH-POZ") if r.get("available", 1) > 5][:3]
    enabled = db.settings.enabled_payment_providers if getattr(db, "settings", None) else {"manual"}
    provider = {"provider": "testcard", "card": "4242 4242 4242 4242"} if "testcard" in enabled else {"provider": "manual"}
    spent = 0
    for email, first, points, cancel in (("ewa.lis@example.pl", "Ewa", 2600, False),
                                         ("tomasz.kral@example.pl", "Tomasz", 900, True)):
        with UnitOfWork(db) as uow:
            cid = customers.create_customer(uow, customers.CustomerCreate(email=email, first_name=first)).id
        with UnitOfWork(db, SYSTEM) as uow:
            loyalty.award(uow, cid, points, kind="adjust", reason="points from earlier purchases", program_code="club")
            uow.commit()
        if not skus:
            continue
        body = {"channel": "web", "customer": {"id": cid}, "lines": [{"sku": skus[len(email) % len(skus)], "quantity": 2}],
                "fulfilment": {"type": "ship", "address": ADDRESS}, "payment": provider}
        try:
            with UnitOfWork(db, SYSTEM) as uow:
                quote = orders.preview_order(uow, orders.OrderCreate.model_validate(body))
            use = min(points, (quote.get("loyalty") or {}).get("max_points", 0))
            if use < 100:
                continue
            with UnitOfWork(db, SYSTEM) as uow:
                order = orders.place_order(uow, orders.OrderCreate.model_validate({**body, "loyalty_points": use}))
            spent += use
            if cancel:
                with UnitOfWork(db, SYSTEM) as uow:
                    orders.cancel(uow, order["id"], reason="customer changed their mind")
        except Problem:
            continue  # the demo shop has no stock or zone for it: the programme is still there
    return {"loyalty points spent at checkout": spent}
