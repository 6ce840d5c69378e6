"""Idempotency-Key over the real app: a retry after a crash that lost the answer gets the
order the first attempt created (never a second order), a slow first attempt that a retry
took over cannot commit, keys are scoped per signed-in user (an anonymous caller never gets
an admin's answer), JSON bodies match by meaning, and old records are purged."""

from __future__ import annotations

import datetime as dt
import time

import pytest
import sqlalchemy as sa

from merx.core import idempotency
from merx.core.db import utcnow
from merx.core.idempotency import IdempotencyClaim, LostClaim
from merx.core.uow import UnitOfWork

API = "/api/v1"
STALE_SECONDS = 0.3
PASSWORD = "correct horse battery"


@pytest.fixture
def settings(settings):  # type: ignore[no-untyped-def]
    # a first attempt is presumed dead after 0.3 s here (two minutes by default)
    return settings.model_copy(update={"idempotency_stale_seconds": STALE_SECONDS})


@pytest.fixture
def crash_before_answer_is_stored(monkeypatch):  # type: ignore[no-untyped-def]
    """Fault injection: the process dies after the work committed, before the middleware
    stored the answer (what SIGKILL does; tests/orders/test_checkout_crash.py does it for real)."""
    monkeypatch.setattr(idempotency, "finish", lambda *args, **kwargs: None)
    return monkeypatch


def _count(db, table: str) -> int:  # type: ignore[no-untyped-def]
    with db.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()


def _shop(client, admin):  # type: ignore[no-untyped-def]
    from merx.catalog import service as catalog
    from merx.catalog.schemas import ProductCreate

    assert client.post(f"{API}/locations", json={"code": "WH", "name": "Warehouse", "kind": "warehouse"},
                       headers=admin).status_code == 201
    with UnitOfWork(client.app.state.db) as uow:
        catalog.create_product(uow, ProductCreate(sku="TEE", name="Tee", price={"currency": "EUR", "amount": "20.00"}))
    assert client.post(f"{API}/inventory/adjustments", json={"sku": "TEE", "location": "WH", "delta": 5,
                                                             "reason": "receipt"}, headers=admin).status_code == 200


ORDER = {"channel": "web", "customer": {"email": "retry@example.com"}, "lines": [{"sku": "TEE", "quantity": 1}],
         "payment": {"provider": "test"}}


@pytest.mark.backends("sqlite", "postgresql")
def test_a_retry_after_the_answer_was_lost_gets_the_same_order_not_a_second_one(client, admin, db,
                                                                                  crash_before_answer_is_stored):
    _shop(client, admin)
    first = client.post(f"{API}/orders", json=ORDER, headers={"Idempotency-Key": "lost-answer"})
    assert first.status_code == 201, first.text
    crash_before_answer_is_stored.undo()  # the server is back
    time.sleep(STALE_SECONDS * 2)  # the retry comes after the first attempt is presumed dead
    retry = client.post(f"{API}/orders", json=ORDER, headers={"Idempotency-Key": "lost-answer"})
    assert retry.status_code == 201, retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"] and retry.json()["status"] == "paid"
    assert _count(db, "orders") == 1
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT SUM(reserved) FROM inventory_stock")).scalar_one() == 1


def test_a_route_that_names_no_resource_is_not_repeated_after_a_lost_answer(client, admin, db,
                                                                           crash_before_answer_is_stored):
    body = {"code": "ST-1", "name": "Store", "kind": "store"}
    assert client.post(f"{API}/locations", json=body, headers={**admin, "Idempotency-Key": "loc"}).status_code == 201
    crash_before_answer_is_stored.undo()
    time.sleep(STALE_SECONDS * 2)
    retry = client.post(f"{API}/locations", json=body, headers={**admin, "Idempotency-Key": "loc"})
    assert retry.status_code == 409, retry.text
    assert retry.json()["type"].endswith("/idempotency-answer-lost")
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM inventory_locations WHERE code = 'ST-1'")).scalar_one() == 1


@pytest.mark.backends("sqlite", "postgresql")
def test_a_slow_first_attempt_that_a_retry_took_over_cannot_commit(db):
    def take(stale_after: dt.timedelta):  # type: ignore[no-untyped-def]
        return idempotency.claim(db, scope_key="key:test", key="slow", method="POST", path="/api/v1/things",
                                 fingerprint="same", stale_after=stale_after)

    slow = take(dt.timedelta(minutes=2))
    assert isinstance(slow, IdempotencyClaim)
    assert take(dt.timedelta(minutes=2)).status == 409  # still running: the retry is told to wait
    retry = take(dt.timedelta(0))  # presumed dead: the retry takes the key over
    assert isinstance(retry, IdempotencyClaim) and retry.token != slow.token

    with UnitOfWork(db, idempotency=slow) as uow:
        uow.audit("create", "thing", 1)
        with pytest.raises(LostClaim):
            uow.commit()
    with UnitOfWork(db, idempotency=retry) as uow:
        uow.audit("create", "thing", 2)
        uow.commit()
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT entity_id FROM audit_log")).scalars().all() == ["2"]
    # the work committed: a later retry never runs it again
    again = take(dt.timedelta(0))
    assert again.status == 409 and again.type_slug == "idempotency-answer-lost"


