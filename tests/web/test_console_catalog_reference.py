"""Catalog reference data in the console over the real ASGI stack (issue #20): staff search and
page categories, create one, rename it, move it in the tree (never under itself) and name it
in another language; create an enum attribute, rename it and add options, while removing an
option is refused beside the field (products may carry it). Sales reps and sellers cannot open
these pages; the PATCH /attributes route behind the form answers problem+json."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.conftest import csrf_of, form_sign_in as sign_in


def _field_error(html: str, key: str) -> str:
    m = re.search(rf'data-field="{re.escape(key)}"[^>]*>([^<]+)<', html)
    assert m, f"no message next to {key}"
    return m.group(1)


def _category(client: Any, code: str) -> dict[str, Any]:
    return client.get(f"/api/v1/categories/{code}").json()


@pytest.mark.backends("sqlite", "postgresql")
def test_staff_create_move_and_translate_a_category(client, shop, db):
    sign_in(client, shop.users["staff"])
    assert "/console/categories" in client.get("/console/catalog").text
    page = client.get("/console/categories")
    assert page.status_code == 200 and "/console/categories/lighting" in page.text
    found = client.get("/console/categories", params={"q": "kitch"}).text
    assert "/console/categories/kitchen" in found and "/console/categories/lighting" not in found
    token = csrf_of(page.text)

    dup = client.post("/console/categories", data={"csrf_token": token, "code": "kitchen", "name": "Again"})
    assert dup.status_code == 422 and 'value="Again"' in dup.text
    made = client.post("/console/categories", data={"csrf_token": token, "code": "desk-lamps", "name": "Desk lamps",
                                                     "parent": "home"}, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"] == "/console/categories/desk-lamps"
    assert _category(client, "desk-lamps")["path"] == ["home", "desk-lamps"]

    url = "/console/categories/home"
    under_itself = client.post(url, data={"csrf_token": token, "name": "Home", "parent": "desk-lamps"})
    assert under_itself.status_code == 422 and "itself" in _field_error(under_itself.text, "parent")
    unnamed = client.post(url, data={"csrf_token": token, "name": "", "parent": ""})
    assert unnamed.status_code == 422 and _field_error(unnamed.text, "name")

    moved = client.post("/console/categories/desk-lamps", follow_redirects=False, data={
        "csrf_token": token, "name": "Desk lamps & lights", "parent": "lighting", "t.pl": "Lampki biurkowe"})
    assert moved.status_code == 303
    cat = _category(client, "desk-lamps")
    assert (cat["name"], cat["path"], cat["translations"]) == (
        "Desk lamps & lights", ["home", "lighting", "desk-lamps"], {"pl": "Lampki biurkowe"})
    # the category page does not offer itself or its descendants as a parent
    home = client.get(url).text
    assert 'value="desk-lamps"' not in home and 'value="lighting"' not in home


@pytest.mark.backends("sqlite", "postgresql")
def test_staff_create_an_enum_attribute_and_add_options_but_not_remove_them(client, shop, db):
    sign_in(client, shop.users["staff"])
    token = csrf_of(client.get("/console/attributes").text)
    no_options = client.post("/console/attributes", data={"csrf_token": token, "code": "finish", "name": "Finish",
                                                          "type": "enum", "options": ""})
    assert no_options.status_code == 422 and _field_error(no_options.text, "options")
    made = client.post("/console/attributes", data={"csrf_token": token, "code": "finish", "name": "Finish",
                                                     "type": "enum", "options": "matt, gloss"}, follow_redirects=False)
    assert made.status_code == 303
    assert "/console/attributes/finish" in client.get("/console/attributes", params={"q": "gloss"}).text

    url = "/console/attributes/finish"
    removed = client.post(url, data={"csrf_token": token, "name": "Finish", "options": "matt"})
    assert removed.status_code == 422 and "gloss" in _field_error(removed.text, "options")
    assert 'value="matt"' in removed.text  # what was typed is kept
    saved = client.post(url, data={"csrf_token": token, "name": "Surface finish", "options": "matt, gloss, satin"},
                        follow_redirects=False)
    assert saved.status_code == 303
    attr = next(a for a in client.get("/api/v1/attributes").json()["items"] if a["code"] == "finish")
    assert (attr["name"], attr["options"]) == ("Surface finish", ["matt", "gloss", "satin"])
    assert client.get("/console/attributes/nope").status_code == 404


def test_reference_pages_are_closed_to_other_roles(client, shop, db):
    for role in ("sales_rep", "support_agent", "seller"):
        client.cookies.clear()
        sign_in(client, shop.users[role])
        for url in ("/console/categories", "/console/categories/home", "/console/attributes",
                    "/console/attributes/color"):
            assert client.get(url).status_code == 403, (role, url)
        token = csrf_of(client.get("/console/password").text)
        assert client.post("/console/categories/home", data={"csrf_token": token, "name": "X"}).status_code == 403
        assert client.post("/console/attributes/color", data={"csrf_token": token, "name": "X"}).status_code == 403
        assert client.patch("/api/v1/attributes/color", json={"name": "X"},
                            headers={"X-CSRF-Token": token}).status_code == 403
    client.cookies.clear()
    sign_in(client, shop.users["admin"])
    assert _category(client, "home")["name"] == "Home"
    token = csrf_of(client.get("/console/attributes").text)
    r = client.patch("/api/v1/attributes/color", json={"options": ["red"]}, headers={"X-CSRF-Token": token})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "options"  # a text attribute has none
