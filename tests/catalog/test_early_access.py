"""Early access over real HTTP: a product launched later is visible and for sale before its
launch to the members of a CRM segment (repeat customers: two orders or more), and to nobody
else outside the back office: product API and storefront page (404), listings, search results,
suggestions and facet counts, carts and checkout (API, storefront, guest) refuse it naming the
line. Once the launch time is behind us everyone sees and buys it, with no re-index."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import SecretStr

from tests.web.conftest import csrf_of, seed_shop

PASSWORD = "lamp-lover-2026"
A = "/api/v1/storefront/account"
SKU = "LAMP-AURORA"


@pytest.fixture
def settings(settings, smtp_server):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"smtp_url": SecretStr(smtp_server.url),
                                       "public_url": "https://shop.example.test"})


def _open_account(client, smtp_server, email: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    before = len(smtp_server.messages)
    r = client.post(f"{A}/sign-up", json={"email": email, "password": PASSWORD, "first_name": "Ann"})
    assert r.status_code == 202, r.text
    body = smtp_server.wait_for(before + 1)[before].get_body(("plain",)).get_content()
    token = re.search(r"https://shop\.example\.test/account/verify\?token=(\S+)", body).group(1)
    r = client.post(f"{A}/verify", json={"token": token, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def _order(client, headers, sku: str = "MUG-1", **customer):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/orders", headers=headers, json={
        "channel": "web", "customer": customer, "lines": [{"sku": "MUG-1", "quantity": 1}, {"sku": sku, "quantity": 1}]
        if sku != "MUG-1" else [{"sku": "MUG-1", "quantity": 1}],
        "fulfilment": {"type": "ship"}, "payment": {"provider": "manual"}})


def _storefront(app, email: str | None) -> TestClient:  # type: ignore[no-untyped-def]
    """A browser of its own: signed in through the storefront's sign-in form (or a guest)."""
    browser = TestClient(app, raise_server_exceptions=False)
    if email is not None:
        page = browser.get("/account/sign-in")
        r = browser.post("/account/sign-in", data={"csrf_token": csrf_of(page.text), "email": email,
                                                   "password": PASSWORD}, follow_redirects=False)
        assert r.status_code == 303 and "merx_shopper" in browser.cookies, r.text[:500]
    return browser


def _ids(r) -> list[int]:  # type: ignore[no-untyped-def]
    assert r.status_code == 200, r.text
    return [i["product_id"] for i in r.json()["items"]]


def _facet(r, name: str, value: str) -> int:  # type: ignore[no-untyped-def]
    return next((b["count"] for b in r.json()["facets"].get(name, []) if b["value"] == value), 0)


def _add_to_cart(browser) -> str:  # type: ignore[no-untyped-def]
    token = csrf_of(browser.get("/").text)  # bound to the shopper's session when signed in
    r = browser.post("/cart/add", data={"csrf_token": token, "sku": SKU, "quantity": "1"})
    assert r.status_code == 200, r.text[:500]  # followed to the cart page
    return r.text


def _storefront_checkout(browser) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    _add_to_cart(browser)
    return _checkout(browser)


def _checkout(browser) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    page = browser.get("/checkout")
    r = browser.post("/checkout", data={
        "csrf_token": csrf_of(page.text), "email": "someone@example.com", "first_name": "Ann", "last_name": "Buyer",
        "line1": "ul. Długa 5", "city": "Warszawa", "postal_code": "00-238", "country": "PL", "fulfilment": "ship",
        "payment": "manual"}, follow_redirects=False)
    return r.status_code, r.text


