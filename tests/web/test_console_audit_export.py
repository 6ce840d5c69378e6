"""The audit log's CSV and Excel export over the real ASGI stack (issue #20): the file holds
exactly the entries the page's filters select, newest first, with who, what and the before /
after values; a bad filter is the page with the message beside the field (422), never an
unfiltered file; only admins download it."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from tests.web.conftest import form_sign_in as sign_in


def _promotion(client: Any, admin: Any, name: str) -> dict[str, Any]:
    r = client.post("/api/v1/promotions", headers=admin, json={"name": name, "kind": "order_percent", "percent": "10"})
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.backends("sqlite", "postgresql")
def test_export_follows_the_filters(client: Any, shop: Any, admin: Any) -> None:
    first = _promotion(client, admin, "=HYPERLINK(\"http://evil\")")  # a formula must not survive into the file
    second = _promotion(client, admin, "Lamp week")
    client.patch(f"/api/v1/promotions/{second['id']}", headers=admin, json={"name": "Lamp month"})
    sign_in(client, shop.users["admin"])
    page = client.get("/console/audit-log", params={"entity_type": "promotion"}).text
    assert 'href="/console/audit-log.csv?entity_type=promotion"' in page

    r = client.get("/console/audit-log.csv", params={"entity_type": "promotion"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="audit-log.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["entity_type"] for row in rows} == {"promotion"}
    assert [(row["action"], row["entity_id"]) for row in rows][:3] == [
        ("update", str(second["id"])), ("create", str(second["id"])), ("create", str(first["id"]))]  # newest first
    update = rows[0]
    assert json.loads(update["before"])["name"] == "Lamp week" and json.loads(update["after"])["name"] == "Lamp month"
    assert update["actor_role"] == "admin" and update["actor"]
    assert not any(row["after"].startswith(("=", "+", "-", "@")) for row in rows)
    assert all(not v.startswith("=") for row in rows for v in row.values())

    only_updates = list(csv.DictReader(io.StringIO(client.get(
        "/console/audit-log.csv", params={"entity_type": "promotion", "action": "update"}).text)))
    assert [row["entity_id"] for row in only_updates] == [str(second["id"])]
    nothing = client.get("/console/audit-log.csv", params={"since": "2099-01-01T00:00"})
    assert nothing.status_code == 200 and list(csv.DictReader(io.StringIO(nothing.text))) == []

    xlsx = client.get("/console/audit-log.xlsx", params={"entity_type": "promotion", "action": "update"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    header, *data = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert header[:6] == ["id", "at", "actor_user_id", "actor", "actor_role", "action"] and len(data) == 1


def test_a_bad_filter_is_refused_beside_the_field_and_only_admins_export(client: Any, shop: Any) -> None:
    sign_in(client, shop.users["admin"])
    bad = client.get("/console/audit-log.csv", params={"since": "last week"})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
    assert 'data-field="since"' in bad.text
    assert client.get("/console/audit-log.pdf").status_code == 404
    for role in ("staff", "support_agent"):
        client.cookies.clear()
        sign_in(client, shop.users[role])
        assert client.get("/console/audit-log.csv").status_code == 403, role
        assert client.get("/console/audit-log.xlsx").status_code == 403, role
