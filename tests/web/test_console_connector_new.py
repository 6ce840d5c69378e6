"""Creating and deleting a connector from the console over the real ASGI stack (issue #20):
an admin defines one (mapping and transport as JSON, the connector's own checks beside the box,
422, what was typed kept), runs a file through it, and deletes it behind a confirmation tick;
staff read connectors but get 403 on both writes."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.web.conftest import csrf_of, form_sign_in as sign_in

MAPPING = {"fields": {"sku": {"source": "sku", "required": True}, "location": {"source": "loc"},
                      "quantity": {"source": "qty", "type": "integer", "min": 0}}}


def _field_error(html: str, key: str) -> str:
    m = re.search(rf'data-field="{re.escape(key)}"[^>]*>([^<]+)<', html)
    assert m, f"no message next to {key}"
    return m.group(1)


@pytest.mark.backends("sqlite", "postgresql")
def test_admin_creates_runs_and_deletes_a_connector(client: Any, shop: Any, admin: Any) -> None:
    sign_in(client, shop.users["admin"])
    assert 'href="/console/new-connector"' in client.get("/console/connectors").text
    page = client.get("/console/new-connector")
    assert page.status_code == 200 and "quantity" in page.text  # an example mapping to start from
    token = csrf_of(page.text)
    form = {"csrf_token": token, "code": "wms-stock", "name": "WMS stock", "direction": "inbound",
            "target": "stock_levels", "format": "csv", "active": "on", "mapping": json.dumps(MAPPING), "transport": ""}

    not_json = client.post("/console/new-connector", data={**form, "mapping": "{fields: sku}"})
    assert not_json.status_code == 422 and "not JSON" in _field_error(not_json.text, "mapping")
    assert "{fields: sku}" in not_json.text  # kept as typed
    bad_type = client.post("/console/new-connector", data={
        **form, "mapping": json.dumps({"fields": {"sku": {"source": "sku"}, "quantity": {"source": "q", "type": "money"}}})})
    assert bad_type.status_code == 422 and _field_error(bad_type.text, "mapping")
    bad_code = client.post("/console/new-connector", data={**form, "code": "WMS Stock"})
    assert bad_code.status_code == 422 and _field_error(bad_code.text, "code")
    assert client.get("/api/v1/connectors/wms-stock", headers=admin).status_code == 404

    made = client.post("/console/new-connector", data=form, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"] == "/console/connectors/wms-stock"
    got = client.get("/api/v1/connectors/wms-stock", headers=admin).json()
    assert (got["name"], got["target"], got["active"]) == ("WMS stock", "stock_levels", True)
    assert got["mapping"]["fields"]["quantity"]["type"] == "integer"
    duplicate = client.post("/console/new-connector", data=form)
    assert duplicate.status_code == 422 and _field_error(duplicate.text, "code")

    # the new connector works: a file through it sets the stock
    run = client.post("/console/connectors/wms-stock/run", data={"csrf_token": token},
                      files={"file": ("levels.csv", b"sku,loc,qty\nMUG-1,WH-POZ,77\n", "text/csv")})
    assert run.status_code < 500
    stock = client.get("/api/v1/inventory/stock", params={"sku": "MUG-1", "location": "WH-POZ"}, headers=admin)
    assert stock.json()["items"][0]["on_hand"] == 77

    unticked = client.post("/console/connectors/wms-stock/delete", data={"csrf_token": token}, follow_redirects=False)
    assert unticked.status_code == 303
    assert client.get("/api/v1/connectors/wms-stock", headers=admin).status_code == 200
    gone = client.post("/console/connectors/wms-stock/delete", data={"csrf_token": token, "confirm": "yes"},
                       follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == "/console/connectors"
    assert client.get("/api/v1/connectors/wms-stock", headers=admin).status_code == 404
    assert client.get("/console/connectors/wms-stock").status_code == 404
    assert client.post("/console/connectors/wms-stock/delete",
                       data={"csrf_token": token, "confirm": "yes"}).status_code == 404


def test_staff_cannot_create_or_delete_connectors(client: Any, shop: Any, admin: Any) -> None:
    assert client.post("/api/v1/connectors", headers=admin, json={
        "code": "keep", "name": "Keep", "target": "stock_levels", "mapping": MAPPING}).status_code == 201
    sign_in(client, shop.users["staff"])
    listing = client.get("/console/connectors").text
    assert "keep" in listing and 'href="/console/new-connector"' not in listing
    assert "connector-delete" not in client.get("/console/connectors/keep").text
    token = csrf_of(listing) if 'name="csrf_token"' in listing else csrf_of(client.get("/console/orders").text)
    assert client.get("/console/new-connector").status_code == 403
    assert client.post("/console/new-connector", data={"csrf_token": token, "code": "x", "name": "X",
                                                       "target": "stock_levels", "mapping": "{}"}).status_code == 403
    assert client.post("/console/connectors/keep/delete", data={"csrf_token": token, "confirm": "yes"}).status_code == 403
    assert client.get("/api/v1/connectors/keep", headers=admin).status_code == 200
    client.cookies.clear()
    sign_in(client, shop.users["admin"])
    assert client.post("/console/connectors/keep/delete", data={"confirm": "yes"}).status_code == 403  # no CSRF token
