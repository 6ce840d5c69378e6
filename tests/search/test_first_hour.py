"""Issue 20's search defects, through the real catalog, inventory and HTTP stack:
5. stock loaded without search's handlers (the demo) left search's stock table nearly empty,
   so the "Available at" filter, its facet and the logistics boosts were wrong; the filter
   listed a warehouse and raw location codes;
11. typo tolerance, completion while typing, suggestions on a zero-result page, and category
   browsing counted as empty searches in the zero-result report."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from merx.core.events import MessageBus
from merx.core.uow import UnitOfWork

SEARCH = "/api/v1/search"


def _product(client, admin, **body):
    body.setdefault("price", {"amount": "10.00", "currency": "EUR"})
    r = client.post("/api/v1/products", json=body, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.fixture
def lamps(client, admin):
    assert client.post("/api/v1/categories", json={"code": "lighting", "name": "Lamps"}, headers=admin).status_code == 201
    assert client.post("/api/v1/categories", json={"code": "empty", "name": "Empty shelf"}, headers=admin).status_code == 201
    return {
        "desk": _product(client, admin, sku="LMP-1", name="Desk lamp with LED", category="lighting"),
        "floor": _product(client, admin, sku="LMP-2", name="Floor lamp", category="lighting"),
        "mug": _product(client, admin, sku="MUG-1", name="Ceramic coffee mug"),
        "headphones": _product(client, admin, sku="HP-1", name="Wireless headphones"),
    }


def _load_stock_like_the_demo(db):
    """Locations and stock written through inventory's public functions on a bus nobody
    listens to: what `merx demo` does (it runs without the app's event handlers)."""
    from merx.inventory import public as inventory

    silent = MessageBus()
    ids = {}
    for code, name, kind in (("WH-POZ", "Poznań warehouse", "warehouse"), ("ST-WAW", "Warsaw, Marszałkowska 10", "store"),
                             ("ST-KRK", "Kraków, Floriańska 3", "store")):
        with UnitOfWork(db, message_bus=silent) as uow:
            ids[code] = inventory.create_location(uow, {"code": code, "name": name, "kind": kind})["id"]
    with UnitOfWork(db, message_bus=silent) as uow:
        for sku, code, qty in (("LMP-1", "WH-POZ", 10), ("LMP-1", "ST-WAW", 2), ("LMP-2", "WH-POZ", 5),
                               ("LMP-2", "ST-KRK", 1), ("MUG-1", "WH-POZ", 7)):
            inventory.receive_stock(uow, sku, ids[code], qty, reason="receipt", reference="test")
        uow.commit()


@pytest.mark.backends("sqlite", "postgresql")
def test_rebuild_reconciles_stock_loaded_without_search_handlers(client, admin, lamps, db, settings):
    from merx.search import models as m
    from merx.search import service

    _load_stock_like_the_demo(db)
    service.register_data_dir(db, settings.data_dir, settings.default_currency)
    service.rebuild_index(db, settings.data_dir)
    with UnitOfWork(db, readonly=True) as uow:
        rows = {(r.sku, r.location): (r.product_id, r.available) for r in uow.session.scalars(sa.select(m.StockPoint))}
    assert rows == {("LMP-1", "WH-POZ"): (lamps["desk"], 10), ("LMP-1", "ST-WAW"): (lamps["desk"], 2),
                    ("LMP-2", "WH-POZ"): (lamps["floor"], 5), ("LMP-2", "ST-KRK"): (lamps["floor"], 1),
                    ("MUG-1", "WH-POZ"): (lamps["mug"], 7)}
    # the API's store filter and facet follow inventory
    body = client.get(SEARCH, params={"q": "lamp", "lang": "en", "store": "ST-WAW"}).json()
    assert [i["product_id"] for i in body["items"]] == [lamps["desk"]]
    facet = {b["value"]: b["count"] for b in client.get(SEARCH, params={"q": "lamp", "lang": "en"}).json()["facets"]["store"]}
    assert facet == {"WH-POZ": 2, "ST-WAW": 1, "ST-KRK": 1}
    # the storefront's "Available at" lists stores by name, not the warehouse, not codes
    page = client.get("/search", params={"q": "lamp"}).text
    available_at = page.split("Available at", 1)[1].split("</fieldset>", 1)[0]
    assert "Warsaw, Marszałkowska 10" in available_at and "Kraków, Floriańska 3" in available_at
    assert "Poznań warehouse" not in available_at and "WH-POZ" not in available_at
    assert ">ST-WAW<" not in available_at and " ST-WAW " not in available_at
    # a location sold out later is dropped on the next reconciliation
    from merx.inventory import public as inventory

    with UnitOfWork(db, message_bus=MessageBus()) as uow:
        inventory.adjust(uow, sku="LMP-1", location="ST-WAW", delta=-2)
    assert service.sync_stock(db)["written"] == 1
    with UnitOfWork(db, readonly=True) as uow:
        assert uow.session.get(m.StockPoint, ("LMP-1", "ST-WAW")).available == 0


@pytest.mark.parametrize("typed, name", [("mugg", "Ceramic coffee mug"), ("lmap", "Desk lamp with LED")])
def test_four_letter_typos_are_forgiven_over_http(client, lamps, typed, name):
    names = [i["name"] for i in client.get(SEARCH, params={"q": typed, "lang": "en"}).json()["items"]]
    assert name in names


@pytest.mark.parametrize("typed, expected", [("lam", ["Desk lamp with LED", "Floor lamp"]),
                                             ("head", ["Wireless headphones"])])
def test_storefront_suggestions_complete_a_partial_word(client, lamps, typed, expected):
    r = client.get("/search/suggest", params={"q": typed})
    assert r.status_code == 200
    for name in expected:
        assert name in r.text
    assert "Ceramic coffee mug" not in r.text


def test_the_api_completes_the_last_word_when_asked(client, lamps):
    params = {"q": "desk la", "lang": "en", "retrieval": "lexical"}
    names = [i["name"] for i in client.get(SEARCH, params={**params, "complete": "true"}).json()["items"]]
    assert names[0] == "Desk lamp with LED"


def test_a_zero_result_page_suggests_what_to_try(client, lamps):
    body = client.get(SEARCH, params={"q": "lmpas", "lang": "en"}).json()
    assert body["total"] == 0 and "Lamps" in body["suggestions"]
    page = client.get("/search", params={"q": "lmpas"}).text
    assert "Try:" in page and 'href="/search?q=Lamps"' in page
    # a query that finds something carries no suggestions
    assert "suggestions" not in client.get(SEARCH, params={"q": "lamp", "lang": "en"}).json()


def test_category_browsing_is_not_an_empty_search_in_the_zero_result_report(client, admin, lamps):
    assert client.get(SEARCH, params={"category": "empty"}).json()["total"] == 0  # browsing, nothing filed there
    assert client.get("/search", params={"category": "empty"}).status_code == 200
    assert client.get(SEARCH, params={"q": "zebra saddle", "lang": "en"}).json()["total"] == 0
    report = client.get(f"{SEARCH}/reports/zero-results", headers=admin).json()
    assert [r["query"] for r in report] == ["zebra saddle"]


def test_an_index_written_by_an_older_version_is_replaced_not_a_crash(tmp_path):
    """The index gained a field (surface words): a data directory from before must not stop
    search; the index says it needs a rebuild, which the service runs before its next search."""
    import tantivy
    from search_helpers import make_doc

    from merx.search.documents import build_record
    from merx.search.index import SearchIndex

    sb = tantivy.SchemaBuilder()
    sb.add_unsigned_field("product_id", stored=True, indexed=True, fast=True)
    old_dir = tmp_path / "ix" / "index-old"
    old_dir.mkdir(parents=True)
    tantivy.Index(sb.build(), path=str(old_dir))
    (tmp_path / "ix" / "CURRENT").write_text("index-old")
    index = SearchIndex(tmp_path / "ix")
    assert index.needs_rebuild and index.num_docs() == 0
    index.rebuild([build_record(make_doc("Desk lamp", product_id=1))])
    assert not index.needs_rebuild and index.num_docs() == 1
