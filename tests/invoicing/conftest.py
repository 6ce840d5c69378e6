from __future__ import annotations

import pytest
from payment_shop import PROVIDERS, PayShop


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