def _sign_in_admin(client, db) -> str:  # type: ignore[no-untyped-def]
    import re

    from merx.core import accounts
    from merx.core.auth import Role

    with UnitOfWork(db) as uow:
        accounts.create_user(uow, name="Console Admin", role=Role.admin, email="boss@example.com", password=PASSWORD)
        uow.commit()
    page = client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post("/console/login", data={"email": "boss@example.com", "password": PASSWORD, "csrf_token": token,
                                            "next": "/console"}, follow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    # the CSRF token is bound to the session: read it off a signed-in page
    console = client.get("/console")
    return re.search(r'name="csrf-token" content="([^"]+)"', console.text).group(1)


@pytest.mark.backends("sqlite", "postgresql")
def test_an_anonymous_caller_never_gets_a_signed_in_users_answer(app, client, db):
    from fastapi.testclient import TestClient

    csrf = _sign_in_admin(client, db)
    body = {"name": "integration bot", "role": "staff"}
    created = client.post(f"{API}/api-keys", json=body, headers={"X-CSRF-Token": csrf, "Idempotency-Key": "k-1"})
    assert created.status_code == 201, created.text
    assert "key" in created.json()
    # the same key and body from the console replays to the same signed-in user
    replay = client.post(f"{API}/api-keys", json=body, headers={"X-CSRF-Token": csrf, "Idempotency-Key": "k-1"})
    assert replay.status_code == 201 and replay.json()["key"] == created.json()["key"]
    with TestClient(app, raise_server_exceptions=False) as stranger:
        stolen = stranger.post(f"{API}/api-keys", json=body, headers={"Idempotency-Key": "k-1"})
    assert stolen.status_code == 401, stolen.text
    assert created.json()["key"] not in stolen.text
    assert _count(db, "api_keys") == 1


@pytest.mark.backends("sqlite", "postgresql")
def test_the_same_json_reformatted_is_the_same_request(client, admin, db):
    body = {"code": "ST-2", "name": "Store two", "kind": "store"}
    first = client.post(f"{API}/locations", json=body, headers={**admin, "Idempotency-Key": "same-json"})
    assert first.status_code == 201
    reformatted = b'{\n  "kind": "store",\n  "name": "Store two",   "code": "ST-2"\n}'
    retry = client.post(f"{API}/locations", content=reformatted,
                        headers={**admin, "Idempotency-Key": "same-json", "Content-Type": "application/json"})
    assert retry.status_code == 201 and retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"]
    different = client.post(f"{API}/locations", json={**body, "name": "Store 2"},
                            headers={**admin, "Idempotency-Key": "same-json"})
    assert different.status_code == 422 and different.json()["errors"][0]["field"] == "Idempotency-Key"
    assert _count(db, "inventory_locations") == 1


def test_records_older_than_the_time_to_live_are_purged(client, admin, db, settings):
    for n in range(3):
        client.post(f"{API}/locations", json={"code": f"ST-{n}", "name": "S", "kind": "store"},
                    headers={**admin, "Idempotency-Key": f"purge-{n}"})
    assert _count(db, "idempotency_keys") == 3
    ttl = dt.timedelta(hours=settings.idempotency_ttl_hours)
    assert idempotency.purge_idempotency_keys(db, utcnow() + ttl - dt.timedelta(minutes=5)) == 0
    assert idempotency.purge_idempotency_keys(db, utcnow() + ttl + dt.timedelta(minutes=5)) == 3
    assert _count(db, "idempotency_keys") == 0
    # a purged key is a new request again
    again = client.post(f"{API}/locations", json={"code": "ST-9", "name": "S", "kind": "store"},
                        headers={**admin, "Idempotency-Key": "purge-0"})
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers


def test_a_server_error_after_the_order_committed_is_replayed_not_redone(client, admin, db):
    _shop(client, admin)
    body = {**ORDER, "payment": {"provider": "test", "behaviour": "timeout"}}
    first = client.post(f"{API}/orders", json=body, headers={"Idempotency-Key": "provider-timeout"})
    assert first.status_code == 504, first.text  # the order was placed, then cancelled by the saga
    retry = client.post(f"{API}/orders", json=body, headers={"Idempotency-Key": "provider-timeout"})
    assert retry.status_code == 504 and retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["order_id"] == first.json()["order_id"]
    assert _count(db, "orders") == 1
