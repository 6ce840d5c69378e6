"""Shared by the sales tests: sales people with API keys (their user ids too), and a small shop
(a warehouse, products, stock) built through the real API and the catalog's service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Person:
    user_id: int
    headers: dict[str, str]


def person(db: Any, role: str, name: str) -> Person:
    from merx.core import accounts
    from merx.core.auth import Role
    from merx.core.uow import UnitOfWork

    with UnitOfWork(db) as uow:
        issued = accounts.create_user_with_key(uow, name=name, role=Role(role))
    return Person(issued.user_id, {"Authorization": f"Bearer {issued.key}"})


def product(db: Any, sku: str, price: str, currency: str = "EUR") -> None:
    from merx.catalog import service as catalog
    from merx.catalog.schemas import ProductCreate
    from merx.core.uow import UnitOfWork

    with UnitOfWork(db) as uow:
        catalog.create_product(uow, ProductCreate(sku=sku, name=f"Product {sku}", status="active",
                                                  price={"currency": currency, "amount": price}))


def warehouse_with_stock(client: Any, admin: dict[str, str], stock: dict[str, int], code: str = "WH1") -> None:
    r = client.post("/api/v1/locations", json={"code": code, "name": "Main warehouse", "kind": "warehouse"},
                    headers=admin)
    assert r.status_code == 201, r.text
    for sku, qty in stock.items():
        r = client.post("/api/v1/inventory/adjustments", json={"sku": sku, "location": code, "delta": qty,
                                                                "reason": "receipt"}, headers=admin)
        assert r.status_code == 200, r.text


def stock_level(client: Any, admin: dict[str, str], sku: str, code: str = "WH1") -> dict[str, Any]:
    r = client.get("/api/v1/inventory/stock", params={"sku": sku}, headers=admin)
    assert r.status_code == 200, r.text
    return {row["location"]: row for row in r.json()["items"]}[code]


def outbox_matches_published_schemas(db: Any) -> set[str]:
    """Every outbox event validates against its generated JSON Schema (docs/events/) and decodes
    back into its class; returns the event types seen."""
    import json

    import jsonschema_rs
    import sqlalchemy as sa

    from merx.core.events import DomainEvent
    from merx.core.models import OutboxEvent
    from merx.integration.catalog_doc import SCHEMA_DIR

    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(OutboxEvent.__table__).order_by(OutboxEvent.__table__.c.seq)).all()
    seen: set[str] = set()
    for row in rows:
        path = SCHEMA_DIR / f"{row.type}.v{row.schema_version}.json"
        assert path.exists(), f"{row.type} v{row.schema_version} has no published schema"
        errors = [e.message for e in jsonschema_rs.validator_for(json.loads(path.read_text())).iter_errors(row.payload)]
        assert not errors, (row.type, row.payload, errors)
        envelope = DomainEvent(type=row.type, aggregate_type=row.aggregate_type, aggregate_id=row.aggregate_id,
                               payload=row.payload, schema_version=row.schema_version)
        assert envelope.data.payload() == row.payload
        seen.add(row.type)
    return seen
