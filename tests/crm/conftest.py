"""Helpers for CRM tests: posting events, creating customers, and emitting the order events
the commerce context publishes (through the real unit of work and message bus)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any, Callable

import pytest

_order_ids = itertools.count(100_000)


@pytest.fixture
def staff(make_key) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return make_key("staff")


@pytest.fixture
def new_customer(client, staff) -> Callable[..., dict[str, Any]]:  # type: ignore[no-untyped-def]
    def _make(**fields: Any) -> dict[str, Any]:
        r = client.post("/api/v1/customers", json=fields, headers=staff)
        assert r.status_code == 201, r.text
        return r.json()

    return _make


def _placed_event(order_id: int, customer_id: int | None, total: str, *, currency: str = "EUR",
                  lines: list[dict[str, Any]] | None = None, placed_at: dt.datetime | None = None,
                  channel: str = "web") -> Any:
    """The orders context's own `OrderPlaced`, for an order of one line unless `lines` says otherwise."""
    from order_events import order_placed

    lines = lines if lines is not None else [{"sku": "SKU-1", "product_id": 1, "quantity": 1, "unit_price": total}]
    return order_placed(order_id, customer_id, lines, currency=currency, placed_at=placed_at, channel=channel)


@pytest.fixture
def placed_event() -> Callable[..., Any]:
    return _placed_event


@pytest.fixture
def emit_order(db) -> Callable[..., int]:  # type: ignore[no-untyped-def]
    """Publish order.placed (and optionally order.paid) with the orders context's event
    classes, through the real unit of work and message bus. (Tests of how real orders reach
    the CRM place them through the orders API: test_order_facts_from_orders.py.)"""
    from merx.core.money import Money
    from merx.core.uow import UnitOfWork
    from merx.orders.events import OrderPaid

    def _emit(customer_id: int, total: str, *, currency: str = "EUR", paid: bool = True,
              lines: list[dict[str, Any]] | None = None, placed_at: dt.datetime | None = None,
              channel: str = "web") -> int:
        order_id = next(_order_ids)
        with UnitOfWork(db) as uow:
            uow.emit(_placed_event(order_id, customer_id, total, currency=currency, lines=lines, placed_at=placed_at,
                                  channel=channel), version=1)
            uow.commit()
        if paid:
            with UnitOfWork(db) as uow:
                uow.emit(OrderPaid(order_id=order_id, number=f"M-{order_id}", customer_id=customer_id, status="paid",
                                   previous_status="confirmed", total=total, currency=currency,
                                   amount=Money.of(total, currency), provider="manual", payment_fingerprint=None),
                         version=2)
                uow.commit()
        return order_id

    return _emit


@pytest.fixture
def private_app(tmp_path, settings):  # type: ignore[no-untyped-def]
    """An app over its own freshly migrated SQLite file. For tests that go through the
    analytics context, whose ADBC reader opens the SQLite file with a second SQLite library
    in this process; keeping that away from the session-wide test database avoids the
    two-SQLite-copies locking hazard (see the CRM report)."""
    from fastapi.testclient import TestClient

    from merx.app import create_app
    from merx.core import accounts, migrate
    from merx.core.auth import Role
    from merx.core.db import Database
    from merx.core.uow import UnitOfWork

    db = Database(f"sqlite:///{tmp_path / 'private.db'}")
    migrate.upgrade(db)
    with UnitOfWork(db) as uow:
        key = accounts.create_user_with_key(uow, name="staff", role=Role.staff).key
    app = create_app(settings, db)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, db, {"Authorization": f"Bearer {key}"}
    db.dispose()
