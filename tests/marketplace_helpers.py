"""Builders for marketplace tests: products, stock, sellers with keys and offers, all through
the real API (imported by name: pytest's pythonpath includes tests/sellers's parent)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


class Market:
    def __init__(self, client: Any, admin: dict[str, str], make_key: Any) -> None:
        self.client, self.admin, self.make_key = client, admin, make_key
        self._categories: set[str] = set()
        self._location = False

    def ok(self, r: Any, status: int = 200) -> Any:
        assert r.status_code == status, r.text
        return r.json()

    def category(self, code: str) -> None:
        if code not in self._categories:
            self.ok(self.client.post("/api/v1/categories", json={"code": code, "name": code.title()},
                                     headers=self.admin), 201)
            self._categories.add(code)

    def product(self, sku: str, price: str, category: str, **extra: Any) -> int:
        self.category(category)
        body = {"sku": sku, "name": extra.pop("name", f"Product {sku}"), "category": category,
                "price": {"amount": price, "currency": "EUR"}, **extra}
        return self.ok(self.client.post("/api/v1/products", json=body, headers=self.admin), 201)["id"]

    def stock(self, sku: str, qty: int) -> None:
        if not self._location:
            self.ok(self.client.post("/api/v1/locations", json={"code": "WH", "name": "Warehouse", "kind": "warehouse"},
                                     headers=self.admin), 201)
            self._location = True
        self.ok(self.client.post("/api/v1/inventory/adjustments", json={"sku": sku, "location": "WH", "delta": qty,
                                                                         "reason": "receipt"}, headers=self.admin))

    def seller(self, code: str, **extra: Any) -> tuple[int, dict[str, str]]:
        s = self.ok(self.client.post("/api/v1/sellers", json={"code": code, "name": code.title(), **extra},
                                     headers=self.admin), 201)
        return s["id"], self.make_key("seller", seller_id=s["id"])

    def offer(self, key: dict[str, str], sku: str, price: str, quantity: int = 10, **extra: Any) -> dict[str, Any]:
        body = {"sku": sku, "price": {"amount": price, "currency": "EUR"}, "quantity": quantity, **extra}
        return self.ok(self.client.post("/api/v1/offers", json=body, headers=key), 201)

    def checkout(self, lines: list[tuple[str, int, int | None]], **extra: Any) -> Any:
        body = {"channel": "marketplace", "customer": {"email": "shopper@example.com"},
                "lines": [{"sku": s, "quantity": q, **({"offer_id": o} if o else {})} for s, q, o in lines],
                "payment": {"provider": "test", "capture": True},
                "fulfilment": {"type": "ship", "address": {"name": "Ana Shopper", "line1": "1 Main St", "city": "Porto",
                                                          "postal_code": "4000-001", "country": "PT"}}, **extra}
        return self.client.post("/api/v1/orders", json=body, headers=self.admin)

    def seller_orders(self, key: dict[str, str], **params: Any) -> list[dict[str, Any]]:
        return self.ok(self.client.get("/api/v1/seller-orders", params=params, headers=key))["items"]


def cents(amount: str | Decimal) -> int:
    return int(Decimal(amount) * 100)
