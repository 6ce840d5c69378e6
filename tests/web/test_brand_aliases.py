"""The console's brands page (#22 leftover): catalog admins edit a brand's name and aliases
through a form (the same use case as `PATCH /api/v1/brands/{code}`, event brand.updated), a
seller sees the brands without the forms and cannot post them, other roles do not get the
page; a bad form is a sentence naming the field. Over real HTTP (the login form, CSRF) and,
for the form itself, in a real browser."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.web.conftest import csrf_of, form_sign_in as sign_in


def _brand(db, code: str) -> dict:
    from merx.catalog import public as catalog
    from merx.core.auth import SYSTEM
    from merx.core.uow import UnitOfWork

    with UnitOfWork(db, SYSTEM, readonly=True) as uow:
        return next(b.model_dump() for b in catalog.list_brands(uow) if b.code == code)


def _updated_events(db) -> list[dict]:
    from merx.core.models import OutboxEvent

    t = OutboxEvent.__table__
    with db.engine.connect() as conn:
        return [r.payload for r in conn.execute(sa.select(t.c.payload).where(t.c.type == "brand.updated")
                                                .order_by(t.c.seq))]


def test_staff_sets_aliases_in_the_console_and_search_is_told(client, shop, db):
    assert sign_in(client, shop.users["staff"]).status_code == 303
    page = client.get("/console/brands")
    assert page.status_code == 200, page.text[:300]
    assert 'action="/console/brands/lumen"' in page.text and "Lumen" in page.text
    form = {"csrf_token": csrf_of(page.text), "name": "Lumen", "aliases": "Люмен\nLumen Lighting, lumen lighting\n\n"}
    r = client.post("/console/brands/lumen", data=form, follow_redirects=False)
    assert r.status_code == 303, re.findall(r'class="error-box"[^>]*>([^<]*)', r.text)
    # one alias a line or comma-separated; repeats (any case) and blanks dropped
    assert _brand(db, "lumen")["aliases"] == ["Люмен", "Lumen Lighting"]
    event, = _updated_events(db)
    assert event["code"] == "lumen" and event["aliases"] == ["Люмен", "Lumen Lighting"] and event["product_ids"]
    listing = client.get("/console/brands").text
    assert "Люмен" in listing and "Lumen Lighting" in listing

    # clearing the box removes every alias
    r = client.post("/console/brands/lumen", data={**form, "aliases": ""}, follow_redirects=False)
    assert r.status_code == 303 and _brand(db, "lumen")["aliases"] == []

    # too many aliases: a sentence naming the field, the typed text kept, nothing saved
    many = "\n".join(f"alias {i}" for i in range(21))
    r = client.post("/console/brands/lumen", data={**form, "aliases": many})
    assert r.status_code == 422 and "aliases" in r.text and "Traceback" not in r.text
    assert "alias 20" in r.text  # the form keeps what was typed
    assert _brand(db, "lumen")["aliases"] == []
    # an unknown brand is a 404 page, not a 500
    assert client.post("/console/brands/nope", data=form).status_code == 404


def test_a_seller_sees_brands_without_forms_and_cannot_post_other_roles_get_no_page(client, shop, db):
    if "seller" not in shop.users:
        pytest.skip("the marketplace context (sellers) is not available")
    assert sign_in(client, shop.users["seller"]).status_code == 303
    page = client.get("/console/brands")
    assert page.status_code == 200 and "Lumen" in page.text
    assert 'action="/console/brands/lumen"' not in page.text
    r = client.post("/console/brands/lumen", data={"csrf_token": csrf_of(page.text), "name": "Mine", "aliases": "x"},
                    follow_redirects=False)
    assert r.status_code == 403
    assert (_brand(db, "lumen")["name"], _brand(db, "lumen")["aliases"]) == ("Lumen", [])
    for role in ("sales_rep", "support_agent"):
        client.cookies.clear()
        assert sign_in(client, shop.users[role]).status_code == 303
        assert client.get("/console/brands", follow_redirects=False).status_code == 403, role
    assert _updated_events(db) == []


@pytest.mark.slow
def test_staff_edits_a_brands_aliases_in_the_browser(page, served_shop, login, screenshot, db):
    login(page, served_shop.users["staff"])
    page.goto("/console/catalog")
    page.click("text=Brands and their aliases")
    page.wait_for_url("**/console/brands")
    row = page.locator("#brand-fjord")
    assert "none" in row.locator(".aliases").inner_text()
    row.locator("summary").click()
    row.locator("textarea[name=aliases]").fill("Fiord\nФьорд")
    screenshot(page, "brands-01-editing")
    with page.expect_navigation():
        row.locator("button[type=submit]").click()
    assert "Brand fjord saved." in page.locator(".flash").inner_text()
    assert page.locator("#brand-fjord .aliases").inner_text() == "Fiord, Фьорд"
    screenshot(page, "brands-02-saved")
    assert _brand(db, "fjord")["aliases"] == ["Fiord", "Фьорд"]
    assert page.errors == []
