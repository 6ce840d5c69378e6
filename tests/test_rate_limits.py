"""Rate limits (core/ratelimit.py) on the routes anyone can call: per client address for
guests, per key for callers with a credential, 429 problem+json with Retry-After, counters in
memory for one process or in Redis shared by every worker."""

from __future__ import annotations

import os
import secrets
import socket
from contextlib import contextmanager
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from merx.app import create_app

PAGE_VIEW = {"type": "page_view", "anonymous_id": "visitor", "properties": {"url": "https://shop/x"}}


@contextmanager
def _client(db, settings, address: str = "203.0.113.7", **changes) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update=changes), db)
    with TestClient(app, raise_server_exceptions=False, client=(address, 50000)) as c:
        yield c


def _assert_limited(r, name: str) -> None:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert int(r.headers["retry-after"]) >= 1
    assert r.json()["limit"] == name and r.json()["retry_after"] >= 1


@pytest.mark.backends("sqlite", "postgresql")
def test_identify_is_limited_per_client_address(db, settings):
    with _client(db, settings, rate_limits={"identify": "3/minute"}) as c:
        for i in range(3):
            assert c.post("/api/v1/identify", json={"anonymous_id": f"a{i}"}).status_code == 200
        _assert_limited(c.post("/api/v1/identify", json={"anonymous_id": "a9"}), "identify")
        # another shopper behind another address has its own budget (same app, same counters)
        other = TestClient(c.app, raise_server_exceptions=False, client=("198.51.100.9", 50000))
        assert other.post("/api/v1/identify", json={"anonymous_id": "b1"}).status_code == 200


def test_every_event_of_a_batch_counts_against_the_events_limit(db, settings):
    with _client(db, settings, rate_limits={"events": "150/minute"}) as c:
        assert c.post("/api/v1/events", json={"events": [PAGE_VIEW] * 100}).status_code == 200
        _assert_limited(c.post("/api/v1/events", json={"events": [PAGE_VIEW] * 100}), "events")
        assert c.post("/api/v1/events", json={"events": [PAGE_VIEW] * 50}).status_code == 200


def test_search_feedback_is_limited(db, settings):
    with _client(db, settings, rate_limits={"search_feedback": "2/minute"}) as c:
        fb = {"search_id": "nope", "product_id": 1, "action": "purchase"}
        assert [c.post("/api/v1/search/feedback", json=fb).status_code for _ in range(2)] == [422, 422]
        _assert_limited(c.post("/api/v1/search/feedback", json=fb), "search_feedback")


def test_guest_checkout_is_limited_per_address_and_keyed_callers_are_not(db, settings, make_key):
    admin = make_key("admin")
    with _client(db, settings, rate_limits={"guest_checkout": "2/minute"}) as c:
        for _ in range(2):
            assert c.post("/api/v1/orders", json={}).status_code == 422
        _assert_limited(c.post("/api/v1/orders", json={}), "guest_checkout")
        _assert_limited(c.post("/api/v1/carts/1/order", json={}), "guest_checkout")
        _assert_limited(c.post("/api/v1/carts/1/checkout"), "guest_checkout")
        # a point of sale or B2B integration with its own key is not a guest
        assert c.post("/api/v1/orders", json={}, headers=admin).status_code == 422


def test_console_login_is_limited_per_address(db, settings):
    with _client(db, settings, rate_limits={"login": "3/minute"}) as c:
        page = c.get("/console/login")
        csrf = page.cookies.get("merx_csrf") or c.cookies.get("merx_csrf")
        form = {"email": "nobody@example.com", "password": "wrong", "csrf_token": csrf}
        codes = [c.post("/console/login", data=form).status_code for _ in range(3)]
        assert codes == [401, 401, 401], codes
        r = c.post("/console/login", data=form)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert "Too many sign-in attempts" in r.text


def test_the_metrics_count_refusals(db, settings, make_key):
    with _client(db, settings, rate_limits={"identify": "1/minute"}) as c:
        c.post("/api/v1/identify", json={"anonymous_id": "m1"})
        assert c.post("/api/v1/identify", json={"anonymous_id": "m2"}).status_code == 429
        text = c.get("/metrics", headers=make_key("admin")).text
    assert 'merx_rate_limited_total{limit="identify"} 1.0' in text


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        return True
    except OSError:
        return False


def test_workers_share_one_budget_through_redis(db, settings):
    """Two apps stand for two `merx serve` workers: with MERX_REDIS_URL they count together;
    in memory each would count on its own."""
    if not _redis_up():
        message = "Redis is not reachable on 127.0.0.1:6379"
        if os.environ.get("MERX_REQUIRE_SERVICES") == "1":
            pytest.fail(message + " and MERX_REQUIRE_SERVICES=1", pytrace=False)
        pytest.skip(message)
    address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"  # no clash between runs
    shared = dict(redis_url="redis://127.0.0.1:6379/0", rate_limits={"identify": "3/minute"})
    with _client(db, settings, address, **shared) as one, _client(db, settings, address, **shared) as two:
        assert one.app.state.rate_limiter.shared is True
        assert one.post("/api/v1/identify", json={"anonymous_id": "r1"}).status_code == 200
        assert two.post("/api/v1/identify", json={"anonymous_id": "r2"}).status_code == 200
        assert one.post("/api/v1/identify", json={"anonymous_id": "r3"}).status_code == 200
        _assert_limited(two.post("/api/v1/identify", json={"anonymous_id": "r4"}), "identify")
    with _client(db, settings, address, rate_limits={"identify": "3/minute"}) as one, \
            _client(db, settings, address, rate_limits={"identify": "3/minute"}) as two:
        for _ in range(3):
            assert one.post("/api/v1/identify", json={"anonymous_id": "m1"}).status_code == 200
        assert two.post("/api/v1/identify", json={"anonymous_id": "m2"}).status_code == 200


def test_an_unreachable_redis_lets_requests_through(db, settings):
    with _client(db, settings, redis_url="redis://127.0.0.1:1/0", rate_limits={"identify": "1/minute"}) as c:
        assert [c.post("/api/v1/identify", json={"anonymous_id": f"u{i}"}).status_code for i in range(3)] == [200] * 3


def test_a_refused_request_is_not_replayed_to_its_retry(db, settings):
    """A 429 is no answer to keep under the Idempotency-Key: the retry after Retry-After runs."""
    with _client(db, settings, rate_limits={"identify": "1/minute"}) as c:
        assert c.post("/api/v1/identify", json={"anonymous_id": "k0"}).status_code == 200
        keyed = {"Idempotency-Key": "identify-k1"}
        _assert_limited(c.post("/api/v1/identify", json={"anonymous_id": "k1"}, headers=keyed), "identify")
        c.app.state.rate_limiter.reset()  # the window has passed
        r = c.post("/api/v1/identify", json={"anonymous_id": "k1"}, headers=keyed)
        assert r.status_code == 200, r.text
