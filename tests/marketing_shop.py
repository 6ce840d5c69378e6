"""A small shop for marketing tests, seeded through the contexts' services: two products,
a pickup store with an address and opening hours, stock; customers with or without email
consent (CRM's record_consent); a rule segment."""

from __future__ import annotations

from typing import Any

SKUS = (("KETTLE-1", "Steel Kettle", "35.90"), ("MUG-1", "Ceramic Mug", "9.90"))


def seed_products(db: Any) -> None:
    from merx.catalog import public as catalog
    from merx.catalog.schemas import CategoryCreate, ProductCreate
    from merx.catalog import service as catalog_service
    from merx.core.uow import UnitOfWork
    from merx.inventory import public as inventory

    with UnitOfWork(db) as uow:
        catalog_service.create_category(uow, CategoryCreate(code="kitchen", name="Kitchen"))
    with UnitOfWork(db) as uow:
        for sku, name, price in SKUS:
            catalog_service.create_product(uow, ProductCreate(sku=sku, name=name, category="kitchen",
                                                              price={"amount": price, "currency": "EUR"}))
    with UnitOfWork(db) as uow:
        inventory.create_location(uow, {"code": "ST-WAW", "name": "Warsaw store", "kind": "store", "pickup": True,
                                        "accepts_returns": True, "address": "ul. Marszałkowska 1, Warszawa",
                                        "opening_hours": {"mon": [["09:00", "18:00"]], "sat": [["10:00", "14:00"]]}})
    with UnitOfWork(db) as uow:
        inventory.adjust(uow, sku="KETTLE-1", location="ST-WAW", delta=500)
    with UnitOfWork(db) as uow:
        inventory.adjust(uow, sku="MUG-1", location="ST-WAW", delta=500)
    del catalog


def make_customers(db: Any, n: int, *, consent_every: int = 1, country: str = "PL", locale: str | None = "en",
                   prefix: str = "p", refuse_every: int = 0, nameless_every: int = 0) -> list[int]:
    """n customers; every `consent_every`-th one (0-based index % consent_every == 0) grants
    email consent, except every `refuse_every`-th (index % refuse_every == refuse_every - 1),
    which has no consent record; every `nameless_every`-th has no first name. Returns their ids
    in creation order."""
    import sqlalchemy as sa

    from merx.core.db import utcnow
    from merx.core.uow import UnitOfWork
    from merx.crm.models import Consent
    from merx.customers import public as customers

    ids = []
    with UnitOfWork(db) as uow:
        for i in range(n):
            c = customers.create_customer(uow, customers.CustomerCreate(
                email=f"{prefix}{i}@example.com",
                first_name=None if nameless_every and i % nameless_every == nameless_every - 1 else f"Name{i}",
                country=country, locale=locale), commit=False)
            ids.append(c.id)
        uow.commit()
    # consent rows in bulk (the CRM's own table, written as record_consent would: test setup only)
    rows = [{"customer_id": cid, "channel": "email", "granted": True, "source": "test signup", "recorded_at": utcnow()}
            for i, cid in enumerate(ids) if consent_every and i % consent_every == 0
            and not (refuse_every and i % refuse_every == refuse_every - 1)]
    with UnitOfWork(db) as uow:
        for start in range(0, len(rows), 1000):
            uow.session.execute(sa.insert(Consent), rows[start:start + 1000])
        uow.commit()
    return ids


def static_segment(db: Any, name: str, customer_ids: list[int]) -> int:
    from merx.core.uow import UnitOfWork
    from merx.crm.segments import service as segments

    with UnitOfWork(db) as uow:
        seg = segments.save_static_segment(uow, name=name, kind="tier", customer_ids=customer_ids)
        uow.commit()
        return seg.id
