"""The storefront's shopper account pages over real HTTP (the ASGI app) with a real local SMTP
server: sign-up, the confirmation page, checkout as a signed-in shopper (prefilled, linked to
the account), order history and detail with the invoice PDF, addresses, saved carts, consent,
export and erasure; another shopper's order, invoice and address are 404 pages; the shopper's
cookie is not a console session."""

from __future__ import annotations

import html
import re

import pytest
from pydantic import SecretStr

from tests.web.conftest import csrf_of

PASSWORD = "lamp-lover-2026"
ADDRESS = {"name": "Ann Kowalska", "line1": "ul. Długa 5", "city": "Warszawa", "postal_code": "00-238",
           "country": "PL"}


@pytest.fixture
def settings(settings, smtp_server):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"smtp_url": SecretStr(smtp_server.url)})


def _link(message) -> str:  # type: ignore[no-untyped-def]
    body = message.get_body(("plain",)).get_content()
    match = re.search(r"http://testserver(/account/\S+)", body)
    assert match, body
    return match.group(1)


def _open(client, smtp_server, email: str) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/account/sign-up")
    before = len(smtp_server.messages)
    r = client.post("/account/sign-up", data={"csrf_token": csrf_of(page.text), "email": email, "first_name": "Ann",
                                              "last_name": "Kowalska", "password": PASSWORD,
                                              "password_again": PASSWORD})
    assert r.status_code == 200 and "Check your mailbox" in r.text
    link = _link(smtp_server.wait_for(before + 1)[before])
    page = client.get(link)
    assert page.status_code == 200 and email in page.text
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    r = client.post("/account/verify", data={"csrf_token": csrf_of(page.text), "token": token, "email": email,
                                             "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account"
    assert "merx_shopper" in client.cookies and "merx_session" not in client.cookies


def _order(client, **extra) -> str:  # type: ignore[no-untyped-def]
    client.get("/")
    client.post("/cart/add", data={"csrf_token": csrf_of(client.get("/cart").text), "sku": "MUG-1", "quantity": "2"})
    page = client.get("/checkout")
    # what the browser submits: the form's text fields as the page filled them in, then what is typed
    filled = {m.group(1): html.unescape(m.group(2)) for m in re.finditer(
        r'<input (?![^>]*type="(?:radio|checkbox|hidden)")[^>]*name="(\w+)"[^>]*value="([^"]*)"', page.text)}
    r = client.post("/checkout", data={**filled, "csrf_token": csrf_of(page.text), "fulfilment": "ship",
                                       "payment": "test", **extra}, follow_redirects=False)
    assert r.status_code == 303, r.text[:2000]
    return page.text


def test_shopper_signs_up_orders_with_a_prefilled_checkout_and_finds_it_in_the_history(client, shop, smtp_server):
    # a guest order with the email, before the account exists
    _order(client, email="ann@example.com", first_name="Ann", last_name="Guest", line1="Rynek 1", city="Kraków",
           postal_code="31-000", country="PL")
    _open(client, smtp_server, "ann@example.com")
    overview = client.get("/account")
    assert overview.status_code == 200 and "ann@example.com" in overview.text
    assert '<html lang="pl">' in client.get("/account?lang=pl").text  # the storefront's language stays
    assert '<html lang="pl">' in client.get("/account/orders").text  # remembered
    assert len(re.findall(r'href="/account/orders/\d+"', overview.text)) == 1  # the guest order was claimed
    # the shopper cookie gives no console access
    assert client.get("/console", follow_redirects=False).headers["location"].startswith("/console/login")

    book = client.get("/account/addresses")
    r = client.post("/account/addresses", data={"csrf_token": csrf_of(book.text), **ADDRESS, "label": "Home"},
                    follow_redirects=False)
    assert r.status_code == 303
    checkout = _order(client)  # nothing typed: email and address come from the account
    assert 'value="ann@example.com"' in checkout and 'value="ul. Długa 5"' in checkout
    assert "Signed in as ann@example.com" in checkout
    history = client.get("/account/orders")
    ids = re.findall(r'href="/account/orders/(\d+)"', history.text)
    assert len(ids) == 2
    detail = client.get(f"/account/orders/{ids[0]}")  # newest first: the one just placed
    assert detail.status_code == 200 and "ul. Długa 5" in detail.text and "Invoice" in detail.text
    pdf_link = re.search(r'href="(/account/orders/\d+/documents/\d+\.pdf)"', detail.text).group(1)
    pdf = client.get(pdf_link)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    # saved carts: save the cart, restore it
    client.post("/cart/add", data={"csrf_token": csrf_of(client.get("/cart").text), "sku": "LAMP-DESK", "quantity": "1"})
    cart = client.get("/cart")
    assert "Save for later" in cart.text
    r = client.post("/account/carts/save", data={"csrf_token": csrf_of(cart.text), "name": "Desk"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account/carts"
    carts = client.get("/account/carts")
    assert "Desk" in carts.text and "Nordic Desk Lamp" in carts.text
    assert "Your cart is empty" in client.get("/cart").text
    restore = re.search(r'action="(/account/carts/\d+/restore)"', carts.text).group(1)
    client.post(restore, data={"csrf_token": csrf_of(carts.text)})
    assert "Nordic Desk Lamp" in client.get("/cart").text

    # consent, export
    privacy = client.get("/account/privacy")
    r = client.post("/account/privacy/consent", data={"csrf_token": csrf_of(privacy.text), "consent_email": "on"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert re.search(r'name="consent_email" checked', client.get("/account/privacy").text)
    export = client.get("/account/privacy/export.json")
    assert export.status_code == 200 and "attachment" in export.headers["content-disposition"]
    data = export.json()
    assert data["customer"]["email"] == "ann@example.com" and len(data["orders"]) == 2
    assert data["addresses"][0]["line1"] == "ul. Długa 5" and data["storefront_account"]["status"] == "active"


def test_another_shoppers_order_invoice_and_address_are_not_found(client, app, shop, smtp_server):
    from fastapi.testclient import TestClient

    _open(client, smtp_server, "a@example.com")
    _order(client, email="a@example.com", first_name="A", last_name="A", line1="Rynek 1", city="Kraków",
           postal_code="31-000", country="PL")
    book = client.get("/account/addresses")
    client.post("/account/addresses", data={"csrf_token": csrf_of(book.text), **ADDRESS})
    order_id = re.search(r'href="/account/orders/(\d+)"', client.get("/account/orders").text).group(1)
    pdf_link = re.search(r'href="(/account/orders/\d+/documents/\d+\.pdf)"',
                         client.get(f"/account/orders/{order_id}").text).group(1)
    address_id = re.search(r'data-id="(\d+)"', client.get("/account/addresses").text).group(1)

    with TestClient(app, raise_server_exceptions=False) as other:
        _open(other, smtp_server, "b@example.com")
        assert other.get(f"/account/orders/{order_id}").status_code == 404
        assert other.get(pdf_link).status_code == 404
        assert other.get(f"/account/addresses?edit={address_id}").status_code == 404
        page = other.get("/account/addresses")
        assert other.post(f"/account/addresses/{address_id}/delete",
                          data={"csrf_token": csrf_of(page.text)}).status_code == 404
        assert 'id="no-orders"' in other.get("/account/orders").text
        # a form without the shopper's session-bound token is refused
        assert other.post("/account/addresses", data={"csrf_token": "forged", **ADDRESS}).status_code == 403
    assert client.get(f"/account/addresses?edit={address_id}").status_code == 200  # still A's


def test_erasure_signs_out_and_wrong_passwords_on_the_sign_in_page_lock(client, shop, smtp_server):
    _open(client, smtp_server, "erase@example.com")
    privacy = client.get("/account/privacy")
    wrong = client.post("/account/privacy/erase", data={"csrf_token": csrf_of(privacy.text), "confirm": "ERASE",
                                                        "password": "not-it-at-all"})
    assert wrong.status_code == 422
    r = client.post("/account/privacy/erase", data={"csrf_token": csrf_of(privacy.text), "confirm": "ERASE",
                                                    "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert client.get("/account", follow_redirects=False).headers["location"].startswith("/account/sign-in")
    page = client.get("/account/sign-in")
    statuses = []
    for _ in range(5):
        statuses.append(client.post("/account/sign-in", data={"csrf_token": csrf_of(page.text),
                                                              "email": "erase@example.com",
                                                              "password": PASSWORD}).status_code)
    # erased: an unknown email now, counted like a wrong password (the wrong erase password was the first)
    assert statuses == [401, 401, 401, 429, 429]
