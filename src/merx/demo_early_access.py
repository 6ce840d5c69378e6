"""The demo's early access: the "Aurora" lighting collection launches in ten days; until then
only the "Repeat customers" segment (CRM rule: two orders or more) sees and buys it, with an
"Early access" badge on the storefront (catalog/early_access.py). The demo's shopper accounts
are its customers with the most orders, so signing in as one shows the collection, while a
guest finds nothing. A draft campaign to the segment is ready for marketing to announce it."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from rich.progress import Progress

COLLECTION = (  # sku, name, price (EUR), description
    ("AURORA-TABLE", "Aurora Table Lamp", "89.00", "Hand-blown opal glass on a brushed brass stem; warm dimmable light."),
    ("AURORA-FLOOR", "Aurora Floor Lamp", "219.00", "The Aurora shade at reading height, with a foot switch."),
    ("AURORA-PEND", "Aurora Pendant", "149.00", "Three opal globes on a brass bar for a dining table."),
)
LAUNCH_IN = dt.timedelta(days=10)


def seed(db: Any, rng: random.Random, progress: Progress) -> dict[str, int]:
    from merx.catalog import public as catalog
    from merx.core.events import MessageBus
    from merx.core.subscribers import SubscriberRunner
    from merx.crm import handlers as crm_handlers
    from merx.core.db import utcnow
    from merx.core.uow import UnitOfWork
    from merx.crm import public as crm
    from merx.inventory import public as inventory
    from merx.marketing import campaigns

    task = progress.add_task("early access", total=3)
    # CRM's order facts follow the outbox (durable subscriber crm.orders); the demo's year of
    # orders reaches them here, so the segment has its members before anyone signs in
    bus = MessageBus()
    crm_handlers.register(bus)
    SubscriberRunner(db, bus).catch_up(["crm.orders"])
    with UnitOfWork(db) as uow:
        segment = crm.create_segment(uow, name="Repeat customers", expression="orders_count >= 2",
                                     description="Two orders or more: early access to new collections")
        segment_id = segment.id
        crm.evaluate_segment(uow, segment_id)
    progress.advance(task)

    with UnitOfWork(db, readonly=True) as uow:
        categories = [c.code for c in catalog.list_categories(uow)]
        category = next((c for c in categories if "light" in c or "lamp" in c), categories[0] if categories else None)
        warehouse = next(loc["code"] for loc in inventory.list_locations(uow, kind="warehouse", limit=10)[0])
    # the launch is on the hour, ten days on: the storefront and the console show it that way
    launch = (utcnow() + LAUNCH_IN).replace(minute=0, second=0, microsecond=0)
    with UnitOfWork(db) as uow:
        catalog.bulk_create_products(uow, [catalog.ProductCreate(
            sku=sku, name=name, description=description, category=category,
            price={"amount": price, "currency": "EUR"}, launch_at=launch, early_access_segment=segment_id)
            for sku, name, price, description in COLLECTION])
    with UnitOfWork(db) as uow:
        for sku, *_ in COLLECTION:
            inventory.adjust(uow, sku=sku, location=warehouse, delta=rng.randint(12, 30), reason="receipt",
                             note="Aurora collection, first delivery")
    progress.advance(task)

    with UnitOfWork(db) as uow:  # a draft: marketing sends it when they choose
        campaigns.create_campaign(uow, name="Aurora collection: early access for you", segment_id=segment_id,
                                  template="newsletter")
    progress.advance(task)
    return {"early-access products": len(COLLECTION)}
