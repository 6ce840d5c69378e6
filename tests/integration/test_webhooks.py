"""Webhook endpoints through the API, and the relay's delivery rules run in-process against a
real local HTTP receiver: signatures, retries with backoff, 4xx not retried, disabling after
N failures (with an event), the delivery log, replay, payload purge, and leases."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook

from merx.core.models import OutboxEvent
from merx.core.uow import UnitOfWork
from merx.integration.models import RelayCursor, WebhookDelivery, WebhookEndpoint
from merx.integration.relay import Relay
from merx.integration.settings import IntegrationSettings
from parcel_events import REGISTERED


def _settings(**over) -> IntegrationSettings:
    base = dict(relay_lease_seconds=30, webhook_retry_base_seconds=0.01, webhook_retry_max_seconds=0.02,
                webhook_max_consecutive_failures=3, webhook_timeout_seconds=5,
                outbound_allow=["127.0.0.1"])  # the local receiver
    base.update(over)
    return IntegrationSettings(**base)


def _emit(db, n: int, aggregate: str = "parcel", start: int = 0) -> None:
    for i in range(start, start + n):
        with UnitOfWork(db) as uow:
            uow.emit(REGISTERED[aggregate](**{f"{aggregate}_id": i % 5}, n=i), version=i // 5 + 1)
            uow.commit()


def _drain(db, settings=None, rounds: int = 30, relay: Relay | None = None) -> Relay:
    async def go() -> Relay:
        r = relay or Relay(db, settings or _settings())
        await r.start()
        try:
            for _ in range(rounds):
                stats = await r.run_once()
                if stats.idle:
                    await asyncio.sleep(0.03)
        finally:
            await r.stop()  # closes the HTTP client and releases the leases for the next relay
        return r

    return asyncio.run(go())


def _create(client, admin, url, **extra):
    r = client.post("/api/v1/webhooks", json={"url": url, **extra}, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.backends("sqlite", "postgresql")
def test_endpoint_crud_and_the_secret_is_shown_once_and_stored_encrypted(client, admin, db):
    created = _create(client, admin, "https://erp.example.com/hooks", events=["order.*", "product.price_changed"])
    assert created["secret"].startswith("whsec_")
    assert created["events"] == ["order.*", "product.price_changed"]
    wid = created["id"]
    got = client.get(f"/api/v1/webhooks/{wid}", headers=admin).json()
    assert "secret" not in got
    assert [w["id"] for w in client.get("/api/v1/webhooks", headers=admin).json()["items"]] == [wid]
    with db.engine.connect() as conn:
        stored = conn.scalar(sa.select(WebhookEndpoint.secret_encrypted))
    assert created["secret"] not in stored and created["secret"][6:] not in stored
    r = client.patch(f"/api/v1/webhooks/{wid}", json={"events": ["customer.created"], "active": False}, headers=admin)
    assert r.status_code == 200 and r.json()["active"] is False and r.json()["events"] == ["customer.created"]
    rotated = client.post(f"/api/v1/webhooks/{wid}/rotate-secret", headers=admin).json()
    assert rotated["secret"] != created["secret"]
    assert client.delete(f"/api/v1/webhooks/{wid}", headers=admin).status_code == 204
    assert client.get(f"/api/v1/webhooks/{wid}", headers=admin).status_code == 404


def test_bad_input_names_the_field_and_writes_nothing(client, admin, db):
    for body, field in [({"url": "ftp://x"}, "url"), ({"url": "https://x.example", "secret": "nope"}, "secret"),
                        ({"url": "https://x.example", "events": ["Order Placed"]}, "events"),
                        ({"url": "https://x.example", "colour": 1}, "colour")]:
        r = client.post("/api/v1/webhooks", json=body, headers=admin)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"][0]["field"] == field
    with db.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 0


def test_only_admins_configure_webhooks_and_staff_may_read(client, admin, make_key):
    wid = _create(client, admin, "https://x.example/h")["id"]
    staff, seller, customer = make_key("staff"), make_key("seller", seller_id=1), make_key("customer", customer_id=1)
    assert client.post("/api/v1/webhooks", json={"url": "https://y.example"}).status_code == 401
    for key in (staff, seller, customer):
        assert client.post("/api/v1/webhooks", json={"url": "https://y.example"}, headers=key).status_code == 403
        assert client.delete(f"/api/v1/webhooks/{wid}", headers=key).status_code == 403
        assert client.post(f"/api/v1/webhooks/{wid}/rotate-secret", headers=key).status_code == 403
    assert client.get(f"/api/v1/webhooks/{wid}", headers=staff).status_code == 200
    assert client.get(f"/api/v1/webhooks/{wid}", headers=seller).status_code == 403
    assert client.get("/api/v1/events", headers=customer).status_code == 403


@pytest.mark.backends("sqlite", "postgresql")
def test_signed_in_order_filtered_and_only_events_after_registration(client, admin, db, receiver):
    _emit(db, 3)  # before the endpoint exists: not delivered
    hook = _create(client, admin, receiver.url, events=["parcel.*"])
    receiver.secret = hook["secret"]
    _emit(db, 20)
    _emit(db, 4, aggregate="crate")  # filtered out
    _drain(db)
    assert receiver.bad_signatures == []
    assert len(receiver.received) == 20
    assert {e["type"] for e in receiver.received} == {"parcel.registered"}
    per_aggregate: dict[str, list[int]] = {}
    for e in receiver.received:
        per_aggregate.setdefault(e["aggregate"]["id"], []).append(e["aggregate"]["version"])
        assert set(e) >= {"id", "type", "timestamp", "data"}
    assert all(v == sorted(v) and len(v) == 4 for v in per_aggregate.values())
    deliveries = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=admin).json()["items"]
    assert len(deliveries) == 20 and {d["status"] for d in deliveries} == {"succeeded"}


@pytest.mark.backends("sqlite", "postgresql")
def test_a_secret_is_sealed_with_the_key_of_the_shops_own_settings_not_the_process_global_one(
        client, admin, db, receiver, monkeypatch):  # type: ignore[no-untyped-def]
    """While the process's global settings held another key (an in-process demo over another
    data dir wrote its own), a webhook was created in the shop (served with its own settings).
    Once the global key is the shop's again, the relay still decrypts the secret and delivers
    correctly signed messages."""
    from merx.core.settings import reset_settings_cache

    with monkeypatch.context() as demo_running:
        demo_running.setenv("MERX_SECRET_KEY", "the-demo-process-key")
        reset_settings_cache()
        try:
            hook = _create(client, admin, receiver.url, events=["parcel.*"])
        finally:
            demo_running.undo()
            reset_settings_cache()
    receiver.secret = hook["secret"]
    _emit(db, 2)
    _drain(db)
    assert receiver.bad_signatures == []
    assert len(receiver.received) == 2


def test_5xx_is_retried_with_the_same_id_and_4xx_is_not(client, admin, db, receiver):
    hook = _create(client, admin, receiver.url)
    receiver.secret = hook["secret"]
    statuses = {}

    def answer(event_id: str, attempt: int) -> int:
        data = statuses.get(event_id)
        return data[attempt - 1] if data and attempt <= len(data) else 200

    receiver.status_for = answer
    _emit(db, 2)
    with db.engine.connect() as conn:
        first, second = conn.scalars(sa.select(OutboxEvent.id).order_by(OutboxEvent.seq)).all()
    statuses[first] = [503, 500]
    statuses[second] = [410]
    _drain(db, _settings(webhook_max_consecutive_failures=10))
    assert receiver.attempts[first] == 3
    assert receiver.attempts[second] == 1  # 4xx: final
    assert receiver.ids() == {first}
    items = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=admin).json()["items"]
    by_event = {d["event_id"]: d for d in items}
    assert by_event[first]["status"] == "succeeded" and by_event[first]["attempts"] == 3
    assert by_event[second]["status"] == "failed" and by_event[second]["last_status_code"] == 410
    detail = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries/{by_event[first]['id']}", headers=admin).json()
    assert [a["status_code"] for a in detail["attempt_log"]] == [503, 500, 200]
    assert all(a["latency_ms"] >= 0 for a in detail["attempt_log"])
    assert detail["payload"]["id"] == first

    # replay the failed one: the receiver now accepts it, same webhook-id
    r = client.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{by_event[second]['id']}/replay", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "succeeded" and r.json()["attempt_log"][-1]["trigger"] == "replay"
    assert receiver.ids() == {first, second}
    assert receiver.bad_signatures == []


def test_endpoint_is_disabled_after_consecutive_failures_with_an_event(client, admin, db, receiver):
    hook = _create(client, admin, receiver.url)
    receiver.secret = hook["secret"]
    receiver.status_for = lambda event_id, attempt: 503
    _emit(db, 3)
    _drain(db, _settings(webhook_max_consecutive_failures=4))
    got = client.get(f"/api/v1/webhooks/{hook['id']}", headers=admin).json()
    assert got["active"] is False and got["consecutive_failures"] >= 4 and got["disabled_reason"]
    with db.engine.connect() as conn:
        events = conn.execute(sa.select(OutboxEvent.type, OutboxEvent.payload)
                              .where(OutboxEvent.type == "webhook_endpoint.disabled")).all()
    assert len(events) == 1 and events[0].payload["endpoint_id"] == hook["id"]
    # re-enabled: delivery resumes where it stopped, nothing was skipped
    receiver.status_for = None
    assert client.patch(f"/api/v1/webhooks/{hook['id']}", json={"active": True}, headers=admin).status_code == 200
    _drain(db)
    with db.engine.connect() as conn:
        order_ids = set(conn.scalars(sa.select(OutboxEvent.id).where(OutboxEvent.type == "parcel.registered")))
    assert order_ids <= receiver.ids()


def test_payloads_are_purged_after_retention_and_then_cannot_be_replayed(client, admin, db, receiver):
    from merx.integration.relay import purge_delivery_payloads

    hook = _create(client, admin, receiver.url)
    receiver.secret = hook["secret"]
    _emit(db, 2)
    _drain(db)
    with UnitOfWork(db) as uow:
        uow.session.execute(sa.update(WebhookDelivery).where(WebhookDelivery.event_seq == sa.select(
            sa.func.min(WebhookDelivery.event_seq)).scalar_subquery()).values(
            created_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=15)))
        uow.commit()
    with UnitOfWork(db) as uow:
        assert purge_delivery_payloads(uow, 14) == 1
    items = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=admin).json()["items"]
    old = [d for d in items if d["payload_purged_at"]]
    assert len(old) == 1
    r = client.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{old[0]['id']}/replay", headers=admin)
    assert r.status_code == 409


@pytest.mark.backends("sqlite", "postgresql")
def test_two_workers_split_the_partitions_and_never_share_one(db):
    from merx.integration.relay import LeaseKeeper, ensure_relay_state

    n = ensure_relay_state(db, 16)
    a = LeaseKeeper(db, "worker-a", n, ttl=30)
    b = LeaseKeeper(db, "worker-b", n, ttl=30)
    assert len(a.refresh()) == 16  # alone: everything
    b.refresh()  # registers; a is still holding all of them
    a.refresh()  # a sees two live workers and gives back its surplus
    b.refresh()
    assert len(a.held) == 8 and len(b.held) == 8 and not (a.held & b.held)
    a.release_all()
    assert len(b.refresh()) == 16


def test_a_worker_that_lost_its_lease_does_not_move_the_cursor(client, admin, db, receiver):
    hook = _create(client, admin, receiver.url)
    receiver.secret = hook["secret"]
    relay = Relay(db, _settings(), worker_id="slow-worker")
    _emit(db, 5)

    async def go() -> None:
        await relay.start()
        relay.leases.refresh()
        # another worker takes every partition over while this one is busy
        with UnitOfWork(db) as uow:
            uow.session.execute(sa.text("UPDATE integration_relay_leases SET owner = 'other'"))
            uow.commit()
        relay.leases._renewed_at = dt.datetime.now(dt.timezone.utc)  # it does not notice before delivering
        await relay.run_once()
        await relay.stop()

    asyncio.run(go())
    assert len(receiver.received) == 5  # delivered (at least once)...
    with db.engine.connect() as conn:
        cursors = conn.scalars(sa.select(RelayCursor.last_seq).where(RelayCursor.subscriber == f"webhook:{hook['id']}")).all()
    assert set(cursors) == {0}  # ...but progress is left to the lease holder, who delivers them again


def test_standard_webhooks_library_verifies_our_signature():
    from merx.integration.secrets_box import generate_secret
    from merx.integration.webhooks import signed_headers

    secret = generate_secret()
    body = '{"id":"01ABC","type":"order.placed","data":{}}'
    headers = signed_headers(secret, "01ABC", body)
    assert Webhook(secret).verify(body, headers)["id"] == "01ABC"
    with pytest.raises(Exception):
        Webhook(generate_secret()).verify(body, headers)


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    import random

    from merx.integration.webhooks import backoff_seconds

    rng = random.Random(1)
    delays = [backoff_seconds(n, 5, 3600, rng) for n in range(1, 12)]
    assert 2.5 <= delays[0] <= 5 and 5 <= delays[1] <= 10 and 10 <= delays[2] <= 20
    assert all(d <= 3600 for d in delays) and delays[-1] >= 1800


def test_event_feed_and_relay_backlog(client, admin, db, receiver, make_key):
    hook = _create(client, admin, receiver.url)
    receiver.secret = hook["secret"]
    _emit(db, 7)
    page = client.get("/api/v1/events?type=parcel.registered&limit=5", headers=make_key("staff")).json()
    assert len(page["items"]) == 5 and page["next_cursor"]
    rest = client.get(f"/api/v1/events?type=parcel.registered&cursor={page['next_cursor']}", headers=admin).json()
    assert [e["seq"] for e in page["items"] + rest["items"]] == sorted(e["seq"] for e in page["items"] + rest["items"])
    assert len(rest["items"]) == 2
    _drain(db)
    status = client.get("/api/v1/events/relay-status", headers=admin).json()
    assert status["subscribers"][f"webhook:{hook['id']}"]["min_cursor"] == status["newest_seq"]
