"""The event catalog in the docs is generated from the code and kept up to date."""

from __future__ import annotations

from merx.integration.catalog_doc import DOC_PATH, load_catalog, render_markdown


def test_docs_event_catalog_is_up_to_date():
    assert DOC_PATH.exists(), "docs/events.md is missing: run `merx events catalog`"
    assert DOC_PATH.read_text() == render_markdown(), "docs/events.md is stale: run `merx events catalog`"


def test_catalog_lists_every_registered_type_with_its_payload(client, admin):
    catalog = load_catalog()
    assert "webhook_endpoint.disabled" in catalog
    assert catalog["webhook_endpoint.disabled"]["payload"]["endpoint_id"] == "int"
    served = client.get("/api/v1/events/catalog", headers=admin).json()
    assert set(served) == set(catalog)
    for event_type, spec in catalog.items():
        assert f"### `{event_type}`" in render_markdown(catalog)
        assert spec["aggregate"]
