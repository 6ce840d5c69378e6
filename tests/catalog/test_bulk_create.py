"""`catalog.bulk_create_products` (the demo's and seeding's path): many products in one flush
give what creating them one by one gives (rows, `catalog.product_created` events in the
items' order with their ids, audit entries), and one bad item refuses the whole batch,
naming it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from merx.core.errors import Conflict
from merx.core.models import AuditEntry, OutboxEvent
from merx.core.uow import UnitOfWork


def _item(sku: str, **extra):  # type: ignore[no-untyped-def]
    from merx.catalog.public import ProductCreate

    return ProductCreate(sku=sku, name=f"Product {sku}", price={"currency": "EUR", "amount": "12.50"},
                         translations={"pl": {"name": f"Produkt {sku}"}}, **extra)


@pytest.mark.backends("sqlite", "postgresql")
def test_a_batch_lands_as_its_products_created_one_by_one(client, admin, db):
    from merx.catalog.public import bulk_create_products

    with UnitOfWork(db) as uow:
        ids = bulk_create_products(uow, [_item(f"BK-{i}") for i in range(30)])
    assert len(ids) == 30 and ids == sorted(ids)
    with db.read_sessions() as s:
        created = [e.payload for e in s.scalars(sa.select(OutboxEvent).where(OutboxEvent.type == "product.created")
                                                .order_by(OutboxEvent.seq))]
        audited = list(s.scalars(sa.select(AuditEntry.entity_id).where(AuditEntry.action == "create",
                                                                        AuditEntry.entity_type == "product")
                                 .order_by(AuditEntry.id)))
    assert [e["product_id"] for e in created] == ids  # the items' order, each with its id
    assert [e["name"] for e in created] == [f"Product BK-{i}" for i in range(30)]
    assert audited == [str(i) for i in ids]
    product = client.get(f"/api/v1/products/{ids[7]}", headers={**admin, "Accept-Language": "pl"}).json()
    assert (product["sku"], product["name"], product["price"]) == ("BK-7", "Produkt BK-7",
                                                                   {"amount": "12.50", "currency": "EUR"})


@pytest.mark.backends("sqlite", "postgresql")
def test_a_sku_given_twice_or_already_taken_refuses_the_whole_batch_naming_the_item(client, admin, db):
    from merx.catalog.public import bulk_create_products

    with UnitOfWork(db) as uow:
        bulk_create_products(uow, [_item("BK-OLD")])
    for batch, item in (([_item("BK-1"), _item("BK-2"), _item("BK-1")], "item 2"),
                        ([_item("BK-1"), _item("BK-OLD")], "item 1")):
        with UnitOfWork(db) as uow:
            with pytest.raises(Conflict) as refused:
                bulk_create_products(uow, batch)
        assert refused.value.detail.startswith(item) and refused.value.errors[0].field == "sku"
    listed = client.get("/api/v1/products", params={"limit": 50}, headers=admin).json()["items"]
    assert [p["sku"] for p in listed] == ["BK-OLD"]  # nothing of either batch
