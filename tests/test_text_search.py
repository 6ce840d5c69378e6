"""The console list search (`core.pagination.text_search`, `?q=`) ignores Unicode case on both
databases: SQLite's own lower() folds ASCII only, so before merx_casefold "łódź" did not find
"Łódź" there. Run on a real table (inventory locations) through the context's list use case."""

from __future__ import annotations

from typing import Any

import pytest

from merx.core.uow import UnitOfWork
from merx.inventory import public as inventory

NAMES = ["Łódź depot", "москва склад", "Hauptstraße hub", "ÉCOLE annex", "Outlet 50% off", "Outlet 500",
         "Back_room", "Backroom"]


def _seed(db: Any) -> None:
    for n, name in enumerate(NAMES):
        with UnitOfWork(db) as uow:
            inventory.create_location(uow, {"code": f"LOC-{n}", "name": name, "kind": "warehouse"})


def _found(db: Any, q: str) -> list[str]:
    with UnitOfWork(db) as uow:
        items, _ = inventory.list_locations(uow, q=q, limit=50)
    return [i["name"] for i in items]


@pytest.mark.backends("sqlite", "postgresql")
def test_search_folds_unicode_case_on_both_databases(db: Any) -> None:
    _seed(db)
    assert _found(db, "łódź") == ["Łódź depot"]
    assert _found(db, "ŁÓDŹ") == ["Łódź depot"]
    assert _found(db, "МОСКВА") == ["москва склад"]
    assert _found(db, "école") == ["ÉCOLE annex"]
    # the capital sharp s folds to the small one (PostgreSQL) or to "ss" (SQLite) on both sides
    assert _found(db, "STRAẞE") == ["Hauptstraße hub"]
    assert _found(db, "Straße") == ["Hauptstraße hub"]


@pytest.mark.backends("sqlite", "postgresql")
def test_wildcards_in_the_query_still_match_only_themselves(db: Any) -> None:
    _seed(db)
    assert _found(db, "50%") == ["Outlet 50% off"]  # as a wildcard it would find "Outlet 500" too
    assert _found(db, "c_r") == []  # as a wildcard it would find "Backroom"
    assert _found(db, "K_ROOM") == ["Back_room"]
    assert _found(db, "   ") == NAMES  # a blank query leaves the list whole


def test_sqlite_folds_like_python_casefold(db: Any) -> None:
    """Full case folding where SQLite answers it with Python's str.casefold: ß matches "ss"
    (PostgreSQL's lower() keeps ß, so this holds on SQLite only)."""
    if db.dialect != "sqlite":  # MERX_TEST_BACKENDS=sqlite,postgresql runs every test on both
        pytest.skip("merx_casefold is SQLite's; PostgreSQL folds with lower()")
    _seed(db)
    assert _found(db, "STRASSE") == ["Hauptstraße hub"]
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT merx_casefold('ŁÓDŹ'), merx_casefold(NULL)").one() == ("łódź", None)
