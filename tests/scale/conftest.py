"""Scale-out fixtures: two `merx serve` replicas with separate data dirs on the session's
PostgreSQL test database, behind HAProxy (Debian package `haproxy`, installed by .ci/run).
Skipped with a reason when HAProxy is missing, a failure under MERX_REQUIRE_SERVICES=1."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterator

import pytest

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from cluster import Balancer, Replica, haproxy_path  # noqa: E402

REQUIRE_SERVICES = os.environ.get("MERX_REQUIRE_SERVICES") == "1"


class Cluster:
    def __init__(self, a: Replica, b: Replica, balancer: Balancer) -> None:
        self.a, self.b, self.balancer = a, b, balancer

    def stop(self) -> None:
        self.balancer.stop()
        for r in (self.a, self.b):
            r.stop()


@pytest.fixture
def cluster(db, tmp_path) -> Iterator[Cluster]:  # type: ignore[no-untyped-def]
    if haproxy_path() is None:
        message = "HAProxy is not installed (apt-get install -y haproxy)"
        if REQUIRE_SERVICES:
            pytest.fail(message + " and MERX_REQUIRE_SERVICES=1", pytrace=False)
        pytest.skip(message)
    # sold products re-indexed on every pass, so two replicas' answers can be compared exactly
    # a checkout in flight on a killed replica leaves its Idempotency-Key claimed: a retry gets
    # 409 "in progress" until the claim is presumed dead (default 120 s; safe to shorten: a
    # late commit of the first attempt finds its claim token replaced)
    env = {"MERX_SEARCH_SIGNAL_REINDEX_SECONDS": "0", "MERX_IDEMPOTENCY_STALE_SECONDS": "6"}
    a = Replica("a", db.url, tmp_path / "a" / "data", env)
    b = Replica("b", db.url, tmp_path / "b" / "data", env)
    balancer = Balancer([a, b], tmp_path / "haproxy")
    c = Cluster(a, b, balancer)
    try:
        a.start()
        b.start()
        a.wait_healthy()
        b.wait_healthy()
        balancer.start()
        yield c
    finally:
        c.stop()
