"""Done-when (issue 13): a product created through replica A is found through replica B; B's
index directory wiped, B restarted, B answers as A does. Each replica keeps its own index in
its own data dir and follows the outbox with its own cursor (search/replica.py)."""

from __future__ import annotations

import shutil

import httpx
import pytest

from cluster import wait_for

from merx.core.models import SubscriberCursor


def _search(base: str, q: str) -> tuple[list[int], int]:
    r = httpx.get(f"{base}/api/v1/search", params={"q": q, "lang": "en", "page_size": 50}, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    return [i["product_id"] for i in body["items"]], body["total"]


def _create(base: str, admin: dict, sku: str, name: str) -> int:
    r = httpx.post(f"{base}/api/v1/products", json={"sku": sku, "name": name,
                                                    "price": {"amount": "25.00", "currency": "EUR"}},
                   headers=admin, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()["id"]


QUERIES = ("lantern", "brass lantern", "copper", "garden")


@pytest.mark.backends("postgresql")
def test_created_through_a_found_through_b_and_a_wiped_b_answers_as_a(cluster, make_key, db):
    admin = make_key("admin")
    a, b = cluster.a, cluster.b
    made = [_create(a.url, admin, f"LAN-{i}", name) for i, name in enumerate(
        ("Brass lantern", "Copper lantern", "Garden lantern brass", "Copper watering can"))]
    # B never saw these commits: its follower reads them from the outbox
    found = wait_for(lambda: set(made[:3]) <= set(_search(b.url, "lantern")[0]) and _search(b.url, "lantern"),
                     60, "replica B to find the lanterns created through A")
    assert sorted(found[0]) == sorted(made[:3])
    # an edit through B reaches A the same way
    r = httpx.patch(f"{b.url}/api/v1/products/{made[3]}", json={"name": "Copper garden lantern"}, headers=admin,
                    timeout=30)
    assert r.status_code == 200, r.text
    wait_for(lambda: made[3] in _search(a.url, "lantern")[0], 60, "replica A to see the rename made through B")
    wait_for(lambda: all(_search(a.url, q) == _search(b.url, q) for q in QUERIES), 60, "A and B to agree")

    # Wipe B's index (and its whole data dir: a new replica id), restart: it builds its index
    # from the catalog, then follows the outbox from where the build started.
    old_cursor = f"search.index@{(b.data_dir / 'replica_id').read_text().strip()}"
    b.stop()
    shutil.rmtree(b.data_dir)
    _create(a.url, admin, "LAN-9", "Brass lantern small")  # committed while B is down
    b.start()
    b.wait_healthy()
    new_cursor = f"search.index@{(b.data_dir / 'replica_id').read_text().strip()}"
    assert new_cursor != old_cursor
    for q in QUERIES:
        expected = _search(a.url, q)
        assert expected[1] > 0
        wait_for(lambda q=q, expected=expected: _search(b.url, q) == expected, 60, f"wiped B to answer {q!r} as A")
    # the gone replica's cursor blocks nothing, and can be listed and removed
    from merx.search.replica import forget_replica, replica_cursors

    listed = {row["cursor"] for row in replica_cursors(db)}
    assert {old_cursor, new_cursor} <= listed
    assert forget_replica(db, old_cursor.split("@", 1)[1])
    with db.read_sessions() as s:
        assert s.get(SubscriberCursor, old_cursor) is None
