"""Done-when crash test: a real `merx serve` is SIGKILLed three times during a stream of checkouts that
each carry an Idempotency-Key; after each restart every unanswered request is retried with its
own key until it has an answer. No checkout creates two orders (a crash after the order
committed but before the answer was stored used to let the retry place it again), every answer
matches the database, stock equals its ledger, and once the hold time has passed the existing
scheduled job `orders.expire_unpaid_orders` leaves no order pending."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa

from merx.core.db import utcnow

SKUS = ("CR-A", "CR-B", "CR-C")
UNITS_PER_SKU = 12
CHECKOUTS = 60
KILLS = 3
CONCURRENCY = 16
HOLD_SECONDS = 3  # MERX_RESERVATION_TTL_SECONDS: how long a pending order may keep its stock
STALE_SECONDS = 2  # MERX_IDEMPOTENCY_STALE_SECONDS: when a retry presumes the first attempt died
UNANSWERED = object()  # the connection broke (the server was killed) before an answer came


def _checkouts(rng: random.Random) -> dict[str, dict]:
    bodies = {}
    for n in range(CHECKOUTS):
        lines = [{"sku": sku, "quantity": rng.randint(1, 2)} for sku in rng.sample(SKUS, rng.randint(1, 2))]
        payment = rng.choice([{"provider": "manual"}, {"provider": "test"}, {"provider": "test"},
                              {"provider": "test", "behaviour": "decline"}])
        bodies[f"checkout-{n}"] = {"channel": "web", "customer": {"email": f"crash{n}@example.com"},
                                   "lines": lines, "fulfilment": {"type": "ship"}, "payment": payment}
    return bodies


def _stock_matches_ledger(db) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT sku, location_id, on_hand, reserved FROM inventory_stock")).all()
        ledger = {(r.sku, r.location_id): (int(r.oh), int(r.rs)) for r in conn.execute(sa.text(
            "SELECT sku, location_id, SUM(on_hand_delta) AS oh, SUM(reserved_delta) AS rs "
            "FROM inventory_movements GROUP BY sku, location_id"))}
        held = dict(conn.execute(sa.text(
            "SELECT a.sku, SUM(a.quantity) FROM order_allocations a JOIN orders o ON o.id = a.order_id "
            "WHERE o.status <> 'cancelled' GROUP BY a.sku")).all())
    reserved = Counter()
    for sku, loc, on_hand, res in rows:
        assert ledger[(sku, loc)] == (on_hand, res), f"{sku}: the ledger sums to the stock row"
        assert 0 <= res <= on_hand == UNITS_PER_SKU
        reserved[sku] += res
    for sku in SKUS:
        assert reserved[sku] == int(held.get(sku, 0)), f"{sku}: reserved units are the open orders' allocations"
    return dict(reserved)


@pytest.mark.backends("sqlite", "postgresql")
def test_sigkill_during_idempotent_checkouts_never_duplicates_an_order(shop, db, server_process):
    shop.location("WH")
    for sku in SKUS:
        shop.product(sku, price="15.00")
        shop.stock(sku, "WH", UNITS_PER_SKU)
    rng = random.Random(23)
    bodies = _checkouts(rng)
    server = server_process(MERX_PAYMENT_PROVIDERS="manual,test", MERX_RESERVATION_TTL_SECONDS=str(HOLD_SECONDS),
                            MERX_IDEMPOTENCY_STALE_SECONDS=str(STALE_SECONDS))
    server.start()

    answers: dict[str, tuple[int, dict]] = {}
    kills = 0
    for _round in range(15):
        waiting = [key for key in bodies if key not in answers]
        if not waiting:
            break
        # Kill while checkouts are in flight: when this round has had a few answers, with
        # up to CONCURRENCY requests at every stage of the saga at that moment.
        kill_at = rng.randint(3, 10) if kills < KILLS and len(waiting) > 10 else None
        answered_in_round = 0
        lock = threading.Lock()
        killed = threading.Event()
        with httpx.Client(base_url=server.url, timeout=30, limits=httpx.Limits(max_connections=CONCURRENCY)) as http:
            def send(key: str) -> tuple[str, object]:
                nonlocal answered_in_round
                try:
                    r = http.post("/api/v1/orders", json=bodies[key], headers={"Idempotency-Key": key})
                except httpx.TransportError:
                    return key, UNANSWERED
                with lock:
                    answered_in_round += 1
                    if kill_at is not None and answered_in_round == kill_at:
                        server.kill()
                        killed.set()
                return key, (r.status_code, r.json())

            with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
                for key, outcome in pool.map(send, waiting):
                    if outcome is UNANSWERED:
                        continue
                    status, body = outcome
                    # still in progress, or the database was busy: not an answer yet, retry later
                    if status == 503 or body.get("type", "").endswith("/idempotency-in-progress"):
                        continue
                    answers[key] = (status, body)
        if killed.is_set():
            kills += 1
            server.start()  # the restart; its first attempts' keys may still look in progress
        else:
            time.sleep(0.5)
    assert kills == KILLS
    assert len(answers) == CHECKOUTS, f"unanswered: {set(bodies) - set(answers)}\n{server.logs()}"

    with db.engine.connect() as conn:
        orders_by_email = {r.email: r for r in conn.execute(sa.text("SELECT id, email, status FROM orders"))}
        duplicates = conn.execute(sa.text("SELECT email, COUNT(*) FROM orders GROUP BY email HAVING COUNT(*) > 1")).all()
    assert duplicates == [], "one Idempotency-Key, one order"
    statuses = Counter(status for status, _ in answers.values())
    assert set(statuses) <= {201, 402, 409}, statuses
    assert statuses[201] > 0
    for key, (status, body) in answers.items():
        order = orders_by_email.get(bodies[key]["customer"]["email"])
        if status == 201:
            assert order is not None and body["id"] == order.id, key
        elif status == 402:  # declined: the order it created was cancelled
            assert order is not None and order.status == "cancelled" and body["order_id"] == order.id, key
        else:
            assert body["type"].endswith("/insufficient-stock"), body
            assert order is None, key
    _stock_matches_ledger(db)

    # A kill between an order's commit and its payment result strands it in `pending`; once
    # the hold time has passed, the scheduled expiry job cancels it and gives its stock back
    # (run on the job's clock, an hour on, instead of sleeping).
    from merx.app import build_scheduler
    from merx.core.jobs import run_job_now

    run = run_job_now(db, build_scheduler(), "orders.expire_unpaid_orders",
                      now=utcnow() + dt.timedelta(hours=1))
    assert run.error is None, run.error
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM orders WHERE status = 'pending'")).scalar_one() == 0
    _stock_matches_ledger(db)
