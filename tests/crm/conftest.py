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


@pytest.fixture
def emit_order(db) -> Callable[..., int]:  # type: ignore[no-untyped-def]
    """Publish order.placed (and optionally order.paid) the way the orders context does."""
    from merx.core.uow import UnitOfWork

    def _emit(customer_id: int, total: str, *, currency: str = "EUR", paid: bool = True,
              lines: list[dict[str, Any]] | None = None, placed_at: dt.datetime | None = None,
              payment_fingerprint: str | None = None, channel: str = "web") -> int:
        order_id = next(_order_ids)
        placed_at = placed_at or dt.datetime.now(dt.timezone.utc)
        lines = lines if lines is not None else [{"sku": "SKU-1", "product_id": 1, "quantity": 1, "unit_price": total,
                                                  "line_total": total, "category": None, "location": None}]
        with UnitOfWork(db) as uow:
            uow.emit("order.placed", "order", order_id, {
                "order_id": order_id, "number": f"M-{order_id}", "channel": channel, "customer_id": customer_id,
                "email": None, "currency": currency, "lines": lines,
                "totals": {"subtotal": total, "discount": "0", "shipping": "0", "total": total},
                "placed_at": placed_at.isoformat()}, version=1)
            uow.commit()
        if paid:
            with UnitOfWork(db) as uow:
                payload = {"order_id": order_id, "customer_id": customer_id, "status": "paid", "total": total,
                           "currency": currency}
                if payment_fingerprint:
                    payload["payment_fingerprint"] = payment_fingerprint
                uow.emit("order.paid", "order", order_id, payload, version=2)
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
