"""The relay never jumps over an outbox row whose transaction commits late (PostgreSQL assigns
`seq` at insert, not at commit), and does not wait forever for a rolled-back one."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from merx.core.models import OutboxEvent
from merx.core.uow import UnitOfWork
from merx.integration.relay import advance_horizon, ensure_relay_state
from parcel_events import ParcelRegistered


def _emit(db, n: int) -> None:
    for i in range(n):
        with UnitOfWork(db) as uow:
            uow.emit(ParcelRegistered(parcel_id=i, n=i), version=1)
            uow.commit()


@pytest.mark.backends("postgresql")
def test_horizon_waits_for_open_transactions(db):
    ensure_relay_state(db, 16)
    _emit(db, 2)
    assert advance_horizon(db, 300) == 2
    slow = UnitOfWork(db)
    slow.__enter__()
    try:
        slow.emit(ParcelRegistered(parcel_id="slow", n="slow"), version=1)
        slow.flush_records()  # seq 3 taken, not committed
        _emit(db, 3)  # seqs 4..6 commit first
        assert advance_horizon(db, 300) == 2  # 3 is missing and its transaction is open
        assert advance_horizon(db, 300) == 2
        slow.commit()
    finally:
        slow.__exit__(None, None, None)
    assert advance_horizon(db, 300) == 6

    # a rolled-back transaction leaves a hole that is final once no older transaction runs
    with UnitOfWork(db) as uow:
        uow.emit(ParcelRegistered(parcel_id="gone", n="gone"), version=1)
        uow.flush_records()
        uow.rollback()
    _emit(db, 1)
    first = advance_horizon(db, 300)  # sees the hole: remembers when
    assert first == 6
    assert advance_horizon(db, 300) == 8  # nobody older is running: the hole is abandoned
    with db.engine.connect() as conn:
        seqs = conn.scalars(sa.select(OutboxEvent.seq).order_by(OutboxEvent.seq)).all()
    assert seqs == [1, 2, 3, 4, 5, 6, 8]


def test_sqlite_horizon_is_the_newest_row(db):
    _emit(db, 3)
    assert advance_horizon(db, 300) == 3
