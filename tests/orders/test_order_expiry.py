"""Orders that hold stock without being paid are expired by scheduled jobs (orders/expiry.py):
a pending order stranded by a crash during payment, and a guest's pay-later order nobody
accepted. Both are cancelled, their stock released and the payment voided at the provider.
The jobs run through `run_due_jobs` with a controlled clock."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from merx.core.jobs import run_due_jobs, run_job_now
from merx.orders.payments import PROVIDERS, ProviderResult

API = "/api/v1"


class ProcessDied(BaseException):
    """The checkout process is killed between the order's commit and the payment result."""


class CrashingGateway:
    """A card gateway: authorising kills the checkout process; voids are recorded."""

    name = "crashgw"

    def __init__(self) -> None:
        self.voided: list[str | None] = []

    def authorise(self, *, order_number: str, amount: Decimal, currency: str, options: dict) -> ProviderResult:
        raise ProcessDied()

    def capture(self, *, reference: str | None, amount: Decimal, currency: str) -> ProviderResult:
        raise AssertionError("nothing to capture")

    def refund(self, *, reference: str | None, amount: Decimal, currency: str) -> ProviderResult:
        raise AssertionError("nothing was captured, so nothing to refund")

    def void(self, *, reference: str | None) -> ProviderResult:
        self.voided.append(reference)
        return ProviderResult("voided", reference)


def _enable(gateway: CrashingGateway, db: Any, monkeypatch: Any) -> CrashingGateway:
    """Register the gateway and enable it for checkouts (MERX_PAYMENT_PROVIDERS)."""
    monkeypatch.setitem(PROVIDERS, gateway.name, gateway)
    providers = f"{db.settings.payment_providers},{gateway.name}"
    monkeypatch.setattr(db, "settings", db.settings.model_copy(update={"payment_providers": providers}))
    return gateway


def _stock_matches_ledger(db: Any, sku: str) -> tuple[int, int]:
    """(on_hand, reserved) of the stock row, asserted equal to what the ledger sums to."""
    from merx.core.uow import UnitOfWork
    from merx.inventory import reads
    from merx.inventory.models import StockLevel

    with UnitOfWork(db, readonly=True) as uow:
        row = uow.session.scalars(sa.select(StockLevel).where(StockLevel.sku == sku)).one()
        assert reads.ledger_totals(uow, sku, row.location_id) == (row.on_hand, row.reserved)
        return row.on_hand, row.reserved


def _transactions(db: Any, order_id: int) -> list[tuple[str, str]]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT kind, status FROM order_payments WHERE order_id = :o ORDER BY id"), {"o": order_id})]


def _order_stranded_by_a_crash(shop: Any, db: Any, monkeypatch: Any, *, quantity: int) -> tuple[Any, Any]:
    """5 TEE in stock; a checkout through the crashing gateway dies after the order committed,
    before the payment result: the order is left `pending`, holding `quantity` units."""
    from merx.core.auth import ANONYMOUS
    from merx.core.uow import UnitOfWork
    from merx.orders import checkout
    from merx.orders.schemas import OrderCreate

    shop.location("WH")
    shop.product("TEE", price="19.99")
    shop.stock("TEE", "WH", 5)
    gateway = _enable(CrashingGateway(), db, monkeypatch)
    with UnitOfWork(db, ANONYMOUS) as uow, pytest.raises(ProcessDied):
        checkout.place_order(uow, OrderCreate(channel="web", customer={"email": "crash@example.com"},
                                              lines=[{"sku": "TEE", "quantity": quantity}],
                                              payment={"provider": gateway.name}))
    [order] = shop.client.get(f"{API}/orders", params={"status": "pending"}, headers=shop.admin).json()["items"]
    return gateway, order


