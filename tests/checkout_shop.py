"""A taxed shop with shipping zones and a loyalty programme, for the loyalty-at-checkout and
cart-totals tests, built through the real API. Plain module: pytest's pythonpath has tests/."""

from __future__ import annotations

from typing import Any

from payment_shop import PayShop

PL = {"line1": "ul. Marszałkowska 1", "city": "Warszawa", "postal_code": "00-950", "country": "PL"}
SHIP_PL = {"type": "ship", "address": PL}


def loyalty_shop(client: Any, admin: dict[str, str], db: Any) -> PayShop:
    """PL rates, a PL courier zone by weight (5.00 up to 5 kg, free over 300.00), a programme:
    a point is worth 0.10 EUR, at least 100 points at once, at most half of the goods; Gold
    (from 1,000 lifetime points) ships free."""
    from merx.core.uow import UnitOfWork
    from merx.fiscal import public as fiscal

    with UnitOfWork(db) as uow:
        fiscal.seed_default_rates(uow)
    s = PayShop(client, admin, db)
    s.location("WH", accepts_returns=True)
    s.product("LAMP", price="123.00", attributes={"weight": "4"})
    s.product("BOOK", price="108.00", attributes={"tax_class": "reduced", "weight": "0.5"})
    for sku in ("LAMP", "BOOK"):
        s.stock(sku, "WH", 100)
    assert client.post("/api/v1/shipping/zones", json={"code": "PL", "name": "Poland", "countries": ["PL"]},
                       headers=admin).status_code == 201
    r = client.post("/api/v1/shipping/zones/PL/methods", headers=admin, json={
        "code": "courier", "name": "Courier", "currency": "EUR", "basis": "weight",
        "brackets": [{"from": "0", "price": "5.00"}, {"from": "5", "price": "9.00"}], "free_over": "300.00"})
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/loyalty/programs", headers=admin, json={
        "code": "club", "name": "Club", "currency": "EUR", "points_per_unit": "1", "point_value": "0.10",
        "redeem_min_points": 100, "redeem_max_share": "0.5",
        "tiers": [{"name": "Silver", "threshold": 0}, {"name": "Gold", "threshold": 1000, "benefits": ["free_shipping"]}]})
    assert r.status_code == 201, r.text
    assert r.json()["redeem_max_share"] in ("0.5", "0.50", 0.5, "0.5000")
    return s


def member(shop: PayShop, make_key: Any, email: str, points: int) -> tuple[int, dict[str, str]]:
    r = shop.client.post("/api/v1/customers", json={"email": email}, headers=shop.admin)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    r = shop.client.post("/api/v1/loyalty/adjust", json={"customer_id": cid, "points": points, "reason": "welcome"},
                         headers=shop.admin)
    assert r.status_code == 200, r.text
    return cid, make_key("customer", customer_id=cid)


def balance(shop: PayShop, cid: int) -> int:
    r = shop.client.get(f"/api/v1/customers/{cid}/loyalty", headers=shop.admin)
    assert r.status_code == 200, r.text
    return sum(a["balance"] for a in r.json()["accounts"])


def ledger(shop: PayShop, cid: int) -> list[tuple[str, int]]:
    r = shop.client.get(f"/api/v1/customers/{cid}/loyalty", headers=shop.admin)
    return [(e["kind"], e["points"]) for e in r.json()["ledger"]]


def body(lines: list[tuple[str, int]], **extra: Any) -> dict[str, Any]:
    return {"channel": "web", "customer": {}, "lines": [{"sku": s, "quantity": q} for s, q in lines],
            "fulfilment": SHIP_PL, **extra}