@pytest.mark.backends("sqlite", "postgresql")
def test_early_access_for_a_segment_before_launch_then_everyone(app, client, db, admin, smtp_server):
    seed_shop(db)
    member = _open_account(client, smtp_server, "repeat@example.com")
    other = _open_account(client, smtp_server, "once@example.com")
    for _ in range(2):
        assert _order(client, member).status_code == 201
    assert _order(client, other).status_code == 201
    r = client.post("/api/v1/segments", headers=admin, json={"name": "Repeat customers",
                                                              "expression": "orders_count >= 2"})
    assert r.status_code == 201, r.text
    segment = r.json()
    assert segment["member_count"] == 1

    # an unknown segment is a 422 naming the field
    launch = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=7)
    body = {"sku": SKU, "name": "Aurora Table Lamp", "category": "lighting", "brand": "lumen",
            "price": {"amount": "59.00", "currency": "EUR"}, "launch_at": launch.isoformat()}
    r = client.post("/api/v1/products", headers=admin, json={**body, "early_access_segment": segment["id"] + 99})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "early_access_segment"
    r = client.post("/api/v1/products", headers=admin, json={**body, "early_access_segment": segment["id"]})
    assert r.status_code == 201, r.text
    product = r.json()
    assert product["early_access"] is True and product["early_access_segment"] == segment["id"]
    pid = product["id"]
    from merx.core.uow import UnitOfWork
    from merx.inventory import service as inventory

    with UnitOfWork(db) as uow:
        inventory.adjust(uow, sku=SKU, location="WH-POZ", delta=10)

    # --- before the launch -----------------------------------------------------------------
    # product API: 404 for a guest and a non-member, the product for the member and staff
    assert client.get(f"/api/v1/products/{pid}").status_code == 404
    assert client.get(f"/api/v1/products/{pid}", headers=other).status_code == 404
    assert client.get(f"/api/v1/products/{pid}", headers=member).json()["early_access"] is True
    assert client.get(f"/api/v1/products/{pid}", headers=admin).status_code == 200
    listed = lambda h: [p["id"] for p in client.get("/api/v1/products?category=lighting&limit=50",  # noqa: E731
                                                     headers=h).json()["items"]]
    assert pid not in listed(other) and pid not in listed({}) and pid in listed(member) and pid in listed(admin)

    # search: results and facet counts
    q = {"q": "aurora lamp", "lang": "en", "retrieval": "lexical"}
    assert pid in _ids(client.get("/api/v1/search", params=q, headers=admin))
    for who in ({}, other):
        r = client.get("/api/v1/search", params=q, headers=who)
        assert pid not in _ids(r)
        assert _facet(r, "brand", "Lumen") == 1 and _facet(r, "category", "lighting") == 3
    r = client.get("/api/v1/search", params=q, headers=member)
    assert pid in _ids(r) and _facet(r, "brand", "Lumen") == 2 and _facet(r, "category", "lighting") == 4

    # checkout and carts over the API: refused for a non-member and a guest, naming the line
    r = _order(client, other, SKU)
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [{"field": "lines[1].sku", "code": "not_launched", "message": r.json()["errors"][0]["message"]}]
    assert "not on sale before its launch" in r.json()["errors"][0]["message"]
    assert _order(client, {}, SKU, email="guest@example.com").status_code == 422
    r = client.post("/api/v1/carts", json={"channel": "web", "lines": [{"sku": SKU, "quantity": 1}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "lines[0].sku"
    placed = _order(client, member, SKU)
    assert placed.status_code == 201, placed.text

    # the storefront: page, listings, search, suggestions, badge, cart and checkout
    guest, outsider, insider = _storefront(app, None), _storefront(app, "once@example.com"), \
        _storefront(app, "repeat@example.com")
    for browser in (guest, outsider):
        assert browser.get(f"/product/{pid}").status_code == 404
        assert f'href="/product/{pid}"' not in browser.get("/search?q=aurora+lamp").text
        assert f'href="/product/{pid}"' not in browser.get("/search?category=lighting").text
        assert f'href="/product/{pid}"' not in browser.get("/search/suggest?q=auror").text
        assert f'href="/product/{pid}"' not in browser.get("/").text
        cart = _add_to_cart(browser)
        assert "Aurora Table Lamp is not on sale yet" in cart and 'name="qty_LAMP-AURORA"' not in cart
    page = insider.get(f"/product/{pid}")
    assert page.status_code == 200 and 'id="early-access"' in page.text
    results = insider.get("/search?q=aurora+lamp").text
    assert f'href="/product/{pid}"' in results and "Early access" in results
    assert f'href="/product/{pid}"' in insider.get("/search/suggest?q=auror").text
    assert 'name="qty_LAMP-AURORA"' in _add_to_cart(insider)
    # the member signs out with it in the cart: the guest checkout refuses the line
    leaver = _storefront(app, "repeat@example.com")
    _add_to_cart(leaver)
    leaver.post("/account/sign-out", data={"csrf_token": csrf_of(leaver.get("/account").text)})
    assert "merx_shopper" not in leaver.cookies
    status, text = _checkout(leaver)
    error = re.search(r'id="checkout-error">([^<]*)', text).group(1)
    assert status == 422 and "lines[0].sku" in error.lower() and "not on sale before its launch" in error, error
    status, text = _checkout(insider)
    assert status == 303, text[:2000]

    # --- the launch time passes (the row changes, no event: nothing is re-indexed) ----------
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE catalog_products SET launch_at = :t WHERE id = :id"),
                     {"t": (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)).replace(tzinfo=None)
                      if db.engine.dialect.name == "sqlite" else dt.datetime.now(dt.timezone.utc)
                      - dt.timedelta(minutes=1), "id": pid})
    assert client.get(f"/api/v1/products/{pid}").json()["early_access"] is False
    r = client.get("/api/v1/search", params=q, headers=other)
    assert pid in _ids(r) and _facet(r, "brand", "Lumen") == 2 and _facet(r, "category", "lighting") == 4
    assert pid in listed({})
    assert _order(client, other, SKU).status_code == 201
    assert _order(client, {}, SKU, email="guest@example.com").status_code == 201
    assert guest.get(f"/product/{pid}").status_code == 200
    assert 'id="early-access"' not in guest.get(f"/product/{pid}").text
    assert f'href="/product/{pid}"' in guest.get("/search?q=aurora+lamp").text
    status, text = _storefront_checkout(guest)
    assert status == 303, text[:2000]


def test_a_seller_cannot_name_a_segment(client, db, admin, make_key):
    shop = seed_shop(db)
    seller = make_key("seller", seller_id=shop.seller_id)
    r = client.post("/api/v1/products", headers=seller, json={
        "sku": "S-1", "name": "Seller lamp", "status": "draft", "early_access_segment": 1,
        "price": {"amount": "10.00", "currency": "EUR"}})
    assert r.status_code == 403 and r.json()["errors"][0]["field"] == "early_access_segment"
    r = client.patch(f"/api/v1/products/{shop.product_ids['LAMP-PEND']}", headers=seller,
                     json={"launch_at": "2030-01-01T00:00:00Z"})  # its own launch time it may set
    assert r.status_code == 200 and r.json()["launch_at"].startswith("2030-01-01")


def test_console_product_editor_sets_the_launch_and_the_segment(app, client, db, admin):
    from tests.web.conftest import form_sign_in

    public = TestClient(app, raise_server_exceptions=False)  # no console session

    shop = seed_shop(db)
    r = client.post("/api/v1/segments", headers=admin, json={"name": "Repeat customers",
                                                              "expression": "orders_count >= 2"})
    segment_id = r.json()["id"]
    pid = shop.product_ids["LAMP-FLOOR"]
    assert form_sign_in(client, "staff@shop.test").status_code == 303
    page = client.get(f"/console/catalog/{pid}")
    assert page.status_code == 200 and 'name="launch_at"' in page.text and "Repeat customers" in page.text
    form = {m.group(1): m.group(2) for m in re.finditer(r'<input [^>]*name="(\w+)"[^>]*value="([^"]*)"', page.text)}
    form.update({"csrf_token": csrf_of(page.text), "status": "active", "launch_at": "2030-05-01T09:00",
                 "early_access_segment": str(segment_id)})
    r = client.post(f"/console/catalog/{pid}", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text[:2000]
    saved = client.get(f"/api/v1/products/{pid}", headers=admin).json()
    assert saved["launch_at"].startswith("2030-05-01T09:00") and saved["early_access_segment"] == segment_id
    assert public.get(f"/api/v1/products/{pid}").status_code == 404  # hidden from the public until then
    page = client.get(f"/console/catalog/{pid}")
    assert 'value="2030-05-01T09:00"' in page.text and "hidden from the public" in page.text
    # an unknown segment is refused on the page, naming the field
    form.update({"csrf_token": csrf_of(page.text), "early_access_segment": str(segment_id + 50),
                 "version": str(saved["version"])})
    r = client.post(f"/console/catalog/{pid}", data=form, follow_redirects=False)
    assert r.status_code == 422 and "early_access_segment" in r.text
    # emptying the launch puts it on sale to everyone
    form.update({"early_access_segment": "", "launch_at": ""})
    r = client.post(f"/console/catalog/{pid}", data=form, follow_redirects=False)
    assert r.status_code == 303
    assert public.get(f"/api/v1/products/{pid}").status_code == 200