@pytest.mark.backends("sqlite", "postgresql")
def test_a_pending_order_stranded_by_a_crash_is_cancelled_released_and_voided_by_the_job(shop, db, monkeypatch):
    gateway, order = _order_stranded_by_a_crash(shop, db, monkeypatch, quantity=4)
    assert _stock_matches_ledger(db, "TEE") == (5, 4)
    placed = dt.datetime.fromisoformat(order["created_at"])
    scheduler = shop.client.app.state.scheduler

    run_due_jobs(db, scheduler, now=placed + dt.timedelta(minutes=14))  # the checkout may still finish
    assert shop.client.get(f"{API}/orders/{order['id']}", headers=shop.admin).json()["status"] == "pending"
    runs = {r.name: r for r in run_due_jobs(db, scheduler, now=placed + dt.timedelta(minutes=16))}

    assert runs["orders.expire_unpaid_orders"].succeeded
    after = shop.client.get(f"{API}/orders/{order['id']}", headers=shop.admin).json()
    assert after["status"] == "cancelled" and after["payment"]["status"] == "voided"
    assert _stock_matches_ledger(db, "TEE") == (5, 0)
    assert gateway.voided == [None]  # the provider was told: whatever it authorised is voided
    assert _transactions(db, order["id"]) == [("authorise", "abandoned"), ("void", "succeeded")]
    # at least once: a second run finds nothing more to do
    run_due_jobs(db, scheduler, now=placed + dt.timedelta(minutes=30))
    assert gateway.voided == [None] and _stock_matches_ledger(db, "TEE") == (5, 0)


def test_a_void_cut_short_by_a_crash_is_retried_by_the_next_run(shop, db, monkeypatch):
    gateway, order = _order_stranded_by_a_crash(shop, db, monkeypatch, quantity=2)
    expired_at = dt.datetime.fromisoformat(order["created_at"]) + dt.timedelta(minutes=16)
    working_void = gateway.void
    monkeypatch.setattr(gateway, "void", lambda **_: (_ for _ in ()).throw(ProcessDied()))
    scheduler = shop.client.app.state.scheduler
    with pytest.raises(ProcessDied):  # the job's process dies after the cancel committed, before the void
        run_job_now(db, scheduler, "orders.expire_unpaid_orders", now=expired_at)
    cut_short = shop.client.get(f"{API}/orders/{order['id']}", headers=shop.admin).json()
    assert cut_short["status"] == "cancelled" and cut_short["payment"]["status"] == "void_pending"
    assert _stock_matches_ledger(db, "TEE") == (5, 0)

    monkeypatch.setattr(gateway, "void", working_void)
    later = expired_at + dt.timedelta(minutes=6)  # the dead runner's lease (5 minutes) has run out
    [run] = [r for r in run_due_jobs(db, scheduler, now=later) if r.name == "orders.expire_unpaid_orders"]
    assert run.result.endswith("retried 1 voids")
    assert shop.client.get(f"{API}/orders/{order['id']}", headers=shop.admin).json()["payment"]["status"] == "voided"
    assert gateway.voided == [None]


def _cod(shop: Any, client: Any, quantity: int, email: str = "guest@example.com") -> Any:
    return client.post(f"{API}/orders", json={"channel": "web", "customer": {"email": email},
                                              "lines": [{"sku": "CAP", "quantity": quantity}],
                                              "payment": {"provider": "manual"}})


def _orders_setting(monkeypatch, name: str, value: int):  # type: ignore[no-untyped-def]
    from merx.orders.settings import get_orders_settings

    monkeypatch.setenv(name, str(value))
    get_orders_settings.cache_clear()
    yield value
    monkeypatch.undo()
    get_orders_settings.cache_clear()


@pytest.fixture
def hold_minutes(monkeypatch):  # type: ignore[no-untyped-def]
    yield from _orders_setting(monkeypatch, "MERX_GUEST_DEFERRED_HOLD_MINUTES", 30)


@pytest.fixture
def guest_cap(monkeypatch):  # type: ignore[no-untyped-def]
    yield from _orders_setting(monkeypatch, "MERX_GUEST_OPEN_HOLDS_PER_ADDRESS", 3)


