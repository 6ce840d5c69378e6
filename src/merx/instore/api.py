"""In-store routes (`/api/v1/instore/...`): what the associate app does, by API. Every store
route checks that the caller may act in that store (403 otherwise); a pickup of another store
is 404. Staff and admins may act in any store."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Query

from merx.core import accounts
from merx.core.auth import Principal, Role
from merx.core.db import utcnow
from merx.core.errors import ValidationProblem
from merx.core.idempotency import register_replay
from merx.core.uow import UnitOfWork
from merx.core.web import get_read_uow, get_uow, require
from merx.instore import access, assisted, counter, counter_returns, finding, held_carts, pickups, reports, stock
from merx.instore.schemas import (AssistedOrderCreate, BindStoresIn, CounterReturnCreate, HandOverIn, HeldCartCreate,
                                  PayByLinkIn, ShelfCountIn)

router = APIRouter(prefix="/instore", tags=["instore"])
# An assisted order retried after a crash that lost its answer gets the same answer.
register_replay("instore_order", lambda uow, order_id: assisted.assisted_order_out(uow, int(order_id)))
register_replay("instore_link_payment", lambda uow, order_id: assisted.link_payment_out(uow, int(order_id)))
IN_STORE = require(Role.admin, Role.staff, Role.store_associate)


def _answered(uow: UnitOfWork, body: Any) -> Any:
    """End the read transaction the answer was built in (the use case has committed): on
    SQLite a write session's transaction holds the file's write lock, and the Idempotency-Key
    record is stored while the answer is sent, before the unit of work is closed."""
    if uow.in_transaction():
        uow.rollback()
    return body


def _store_out(s: access.Store) -> dict[str, Any]:
    return dataclasses.asdict(s)


@router.get("/me")
def me(uow: UnitOfWork = Depends(get_read_uow), principal: Principal = Depends(IN_STORE)) -> dict[str, Any]:
    """The caller's stores (an associate's own; every active store for staff)."""
    return {"user_id": principal.user_id, "role": principal.role.value,
            "stores": [_store_out(s) for s in access.my_stores(uow)]}


@router.put("/associates/{user_id}/stores")
def bind(user_id: int, body: BindStoresIn, uow: UnitOfWork = Depends(get_uow),
         _: Principal = Depends(require(Role.admin))) -> dict[str, Any]:
    """Bind a store associate to stores (replaces its stores)."""
    stores = access.bind_associate(uow, user_id, body.stores, role_of_user=accounts.user_role(uow, user_id))
    return _answered(uow, {"user_id": user_id, "stores": [_store_out(s) for s in stores]})


@router.get("/lookup")
def lookup(code: str = Query(..., max_length=100), uow: UnitOfWork = Depends(get_read_uow),
           _: Principal = Depends(IN_STORE)) -> dict[str, Any]:
    """The SKUs behind a scanned EAN or a typed SKU (404: nothing has this code; 422: a bad check digit)."""
    return dataclasses.asdict(finding.find_by_code(uow, code))


@router.get("/stores/{store}/products/{sku}")
def product(store: str, sku: str, uow: UnitOfWork = Depends(get_read_uow),
            _: Principal = Depends(IN_STORE)) -> dict[str, Any]:
    """The product card seen from this store: price and promotions, stock here, in nearby stores, in warehouses."""
    return finding.card_dict(finding.product_card(uow, access.require_store(uow, store), sku))


@router.get("/stores/{store}/stock/{sku}")
def shelf_stock(store: str, sku: str, uow: UnitOfWork = Depends(get_read_uow),
                _: Principal = Depends(IN_STORE)) -> dict[str, Any]:
    return stock.store_stock(uow, access.require_store(uow, store), sku)


@router.post("/stores/{store}/stock/{sku}/count")
def shelf_count(store: str, sku: str, body: ShelfCountIn, uow: UnitOfWork = Depends(get_uow),
                _: Principal = Depends(IN_STORE)) -> dict[str, Any]:
    """A shelf count in the associate's own store sets its on-hand quantity."""
    return _answered(uow, stock.count_shelf(uow, access.require_store(uow, store), sku, body.counted, body.note))


@router.get("/customers")
def customers(q: str = Query(..., max_length=200), uow: UnitOfWork = Depends(get_read_uow),
              _: Principal = Depends(IN_STORE)) -> dict[str, Any]:
    """Every customer a phone, email, loyalty card or name points at (several: the associate chooses)."""
    access.my_stores(uow)
    return {"items": [dataclasses.asdict(m) for m in counter.find_customers(uow, q)]}


@router.get("/customers/{customer_id}")
def customer(customer_id: int, uow: UnitOfWork = Depends(get_read_uow),
             _: Principal = Depends(IN_STORE)) -> dict[str, Any]:
    """The counter's view of one customer: tier and points, open orders, open tickets, consent."""
    access.my_stores(uow)
    return counter.customer_essentials(uow, customer_id)


