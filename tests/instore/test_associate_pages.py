"""The associate app, kiosk and console report pages over HTTP (the real app, real sign-in):
each page answers for the right people and refuses the others."""

from __future__ import annotations

import re
from typing import Any

import pytest

from instore_shop import PASSWORD, chain  # noqa: F401 - the fixture


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match
    return match.group(1)


def _sign_in(client: Any, email: str) -> None:
    page = client.get("/associate/login")
    done = client.post("/associate/login", data={"email": email, "password": PASSWORD, "csrf_token": _csrf(page.text),
                                                  "next": "/associate"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/associate"


def test_associate_pages_answer_and_stay_in_their_store(client: Any, chain: Any) -> None:
    assert client.get("/associate", follow_redirects=False).headers["location"].startswith("/associate/login")
    _sign_in(client, chain.users["waw"])
    home = client.get("/associate")
    assert home.status_code == 200 and "Warsaw store" in home.text
    for path in ("/associate/find?q=lamp", "/associate/product/LAMP-FLOOR", "/associate/cart",
                 "/associate/customers?q=nowak", "/associate/pickups", "/associate/returns", "/associate/reports",
                 "/associate/customers/new", "/associate/manifest.webmanifest", "/associate/sw.js"):
        page = client.get(path)
        assert page.status_code == 200, (path, page.text[:500])
    assert "2 customers match" in client.get("/associate/customers?q=nowak").text
    nothing = client.get("/associate/code?code=5012345678900")
    assert nothing.status_code == 404 and "No product has the code 5012345678900" in nothing.text
    assert client.get("/associate/code?code=4006381333931", follow_redirects=False).headers["location"] == \
        "/associate/product/LAMP-FLOOR"
    # Switching to a store the associate is not bound to is refused.
    token = _csrf(home.text)
    assert client.post("/associate/store", data={"store": "ST-KRK", "csrf_token": token}).status_code == 403
    # The console is not for associates.
    assert client.get("/console/stores").status_code == 403


def test_console_store_report_and_csv(client: Any, chain: Any) -> None:
    page = client.get("/console/login")
    client.post("/console/login", data={"email": chain.users["staff"], "password": PASSWORD,
                                        "csrf_token": _csrf(page.text), "next": "/console"})
    report = client.get("/console/stores")
    assert report.status_code == 200 and "ST-GDN" in report.text
    csv_text = client.get("/console/stores.csv").text
    assert csv_text.splitlines()[0].startswith("store,assisted_orders")
    assert sorted(line.split(",")[0] for line in csv_text.splitlines()[1:]) == ["ST-GDN", "ST-KRK", "ST-WAW"]


def test_kiosk_pages_and_unknown_store(client: Any, chain: Any) -> None:
    home = client.get("/kiosk/ST-WAW")
    assert home.status_code == 200
    # locked down: no way from the kiosk to staff pages, and they need a sign-in
    for page in (home.text, client.get("/kiosk/ST-WAW/product/LAMP-DESK").text):
        assert not re.search(r'(href|action)="/(associate|console)', page)
    assert client.get("/associate/pickups", follow_redirects=False).headers["location"].startswith("/associate/login")
    assert client.get("/kiosk/ST-NOPE").status_code == 404
    assert client.get("/kiosk/WH-POZ").status_code == 404  # a warehouse has no kiosk
    assert client.get("/kiosk/ST-WAW/search?q=kettle").status_code == 200
    assert client.get("/pay/forged-token").status_code == 404


def test_an_online_pickup_order_shows_its_code_and_the_store_hands_over_with_it(client: Any, db: Any,
                                                                                  chain: Any) -> None:
    from merx.core.auth import SYSTEM
    from merx.core.uow import UnitOfWork
    from merx.orders import public as orders
    from merx.web.auth import session

    with UnitOfWork(db, SYSTEM) as uow:
        order = orders.place_order(uow, orders.OrderCreate(
            channel="web", customer={"email": "guest@example.com", "last_name": "Zielińska"},
            lines=[{"sku": "LAMP-DESK", "quantity": 1}], fulfilment={"type": "pickup", "location": "ST-WAW"},
            payment={"provider": "manual"}))
    secret = client.app.state.settings.secret_key.get_secret_value().encode()
    status = client.get(f"/order/{session.sign(secret, {'order': order['id']}, 'order-status')}")
    code = re.search(r'id="pickup-code">Your pickup code: <strong>(\d{6})</strong>', status.text).group(1)
    _sign_in(client, chain.users["waw"])
    token = _csrf(client.get("/associate/pickups").text)
    client.post(f"/associate/pickups/{order['id']}/ready", data={"csrf_token": token})
    wrong = client.post(f"/associate/pickups/{order['id']}/hand-over",
                        data={"csrf_token": token, "code": "999999" if code != "999999" else "111111",
                              "payment_collected": "yes"})
    assert wrong.status_code == 422 and "does not match" in wrong.text
    done = client.post(f"/associate/pickups/{order['id']}/hand-over",
                       data={"csrf_token": token, "code": code, "payment_collected": "yes"}, follow_redirects=False)
    assert done.status_code == 303
    with UnitOfWork(db, SYSTEM) as uow:
        assert orders.get_order(uow, order["id"])["status"] == "picked_up"


def _console_sign_in(client: Any, email: str) -> None:
    page = client.get("/console/login")
    client.post("/console/login", data={"email": email, "password": PASSWORD, "csrf_token": _csrf(page.text),
                                        "next": "/console"})


def test_an_admin_binds_an_associate_to_stores_on_the_users_page(client: Any, db: Any, chain: Any) -> None:
    _console_sign_in(client, chain.users["admin"])
    page = client.get("/console/users")
    assert page.status_code == 200
    waw = chain.user_ids["waw"]
    form = re.search(rf'<form[^>]*id="stores-{waw}".*?</form>', page.text, re.S).group(0)
    assert re.search(r'value="ST-WAW" checked', form) and not re.search(r'value="ST-KRK" checked', form)
    assert f'id="stores-{chain.user_ids["staff"]}"' not in page.text  # staff act in every store already
    moved = client.post(f"/console/users/{waw}/stores", data={"csrf_token": _csrf(page.text),
                                                              "store": ["ST-KRK", "ST-GDN"]}, follow_redirects=True)
    assert "Stores saved" in moved.text
    form = re.search(rf'<form[^>]*id="stores-{waw}".*?</form>', moved.text, re.S).group(0)
    assert re.findall(r'value="(ST-[A-Z]+)" checked', form) == ["ST-GDN", "ST-KRK"]  # by name: Gdańsk, Kraków
    # No store ticked: refused with a sentence, the bindings unchanged.
    none = client.post(f"/console/users/{waw}/stores", data={"csrf_token": _csrf(moved.text)}, follow_redirects=True)
    assert "Not saved" in none.text and "at least one store" in none.text

    # The binding is what the associate may now do: Kraków yes, Warsaw no.
    from merx.core.auth import Principal, Role
    from merx.core.errors import Forbidden
    from merx.core.uow import UnitOfWork
    from merx.instore import public as instore

    me = Principal(user_id=waw, role=Role.store_associate, name="Marta")
    with UnitOfWork(db, me) as uow:
        assert [s.code for s in instore.my_stores(uow)] == ["ST-GDN", "ST-KRK"]
        instore.require_store(uow, "ST-KRK")
        with pytest.raises(Forbidden):
            instore.require_store(uow, "ST-WAW")


def test_only_an_admin_binds_stores_in_the_console(client: Any, chain: Any) -> None:
    _console_sign_in(client, chain.users["staff"])
    token = _csrf(client.get("/console").text)
    refused = client.post(f"/console/users/{chain.user_ids['waw']}/stores",
                          data={"csrf_token": token, "store": ["ST-KRK"]})
    assert refused.status_code == 403