@pytest.mark.backends("sqlite", "postgresql")
def test_a_guests_cash_on_delivery_order_stops_holding_stock_when_its_hold_expires(shop, db, hold_minutes):
    shop.location("WH")
    shop.product("CAP", price="15.00")
    shop.stock("CAP", "WH", 54)
    r = _cod(shop, shop.client, 54)
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "confirmed" and order["payment"]["status"] == "awaiting"
    expires = dt.datetime.fromisoformat(order["hold_expires_at"])
    placed = dt.datetime.fromisoformat(order["created_at"])
    assert expires - placed == dt.timedelta(minutes=hold_minutes)
    assert shop.levels("CAP")["WH"]["available"] == 0
    scheduler = shop.client.app.state.scheduler

    run_job_now(db, scheduler, "orders.expire_unpaid_orders", now=expires - dt.timedelta(seconds=1))
    assert shop.client.get(f"{API}/orders/{order['id']}", headers=shop.admin).json()["status"] == "confirmed"
    run_job_now(db, scheduler, "orders.expire_unpaid_orders", now=expires)

    after = shop.client.get(f"{API}/orders/{order['id']}", headers=shop.admin).json()
    assert after["status"] == "cancelled" and after["payment"]["status"] == "voided"
    assert after["hold_expires_at"] is None and "not accepted" in after["cancel_reason"]
    assert _stock_matches_ledger(db, "CAP") == (54, 0)
    assert _transactions(db, order["id"])[-1] == ("void", "succeeded")


def test_staff_accepting_a_guests_pay_later_order_keeps_it(shop, db, make_key):
    shop.location("WH")
    shop.product("CAP", price="15.00")
    shop.stock("CAP", "WH", 5)
    order = _cod(shop, shop.client, 2).json()
    assert shop.client.post(f"{API}/orders/{order['id']}/accept", headers=make_key("customer", customer_id=1)
                            ).status_code == 403
    accepted = shop.client.post(f"{API}/orders/{order['id']}/accept", headers=make_key("staff"))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["hold_expires_at"] is None
    run_due_jobs(db, shop.client.app.state.scheduler, now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30))
    kept = shop.client.get(f"{API}/orders/{order['id']}", headers=shop.admin).json()
    assert kept["status"] == "confirmed" and shop.levels("CAP")["WH"]["reserved"] == 2


@pytest.mark.backends("sqlite", "postgresql")
def test_one_address_may_hold_only_a_few_open_pay_later_guest_orders(shop, app, make_key, guest_cap):
    from fastapi.testclient import TestClient

    shop.location("WH")
    shop.product("CAP", price="15.00")
    shop.stock("CAP", "WH", 50)
    with TestClient(app, raise_server_exceptions=False, client=("198.51.100.7", 40000)) as hoarder, \
            TestClient(app, raise_server_exceptions=False, client=("203.0.113.20", 40000)) as neighbour:
        for n in range(guest_cap):
            assert _cod(shop, hoarder, 1, email=f"h{n}@example.com").status_code == 201
        refused = _cod(shop, hoarder, 1, email="h3@example.com")
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/problem+json")
        problem = refused.json()
        assert problem["type"].endswith("guest-hold-limit")
        assert problem["errors"][0]["field"] == "payment.provider"
        assert shop.levels("CAP")["WH"]["reserved"] == 3  # the refused order took nothing
        # another address, and staff placing a pay-later order for a caller, are not limited by it
        assert _cod(shop, neighbour, 1).status_code == 201
        staff_order = hoarder.post(f"{API}/orders", headers=make_key("staff"), json={
            "channel": "store", "customer": {"email": "walkin@example.com"},
            "lines": [{"sku": "CAP", "quantity": 1}], "payment": {"provider": "manual"}})
        assert staff_order.status_code == 201 and staff_order.json()["hold_expires_at"] is None
