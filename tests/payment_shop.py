"""A small shop for payments, taxes and invoicing tests, built through the real API (locations,
stock, orders) and the catalog's service (products). Plain module: pytest's pythonpath has tests/."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

PROVIDERS = "manual,test,testcard,bank_transfer,cod"


class PayShop:
    def __init__(self, client: Any, admin: dict[str, str], db: Any) -> None:
        self.client, self.admin, self.db = client, admin, db

    def location(self, code: str, kind: str = "warehouse", **fields: Any) -> dict[str, Any]:
        body = {"code": code, "name": fields.pop("name", code.title()), "kind": kind, **fields}
        r = self.client.post("/api/v1/locations", json=body, headers=self.admin)
        assert r.status_code == 201, r.text
        return r.json()

    def product(self, sku: str, price: str = "10.00", currency: str = "EUR", **fields: Any) -> None:
        from merx.catalog import service as catalog
        from merx.catalog.schemas import ProductCreate
        from merx.core.uow import UnitOfWork

        with UnitOfWork(self.db) as uow:
            catalog.create_product(uow, ProductCreate(sku=sku, name=fields.pop("name", f"Product {sku}"),
                                                      price={"currency": currency, "amount": price}, **fields))

    def stock(self, sku: str, location: str, qty: int) -> None:
        r = self.client.post("/api/v1/inventory/adjustments", json={"sku": sku, "location": location, "delta": qty,
                                                                     "reason": "receipt"}, headers=self.admin)
        assert r.status_code == 200, r.text

    def basic(self, price: str = "100.00") -> None:
        self.location("WH")
        self.product("TEE", price=price)
        self.stock("TEE", "WH", 50)

    def order(self, lines: list[tuple[str, int]], *, email: str = "buyer@example.com", **body: Any) -> Any:
        payload = {"channel": "web", "customer": {"email": email},
                   "lines": [{"sku": s, "quantity": q} for s, q in lines], **body}
        return self.client.post("/api/v1/orders", json=payload, headers=body.pop("headers", None) or {})

    def get_order(self, order_id: int) -> dict[str, Any]:
        r = self.client.get(f"/api/v1/orders/{order_id}", headers=self.admin)
        assert r.status_code == 200, r.text
        return r.json()

    def payment_of(self, order_id: int) -> dict[str, Any]:
        r = self.client.get("/api/v1/payments", headers=self.admin)
        assert r.status_code == 200, r.text
        found = [p for p in r.json()["items"] if p["order_id"] == order_id]
        assert len(found) == 1, r.json()
        return found[0]

    def events(self, event_type: str, aggregate_id: int) -> int:
        with self.db.engine.connect() as conn:
            return conn.execute(sa.text("SELECT COUNT(*) FROM outbox_events WHERE type = :t AND aggregate_id = :a"),
                                {"t": event_type, "a": str(aggregate_id)}).scalar_one()

    def count(self, table: str) -> int:
        with self.db.engine.connect() as conn:
            return conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()  # noqa: S608 - test tables

    def reserved(self, sku: str) -> int:
        r = self.client.get("/api/v1/inventory/stock", params={"sku": sku}, headers=self.admin)
        return sum(row["reserved"] for row in r.json()["items"])


# Fixtures the payments, fiscal and invoicing suites share (their conftest.py files import them).


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"payment_providers": PROVIDERS})


@pytest.fixture
def shop(client, admin, db) -> PayShop:  # type: ignore[no-untyped-def]
    return PayShop(client, admin, db)


@pytest.fixture
def taxed(shop, db):  # type: ignore[no-untyped-def]
    """PL, RO, DE and GB rates, a PL zone by weight (free over 300), an EU zone by subtotal."""
    from merx.core.uow import UnitOfWork
    from merx.fiscal import public as fiscal

    with UnitOfWork(db) as uow:
        fiscal.seed_default_rates(uow)
    shop.location("WH")
    shop.location("SHOP1", kind="store", pickup=True)
    shop.product("BOOK", price="108.00", attributes={"tax_class": "reduced", "weight": "0.5"})
    shop.product("LAMP", price="123.00", attributes={"weight": "4"})
    for sku in ("BOOK", "LAMP"):
        shop.stock(sku, "WH", 100)
        shop.stock(sku, "SHOP1", 10)
    a = shop.admin
    assert shop.client.post("/api/v1/shipping/zones", json={"code": "PL", "name": "Poland", "countries": ["PL"]},
                            headers=a).status_code == 201
    r = shop.client.post("/api/v1/shipping/zones/PL/methods", headers=a, json={
        "code": "courier", "name": "Courier", "currency": "EUR", "basis": "weight",
        "brackets": [{"from": "0", "price": "5.00"}, {"from": "5", "price": "9.00"}], "free_over": "300.00"})
    assert r.status_code == 201, r.text
    assert shop.client.post("/api/v1/shipping/zones", json={"code": "EU", "name": "EU", "countries": ["DE", "RO", "FR"]},
                            headers=a).status_code == 201
    assert shop.client.post("/api/v1/shipping/zones/EU/methods", headers=a, json={
        "code": "post", "name": "Post", "currency": "EUR", "basis": "subtotal",
        "brackets": [{"from": "0", "price": "12.30"}]}).status_code == 201
    return shop
