"""Payment providers are enabled by configuration: a shop with the default settings refuses
the `test` card provider (which pays without money changing hands), so an anonymous guest
cannot place a paid order for free."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from merx.core.settings import Settings

DEFAULT_PROVIDERS = Settings.model_fields["payment_providers"].default


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    # this module's shop runs with the providers a fresh install has, not the test suite's
    return settings.model_copy(update={"payment_providers": DEFAULT_PROVIDERS})


def _shop_with_tee(shop):  # type: ignore[no-untyped-def]
    shop.location("WH")
    shop.product("TEE", price="3015.07")
    shop.stock("TEE", "WH", 5)


@pytest.mark.backends("sqlite", "postgresql")
def test_anonymous_order_with_the_test_provider_is_refused_by_default(shop, db):
    _shop_with_tee(shop)
    r = shop.order([("TEE", 1)], payment={"provider": "test"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    error = r.json()["errors"][0]
    assert error["field"] == "payment.provider" and "test" not in error["message"].split("one of ")[1]
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM orders")).scalar_one() == 0
    assert shop.levels("TEE")["WH"]["reserved"] == 0
    # the provider a fresh install enables still takes orders
    assert shop.order([("TEE", 1)], payment={"provider": "manual"}).status_code == 201


def test_a_provider_is_enabled_by_configuration(shop, app, monkeypatch):
    _shop_with_tee(shop)
    monkeypatch.setenv("MERX_PAYMENT_PROVIDERS", "manual, test")
    app.state.db.settings = Settings()  # what `merx serve` reads from its environment
    r = shop.order([("TEE", 1)], payment={"provider": "test"})
    assert r.status_code == 201, r.text
    assert r.json()["payment"]["status"] == "captured"
    monkeypatch.setenv("MERX_PAYMENT_PROVIDERS", "test")
    app.state.db.settings = Settings()
    r = shop.order([("TEE", 1)], payment={"provider": "manual"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "payment.provider"


def test_the_storefront_offers_only_enabled_providers(shop, client):
    _shop_with_tee(shop)
    client.get("/")
    client.post("/cart/add", data={"csrf_token": client.cookies.get("merx_csrf"), "sku": "TEE", "quantity": "1"})
    page = client.get("/checkout")
    assert page.status_code == 200, page.text[:500]
    assert 'name="payment" value="manual"' in page.text
    assert 'value="test"' not in page.text
