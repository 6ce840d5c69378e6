"""`UnitOfWork.run_in_transaction`: a transaction the database aborts for a conflict with a
concurrent one (PostgreSQL serialisation failure, SQLite's lock held past the busy timeout)
runs again from the start and then succeeds; any other error is raised after one attempt."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from merx.core.db import Database
from merx.core.uow import UnitOfWork
from merx.marketplace import service as marketplace

BUMP = sa.text("UPDATE marketplace_sellers SET violations = violations + 1 WHERE code = :code")
READ = sa.text("SELECT violations FROM marketplace_sellers WHERE code = :code")


def _seller(db: Database, code: str) -> None:
    with UnitOfWork(db) as uow:
        marketplace.create_seller(uow, code=code, name=code)


def _violations(db: Database, code: str) -> int:
    with db.engine.connect() as conn:
        return conn.execute(READ, {"code": code}).scalar_one()


def _bump_in_repeatable_read(db: Database, uow: UnitOfWork, *, concurrent_update: bool) -> int:
    """Read S1's count (the snapshot starts there), let another transaction commit an update
    of the same row if asked, then update and commit: PostgreSQL refuses that with 40001."""
    conn = uow.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    seen = conn.execute(READ, {"code": "S1"}).scalar_one()
    if concurrent_update:
        with db.engine.begin() as other:
            other.execute(BUMP, {"code": "S1"})
    conn.execute(BUMP, {"code": "S1"})
    uow.commit()
    return seen


@pytest.mark.backends("postgresql")
def test_a_serialisation_failure_runs_the_transaction_again(db: Database) -> None:
    """Two REPEATABLE READ transactions update the same row: PostgreSQL aborts the later one
    (SQLSTATE 40001); run again, it reads the other's committed update and adds to it."""
    _seller(db, "S1")
    attempts = 0
    with UnitOfWork(db) as uow:
        def bump() -> int:
            nonlocal attempts
            attempts += 1
            # a concurrent transaction commits an update of the same row, on the first try only
            return _bump_in_repeatable_read(db, uow, concurrent_update=attempts == 1)

        seen = uow.run_in_transaction(bump)
    assert attempts == 2
    assert seen == 1  # the retry read the concurrent update ...
    assert _violations(db, "S1") == 2  # ... and neither increment was lost


@pytest.mark.backends("postgresql")
def test_a_serialisation_failure_on_every_attempt_is_raised_after_the_last(db: Database) -> None:
    _seller(db, "S1")
    attempts = 0
    with UnitOfWork(db) as uow:
        def always_conflicting() -> None:
            nonlocal attempts
            attempts += 1
            _bump_in_repeatable_read(db, uow, concurrent_update=True)

        with pytest.raises(DBAPIError) as raised:
            uow.run_in_transaction(always_conflicting, attempts=3)
    assert getattr(raised.value.orig, "sqlstate", None) == "40001"
    assert attempts == 3
    assert _violations(db, "S1") == 3  # only the concurrent transactions' updates committed


def test_sqlite_database_is_locked_runs_the_transaction_again(db: Database) -> None:
    """Another connection holds SQLite's write lock; with no busy wait the first attempt fails
    with "database is locked", and the retry, once the lock is released, commits."""
    _seller(db, "S1")
    # Its own engine on the same file, waiting 0 ms for a lock instead of 30 s.
    impatient = Database(db.url)
    sa.event.listen(impatient.engine, "connect",
                    lambda dbapi_connection, _record: dbapi_connection.execute("PRAGMA busy_timeout=0"))
    holder = db.engine.raw_connection()
    holder.execute("BEGIN IMMEDIATE")
    errors: list[str] = []
    try:
        with UnitOfWork(impatient) as uow:
            def bump() -> None:
                try:
                    uow.session.execute(BUMP, {"code": "S1"})
                    uow.commit()
                except DBAPIError as e:
                    errors.append(str(e.orig))
                    holder.rollback()  # the other writer finishes
                    raise

            uow.run_in_transaction(bump)
    finally:
        holder.close()
        impatient.dispose()
    assert len(errors) == 1 and "database is locked" in errors[0]
    assert _violations(db, "S1") == 1


@pytest.mark.backends("sqlite", "postgresql")
def test_an_error_that_is_not_a_conflict_is_raised_at_once(db: Database) -> None:
    """A unique violation will fail again however often it runs: one attempt, rolled back."""
    _seller(db, "S1")
    attempts = 0
    with UnitOfWork(db) as uow:
        def duplicate() -> None:
            nonlocal attempts
            attempts += 1
            uow.session.execute(BUMP, {"code": "S1"})
            uow.session.execute(sa.text("INSERT INTO marketplace_sellers (code, name, premium, violations, active, "
                                        "created_at, version) SELECT code, name, premium, violations, active, "
                                        "created_at, version FROM marketplace_sellers WHERE code = 'S1'"))
            uow.commit()

        with pytest.raises(IntegrityError):
            uow.run_in_transaction(duplicate)
        assert not uow.in_transaction()  # rolled back, the connection is free for the next use
    assert attempts == 1
    assert _violations(db, "S1") == 0  # the update before the failing insert was rolled back
