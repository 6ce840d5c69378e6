"""Core HTTP behaviour every endpoint relies on: health, metrics, problem+json, auth, request ids."""

from __future__ import annotations

import pytest


@pytest.mark.backends("sqlite", "postgresql")
def test_healthz_checks_the_database(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["database"] == "ok"


def test_metrics_are_prometheus_text_for_admins_only(client, make_key):
    from prometheus_client.parser import text_string_to_metric_families

    admin = make_key("admin")
    client.get("/healthz")
    client.get("/api/v1/products/123456", headers=admin)  # counted by route template, not raw path
    assert client.get("/metrics").status_code == 401
    for role in ("staff", "support_agent"):
        assert client.get("/metrics", headers=make_key(role)).status_code == 403
    r = client.get("/metrics", headers=admin)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    requests = {(s.labels["method"], s.labels["route"], s.labels["status"]): s.value
                for s in families["merx_http_requests"].samples if s.name == "merx_http_requests_total"}
    assert requests[("GET", "/healthz", "200")] == 1
    assert requests[("GET", "/api/v1/products/{product_id}", "404")] == 1
    latency = {s.name for s in families["merx_http_request_duration_seconds"].samples}
    assert latency == {"merx_http_request_duration_seconds_bucket", "merx_http_request_duration_seconds_sum",
                       "merx_http_request_duration_seconds_count"}
    assert "process_cpu_seconds" in families and "merx_db_pool_checked_out" in families


def test_metrics_accept_the_scrape_token(db, settings):
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from merx.app import create_app

    app = create_app(settings.model_copy(update={"metrics_token": SecretStr("scrape-me-0123456789")}), db)
    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get("/metrics", headers={"Authorization": "Bearer scrape-me-0123456789"}).status_code == 200
        assert c.get("/metrics", headers={"Authorization": "Bearer scrape-me-wrong"}).status_code == 401


def test_openapi_and_docs_are_served(client):
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "Merx API"
    assert any(p.startswith("/api/v1/") for p in spec["paths"])
    assert client.get("/docs").status_code == 200


def test_unknown_route_is_problem_json(client):
    r = client.get("/api/v1/nope")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 404


def test_request_id_is_echoed_or_assigned(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    assert len(client.get("/healthz").headers["x-request-id"]) == 26


def test_bad_bearer_key_is_401(client):
    r = client.get("/api/v1/me", headers={"Authorization": "Bearer mx_not-a-key"})
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"
    r = client.get("/api/v1/me", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401


def test_me_reports_role(client, make_key):
    assert client.get("/api/v1/me").json()["role"] is None
    assert client.get("/api/v1/me", headers=make_key("staff")).json()["role"] == "staff"


def test_only_admin_creates_api_keys_and_keys_are_stored_hashed(client, admin, make_key, db):
    body = {"name": "erp", "role": "staff"}
    assert client.post("/api/v1/api-keys", json=body).status_code == 401
    assert client.post("/api/v1/api-keys", json=body, headers=make_key("staff")).status_code == 403
    r = client.post("/api/v1/api-keys", json=body, headers=admin)
    assert r.status_code == 201, r.text
    key = r.json()["key"]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).json()["name"] == "erp"
    import sqlalchemy as sa

    with db.engine.connect() as conn:
        stored = [row[0] for row in conn.execute(sa.text("SELECT key_hash FROM api_keys"))]
    assert key not in stored and all(len(h) == 64 for h in stored)
    # revoked keys stop working
    client.delete(f"/api/v1/api-keys/{r.json()['api_key_id']}", headers=admin)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).status_code == 401


def test_seller_key_must_name_its_seller(client, admin):
    r = client.post("/api/v1/api-keys", json={"name": "s", "role": "seller"}, headers=admin)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "seller_id"


def test_unknown_field_is_named(client, admin):
    r = client.post("/api/v1/api-keys", json={"name": "x", "role": "staff", "colour": "red"}, headers=admin)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "colour"
    assert r.json()["errors"][0]["message"] == "unknown field"


def test_invalid_json_is_422(client, admin):
    r = client.post("/api/v1/api-keys", content=b"{nope", headers={**admin, "Content-Type": "application/json"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body"


def test_body_over_limit_is_413_and_writes_nothing(client, admin, db):
    big = {"name": "x" * 300_000, "role": "staff"}
    r = client.post("/api/v1/api-keys", json=big, headers=admin)
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"
    import sqlalchemy as sa

    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM users")).scalar() == 1  # only the admin


def test_audit_log_records_writes(client, admin):
    client.post("/api/v1/api-keys", json={"name": "audited", "role": "staff"}, headers=admin)
    entries = client.get("/api/v1/audit-log?entity_type=user", headers=admin).json()["items"]
    assert any(e["after"]["name"] == "audited" and e["action"] == "create" for e in entries)
