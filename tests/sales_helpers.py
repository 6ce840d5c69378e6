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
    return {row["location"]: row for row in r.json()}[code]
