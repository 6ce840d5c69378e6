"""Issue 21: reports name products in the reader's language. The catalog's Polish name of a
product is shown to a Polish reader (API: `?lang=` or Accept-Language; console: `?lang=`, the
language cookie or Accept-Language), the default name to everyone else, and a product without
a Polish name keeps its default one. Orders go through the orders API (the real producer of
the events analytics records)."""

from __future__ import annotations

import pytest

from tests.web.conftest import form_sign_in as sign_in

POLISH = "Kubek ceramiczny"


def _order(client, lines):  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/orders", json={"channel": "web", "customer": {"email": "names@example.com"},
                                            "lines": [{"sku": s, "quantity": q} for s, q in lines],
                                            "payment": {"provider": "test", "behaviour": "succeed"}})
    assert r.status_code == 201, r.text


@pytest.fixture
def polish_mug(client, shop, admin):  # type: ignore[no-untyped-def]
    r = client.patch(f"/api/v1/products/{shop.product_ids['MUG-1']}",
                     json={"translations": {"pl": {"name": POLISH}}}, headers=admin)
    assert r.status_code == 200, r.text
    _order(client, [("MUG-1", 3), ("KETTLE-1", 1)])  # the kettle has no Polish name


def _names(rows, key):  # type: ignore[no-untyped-def]
    return {r[key]: r["name"] for r in rows if r.get(key) in ("MUG-1", "KETTLE-1")}


def test_api_reports_name_products_in_the_requested_language(client, admin, polish_mug):
    polish = {"MUG-1": POLISH, "KETTLE-1": "Steel Kettle"}
    default = {"MUG-1": "Ceramic Mug", "KETTLE-1": "Steel Kettle"}
    for extra, headers, expected in (({"lang": "pl"}, {}, polish),
                                     ({}, {"Accept-Language": "pl-PL,pl;q=0.9,en;q=0.5"}, polish),
                                     ({}, {}, default),
                                     ({"lang": "en"}, {"Accept-Language": "pl"}, default)):  # ?lang= wins
        h = admin | headers
        r = client.get("/api/v1/analytics/sales", params={"by": "product", **extra}, headers=h)
        assert r.status_code == 200, r.text
        assert _names(r.json()["rows"], "key") == expected
        r = client.get("/api/v1/analytics/pareto", params={"of": "products", **extra}, headers=h)
        assert r.status_code == 200, r.text
        assert _names(r.json()["rows"], "item") == expected
        r = client.get("/api/v1/analytics/portfolio", params=extra, headers=h)
        assert r.status_code == 200, r.text
        assert _names(r.json()["products"], "sku") == expected


def test_an_unknown_language_is_refused_naming_the_field(client, admin, polish_mug):
    r = client.get("/api/v1/analytics/pareto", params={"lang": "xx"}, headers=admin)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "lang" in r.text


def test_console_pages_name_products_in_the_readers_language(client, shop, polish_mug):
    sign_in(client, shop.users["admin"])
    page = client.get("/console/analytics/pareto", params={"lang": "pl"})
    assert page.status_code == 200
    assert POLISH in page.text and "Steel Kettle" in page.text
    page = client.get("/console/analytics/portfolio", headers={"Accept-Language": "pl"})
    assert page.status_code == 200
    assert POLISH in page.text
    page = client.get("/console/analytics/pareto")
    assert page.status_code == 200
    assert POLISH not in page.text and "Ceramic Mug" in page.text
    tile = client.get("/console/tiles/top", headers={"Accept-Language": "pl"})  # the dashboard's top products
    assert tile.status_code == 200
    assert POLISH in tile.text
    tile = client.get("/console/tiles/top")
    assert POLISH not in tile.text and "Ceramic Mug" in tile.text


def test_the_command_line_reports_take_a_language(client, db, settings, polish_mug, monkeypatch):
    import json

    from typer.testing import CliRunner

    from merx.cli import app as cli_app
    from merx.core.settings import reset_settings_cache

    monkeypatch.setenv("MERX_DATABASE_URL", db.url)
    monkeypatch.setenv("MERX_DATA_DIR", str(settings.data_dir))
    reset_settings_cache()
    try:
        out = CliRunner().invoke(cli_app, ["analytics", "sales", "--by", "product", "--json", "--lang", "pl"])
        assert out.exit_code == 0, out.output
        report = json.loads(out.output[out.output.index("{"):])
        assert _names(report["rows"], "key") == {"MUG-1": POLISH, "KETTLE-1": "Steel Kettle"}
    finally:
        monkeypatch.undo()
        reset_settings_cache()
