"""A small shop for support tests, made through the public API: products, stock, and an
order taken all the way to delivered (verified-purchase reviews and follow-ups need one)."""

from __future__ import annotations

from typing import Any


def product(client: Any, admin: dict[str, str], sku: str, name: str, price: str = "10.00", **fields: Any) -> int:
    r = client.post("/api/v1/products", json={"sku": sku, "name": name, "price": {"amount": price, "currency": "EUR"},
                                              **fields}, headers=admin)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def warehouse(client: Any, admin: dict[str, str], code: str = "WH") -> None:
    r = client.post("/api/v1/locations", json={"code": code, "name": "Warehouse", "kind": "warehouse"}, headers=admin)
    assert r.status_code == 201, r.text


def stock(client: Any, admin: dict[str, str], sku: str, qty: int, location: str = "WH") -> None:
    r = client.post("/api/v1/inventory/adjustments", json={"sku": sku, "location": location, "delta": qty,
                                                           "reason": "receipt"}, headers=admin)
    assert r.status_code == 200, r.text


def delivered_order(client: Any, admin: dict[str, str], email: str, lines: list[tuple[str, int]]) -> dict[str, Any]:
    r = client.post("/api/v1/orders", json={"channel": "web", "customer": {"email": email},
                                            "lines": [{"sku": s, "quantity": q} for s, q in lines]})
    assert r.status_code == 201, r.text
    order = r.json()
    oid = order["id"]
    r = client.post(f"/api/v1/orders/{oid}/fulfil", json={"carrier": "DHL", "tracking_number": "JD1"}, headers=admin)
    assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/orders/{oid}/deliver", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "delivered", r.text
    return r.json()
