"""The storefront speaks the shopper's language: `?lang=` (remembered), Accept-Language, and
attribute names instead of codes (issue #20, defect 10)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from merx.catalog import public as catalog
from merx.catalog.schemas import ProductPatch
from merx.core.auth import SYSTEM
from merx.core.uow import UnitOfWork
from tests.web.conftest import csrf_of


def _translate_desk_lamp(db, shop) -> int:  # type: ignore[no-untyped-def]
    pid = shop.product_ids["LAMP-DESK"]
    with UnitOfWork(db, actor=SYSTEM) as uow:
        catalog.update_product(uow, pid, ProductPatch(
            attributes={"color": "black"},
            translations={"pl": {"name": "Lampka biurkowa nordycka", "description": "Lampka na biurko."}}))
    return pid


def test_lang_parameter_shows_translations_and_is_remembered(client, shop, db) -> None:
    pid = _translate_desk_lamp(db, shop)
    page = client.get(f"/product/{pid}", params={"lang": "pl"})
    assert page.status_code == 200
    assert "Lampka biurkowa nordycka" in page.text and '<html lang="pl">' in page.text
    assert client.cookies.get("merx_lang") == "pl"
    # the next page without ?lang= stays in Polish (the cookie), and the home page's cards too
    assert "Lampka biurkowa nordycka" in client.get(f"/product/{pid}").text
    assert "Lampka biurkowa nordycka" in client.get("/").text
    # back to English
    assert "Nordic Desk Lamp" in client.get(f"/product/{pid}", params={"lang": "en"}).text


def test_accept_language_picks_the_translation_and_unknown_lang_is_ignored(app, shop, db) -> None:
    pid = _translate_desk_lamp(db, shop)
    with TestClient(app) as browser:
        page = browser.get(f"/product/{pid}", headers={"Accept-Language": "pl-PL,pl;q=0.9,en;q=0.8"})
        assert "Lampka biurkowa nordycka" in page.text
        english = browser.get(f"/product/{pid}", params={"lang": "xx"}, headers={"Accept-Language": "en"})
        assert english.status_code == 200 and "Nordic Desk Lamp" in english.text


def test_product_page_names_attributes_not_codes(client, shop, db) -> None:
    pid = _translate_desk_lamp(db, shop)
    text = client.get(f"/product/{pid}").text
    assert "<dt>Colour</dt><dd>black</dd>" in text and "<dt>color</dt>" not in text


def test_language_picker_keeps_the_search_query(client, shop) -> None:
    text = client.get("/search", params={"q": "lamp"}).text
    assert '<input type="hidden" name="q" value="lamp">' in text
    assert '<option value="pl"' in text


def test_cart_and_checkout_name_products_in_the_shoppers_language(client, shop, db) -> None:
    _translate_desk_lamp(db, shop)
    client.get("/", params={"lang": "pl"})  # the shopper browses in Polish (remembered)
    client.post("/cart/add", data={"csrf_token": csrf_of(client.get("/cart").text), "sku": "LAMP-DESK", "quantity": "1"})
    cart = client.get("/cart").text
    assert "Lampka biurkowa nordycka" in cart and "Nordic Desk Lamp" not in cart
    assert "Lampka biurkowa nordycka" in client.get("/checkout").text
    assert "Nordic Desk Lamp" in client.get("/cart", params={"lang": "en"}).text