@router.post("/stores/{store}/orders", status_code=201)
def assisted_order(store: str, body: AssistedOrderCreate, uow: UnitOfWork = Depends(get_uow),
                   _: Principal = Depends(IN_STORE)) -> dict[str, Any]:
    """An order for the customer at the counter, attributed to this store and the caller."""
    here = access.require_store(uow, store)
    data = assisted.AssistedOrderIn(customer_id=body.customer_id, email=body.email,
                                    lines=[(ln.sku, ln.quantity) for ln in body.lines], fulfilment=body.fulfilment,
                                    pickup_store=body.pickup_store,
                                    address=body.address.model_dump() if body.address else None,
                                    payment_mode=body.payment_mode)
    order = assisted.place_assisted_order(uow, here, data)
    return _answered(uow, assisted.assisted_order_out(uow, order["id"]))


@router.post("/stores/{store}/orders/{order_id}/payment-link/send")
def send_payment_link(store: str, order_id: int, uow: UnitOfWork = Depends(get_uow),
                      _: Principal = Depends(IN_STORE)) -> dict[str, Any]:
    """Send the order's payment link to the customer (email, else SMS to their phone)."""
    return _answered(uow, held_carts.send_payment_link(uow, access.require_store(uow, store), order_id))


@router.get("/payment-links/{token}")
def payment_link(token: str, uow: UnitOfWork = Depends(get_read_uow)) -> dict[str, Any]:
    """The order a payment link pays and the card providers it offers (no sign-in: the signed
    link is the payer's proof of access; a forged one is 404)."""
    order = assisted.order_of_payment_link(uow, token)
    return {"order": order, "providers": [{"name": n, "label": label}
                                          for n, label in assisted.payment_link_providers(uow)]}


@router.post("/payment-links/{token}/pay")
def pay_by_link(token: str, body: PayByLinkIn, uow: UnitOfWork = Depends(get_uow)) -> dict[str, Any]:
    """Pay the order with a card provider: the order answers paid, or waiting for the 3-D Secure
    challenge at `payment.action_url`; a declined card is 402 (the link still works). Send an
    Idempotency-Key: a retry answers the same, and a second tap never authorises twice."""
    return _answered(uow, assisted.pay_by_link(uow, token, provider=body.provider, card=body.card))


@router.post("/stores/{store}/held-carts", status_code=201)
def hold_cart(store: str, body: HeldCartCreate, uow: UnitOfWork = Depends(get_uow),
              _: Principal = Depends(IN_STORE)) -> dict[str, Any]:
    """Hold a cart for the customer and send it as a link; they check out on the storefront
    with its lines and prices, and the order is attributed to this store and the caller."""
    here = access.require_store(uow, store)
    data = assisted.AssistedOrderIn(customer_id=body.customer_id, email=None,
                                    lines=[(ln.sku, ln.quantity) for ln in body.lines], fulfilment=body.fulfilment,
                                    pickup_store=body.pickup_store,
                                    address=body.address.model_dump() if body.address else None, payment_mode="link")
    return _answered(uow, held_carts.hold_and_send(uow, here, data))


@router.get("/stores/{store}/pickups")
def pickup_queue(store: str, uow: UnitOfWork = Depends(get_read_uow),
                 _: Principal = Depends(IN_STORE)) -> dict[str, Any]:
    return pickups.pickup_queue(uow, access.require_store(uow, store))


@router.post("/stores/{store}/pickups/{order_id}/ready")
def pickup_ready(store: str, order_id: int, uow: UnitOfWork = Depends(get_uow),
                 _: Principal = Depends(IN_STORE)) -> dict[str, Any]:
    return _answered(uow, pickups.mark_ready(uow, access.require_store(uow, store), order_id))


@router.post("/stores/{store}/pickups/{order_id}/hand-over")
def hand_over(store: str, order_id: int, body: HandOverIn, uow: UnitOfWork = Depends(get_uow),
              _: Principal = Depends(IN_STORE)) -> dict[str, Any]:
    """Hand over after verification (the pickup code or the customer's name); a mismatch is 422 and logged."""
    return _answered(uow, pickups.hand_over(uow, access.require_store(uow, store), order_id, code=body.code,
                                            name=body.name, payment_collected=body.payment_collected))


@router.post("/stores/{store}/returns", status_code=201)
def counter_return(store: str, body: CounterReturnCreate, uow: UnitOfWork = Depends(get_uow),
                   _: Principal = Depends(IN_STORE)) -> dict[str, Any]:
    """A return of an online order taken in this store (restocked here line by line)."""
    here = access.require_store(uow, store)
    lines = [counter_returns.ReturnLineIn(line=ln.line, quantity=ln.quantity, reason=ln.reason, restock=ln.restock)
             for ln in body.lines]
    return _answered(uow, counter_returns.take_return(uow, here, order_number=body.order_number, lines=lines,
                                                      condition=body.condition, refund_method=body.refund_method,
                                                      note=body.note))


@router.get("/reports")
def store_reports(since: dt.date | None = None, until: dt.date | None = None, store: str | None = None,
                  uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(IN_STORE)) -> dict[str, Any]:
    """Per store and associate: assisted orders, kiosk sessions and their conversion, pickups, returns.
    `until` is inclusive; the default period is the last 30 days."""
    end = dt.datetime.combine(until, dt.time(), dt.timezone.utc) + dt.timedelta(days=1) if until else utcnow()
    start = dt.datetime.combine(since, dt.time(), dt.timezone.utc) if since else end - dt.timedelta(days=30)
    if start >= end:
        raise ValidationProblem.for_field("since", "must be before until", "bad_period")
    return reports.report_dict(reports.store_report(uow, since=start, until=end, store=store))
