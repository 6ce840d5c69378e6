"""Payout cycle run time: Merx's `run_payout_cycle` (one GROUP BY over the open ledger, one
UPDATE per paid seller, one INSERT for the payout entries) against the loop a developer might
write first (load every open entry as an ORM row and sum per seller in Python), same data,
same run.

    python benchmarks/payouts.py                          # 1,000 sellers x 100,000 lines, SQLite
    python benchmarks/payouts.py --sellers 100 --lines 10000
    python benchmarks/payouts.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/merx_bench

Each accepted order line is two ledger entries (the sale and the commission, as
`seller_orders.accept` writes them), bulk-inserted with a fixed seed (a twentieth of the lines
also get a refund); one adjustment per seller. The naive loop only reads and sums (it moves
no money), then the real cycle runs and its payouts are checked against the naive sums.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sellers", type=int, default=1000)
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()

    from merx.contexts import import_models
    from merx.core import migrate
    from merx.core.auth import SYSTEM
    from merx.core.db import Database
    from merx.core.uow import UnitOfWork
    from merx.sellers import payouts
    from merx.sellers.models import LedgerEntry, Payout

    import_models()
    tmp = tempfile.mkdtemp(prefix="merx-payouts-")
    url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
    if url.startswith("postgresql"):
        admin = sa.create_engine(sa.engine.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        name = sa.engine.make_url(url).database
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    db = Database(url)
    migrate.upgrade(db)

    rng = random.Random(42)
    start = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    t0 = time.perf_counter()
    rows = []
    for line_id in range(1, args.lines + 1):
        seller = rng.randint(1, args.sellers)
        total = rng.randint(500, 50_000)
        at = start + dt.timedelta(seconds=rng.randint(0, 20 * 86_400))
        rows.append({"seller_id": seller, "kind": "sale", "amount_minor": total, "currency": "EUR",
                     "seller_order_id": line_id, "line_id": line_id, "description": f"line {line_id}", "created_at": at})
        rows.append({"seller_id": seller, "kind": "commission", "amount_minor": -(total * 12 // 100), "currency": "EUR",
                     "seller_order_id": line_id, "line_id": line_id, "description": "commission 12%", "created_at": at})
        if line_id % 20 == 0:
            rows.append({"seller_id": seller, "kind": "refund", "amount_minor": -total, "currency": "EUR",
                         "seller_order_id": line_id, "line_id": line_id, "description": "refund", "created_at": at})
    for seller in range(1, args.sellers + 1):
        rows.append({"seller_id": seller, "kind": "adjustment", "amount_minor": rng.randint(-2000, 2000),
                     "currency": "EUR", "seller_order_id": None, "line_id": None, "description": "adjustment",
                     "created_at": start})
    with db.engine.begin() as conn:
        for i in range(0, len(rows), 20_000):
            conn.execute(sa.insert(LedgerEntry.__table__), rows[i:i + 20_000])
    load_s = time.perf_counter() - t0
    period_end = start + dt.timedelta(days=21)

    # the loop a developer might write first: every open entry as an ORM object, summed in Python
    t0 = time.perf_counter()
    with UnitOfWork(db, actor=SYSTEM, readonly=True) as uow:
        naive: dict[int, int] = {}
        for e in uow.session.scalars(sa.select(LedgerEntry).where(LedgerEntry.payout_id.is_(None),
                                                                   LedgerEntry.created_at < period_end)):
            naive[e.seller_id] = naive.get(e.seller_id, 0) + e.amount_minor
    naive_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    with UnitOfWork(db, actor=SYSTEM) as uow:
        cycle = payouts.run_payout_cycle(uow, period_end, now=period_end + dt.timedelta(hours=1))
    merx_s = time.perf_counter() - t0

    with UnitOfWork(db, actor=SYSTEM, readonly=True) as uow:
        paid = {p.seller_id: p.amount_minor for p in uow.session.scalars(sa.select(Payout))}
    expected = {s: max(v, 0) for s, v in naive.items()}
    assert paid == expected, "payout amounts differ from the independent sums"

    t0 = time.perf_counter()
    with UnitOfWork(db, actor=SYSTEM) as uow:
        try:
            payouts.run_payout_cycle(uow, period_end, now=period_end + dt.timedelta(hours=2))
            raise SystemExit("a second run of the same cycle was not refused")
        except Exception as e:  # the Conflict: nothing moved
            refused = type(e).__name__
    again_s = time.perf_counter() - t0

    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"database: {db.engine.url.get_backend_name()}")
    print(f"data: {args.sellers:,} sellers, {args.lines:,} order lines = {len(rows):,} ledger entries "
          f"(loaded in {load_s:.1f} s)")
    print(f"merx run_payout_cycle:   {merx_s:8.2f} s  ({cycle.sellers} payouts, {cycle.entries:,} entries closed)")
    print(f"naive ORM loop (sums only, moves nothing): {naive_s:8.2f} s")
    print(f"same cycle again: refused ({refused}) in {again_s * 1000:.0f} ms; payouts match the independent sums")
    db.dispose()


if __name__ == "__main__":
    main()
