"""Editing a connector from the console: an admin renames the column a field is read from and
adds a value map, and the next import reads the file that way; a bad mapping (JSON or a value
map) is named beside its field and nothing changes; staff may not edit (as in the API)."""

from __future__ import annotations

import html
import json
import re

from tests.web.conftest import csrf_of, form_sign_in as sign_in

MAPPING = {"fields": {"sku": {"source": "sku", "required": True},
                      "location": {"source": "location", "required": True},
                      "quantity": {"source": "qty", "type": "integer", "required": True, "min": 0}}}


def _connector(client, admin):  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/connectors", json={"code": "wms", "name": "WMS stock", "target": "stock_levels",
                                                "format": "csv", "mapping": MAPPING}, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()


def _error(html: str, key: str) -> str:
    m = re.search(rf'data-field="{re.escape(key)}"[^>]*>([^<]+)<', html)
    assert m, f"no message next to {key}"
    return m.group(1)


def _form(page: str, **changes: str) -> dict[str, str]:
    base = {"csrf_token": csrf_of(page), "name": "WMS stock", "active": "on", "source_sku": "sku",
            "default_sku": "", "map_sku": "", "source_location": "location", "default_location": "",
            "map_location": "", "source_quantity": "qty", "default_quantity": "", "map_quantity": ""}
    return {**base, **changes}


def test_admin_renames_a_column_adds_a_value_map_and_the_next_import_reads_it(client, shop, admin):
    _connector(client, admin)
    sign_in(client, shop.users["admin"])
    assert 'href="/console/connectors/wms/edit"' in client.get("/console/connectors/wms").text
    page = client.get("/console/connectors/wms/edit").text
    r = client.post("/console/connectors/wms/edit", data=_form(page, name="WMS nightly stock", source_quantity="Menge",
                                                                map_location="MAIN=WH-POZ, SHOP=ST-WAW"),
                    follow_redirects=True)
    assert "Connector saved" in r.text and "WMS nightly stock" in r.text
    saved = client.get("/api/v1/connectors/wms", headers=admin).json()
    assert saved["mapping"]["fields"]["quantity"] == {"source": "Menge", "type": "integer", "required": True, "min": 0}
    assert saved["mapping"]["fields"]["location"]["value_map"] == {"MAIN": "WH-POZ", "SHOP": "ST-WAW"}
    body = b"sku,location,Menge\nLAMP-DESK,MAIN,41\n"
    run = client.post("/console/connectors/wms/run", data={"csrf_token": csrf_of(r.text)},
                      files={"file": ("stock.csv", body, "text/csv")}, follow_redirects=True)
    assert "1 updated" in run.text
    stock = client.get("/api/v1/inventory/stock?sku=LAMP-DESK", headers=admin).json()["items"]
    assert {s["location"]: s["on_hand"] for s in stock}["WH-POZ"] == 41


def test_a_bad_mapping_is_named_beside_its_field_and_nothing_changes(client, shop, admin):
    _connector(client, admin)
    sign_in(client, shop.users["admin"])
    page = client.get("/console/connectors/wms/edit").text
    r = client.post("/console/connectors/wms/edit", data=_form(page, map_location="MAIN WH-POZ"))
    assert r.status_code == 422 and "is not a pair like MAIN=WH1" in _error(r.text, "field_location")
    r = client.post("/console/connectors/wms/edit", data=_form(page, source_sku=" "))
    assert r.status_code == 422 and "Give the column" in _error(r.text, "field_sku")
    r = client.post("/console/connectors/wms/mapping", data={"csrf_token": csrf_of(page), "mapping_json": "{fields"})
    assert r.status_code == 422 and "This is not JSON" in _error(r.text, "mapping_json")
    wrong = {"fields": {**MAPPING["fields"], "quantity": {"source": "qty", "type": "float"}}}
    r = client.post("/console/connectors/wms/mapping", data={"csrf_token": csrf_of(page),
                                                              "mapping_json": json.dumps(wrong)})
    assert r.status_code == 422 and "mapping.fields.quantity.type" in _error(r.text, "mapping_json")
    assert '"float"' in html.unescape(r.text)  # what was typed stays in the box
    assert client.get("/api/v1/connectors/wms", headers=admin).json()["mapping"]["fields"] == MAPPING["fields"]
    fine = {**MAPPING, "csv": {"delimiter": ";"}}
    r = client.post("/console/connectors/wms/mapping", data={"csrf_token": csrf_of(page),
                                                              "mapping_json": json.dumps(fine)}, follow_redirects=True)
    assert "Connector saved" in r.text
    assert client.get("/api/v1/connectors/wms", headers=admin).json()["mapping"]["csv"] == {"delimiter": ";"}


def test_staff_cannot_edit_a_connector(client, shop, admin, make_key):
    _connector(client, admin)
    sign_in(client, shop.users["staff"])
    assert 'href="/console/connectors/wms/edit"' not in client.get("/console/connectors/wms").text
    assert client.get("/console/connectors/wms/edit").status_code == 403
    page = client.get("/console/connectors/wms").text
    assert client.post("/console/connectors/wms/edit", data=_form(page, name="Mine")).status_code == 403
    assert client.patch("/api/v1/connectors/wms", json={"name": "Mine"}, headers=make_key("staff")).status_code == 403
    assert client.get("/api/v1/connectors/wms", headers=admin).json()["name"] == "WMS stock"
