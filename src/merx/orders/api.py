"""Order, return and cart routes. Checkout is open to anonymous callers (guest checkout);
record-level scoping (a customer's own orders, a rep's own b2b orders) lives in the service."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Header, Query, Request

from merx.core.auth import Principal, Role
from merx.core.idempotency import register_replay
from merx.core.pagination import check_limit
from merx.core.ratelimit import rate_limited
from merx.core.schemas import Page
from merx.core.uow import UnitOfWork
from merx.core.web import get_principal, get_read_uow, get_uow, require
from merx.orders import carts, checkout, reading, returns, transitions
from merx.orders.schemas import (CancelIn, CartCreate, CartLineSet, CartOrderIn, CartOut, CartPatch, FulfilIn, OrderCreate,
                                 OrderPreviewOut,
                                 OrderOut, PickedUpIn, ReceiveReturnIn, ReturnCreate, ReturnOut)

router = APIRouter(tags=["orders"])
STAFF = (Role.admin, Role.staff)
ANY_ROLE = tuple(Role)
# Guests (no credential) are limited per client address; callers with a key are not.
GUEST_CHECKOUT_LIMIT = rate_limited("guest_checkout", anonymous_only=True)
# A checkout retried after a crash that lost its answer gets the order it created, as it is now.
register_replay("order", lambda uow, order_id: OrderOut(**reading.order_for_replay(uow, int(order_id))))


def _client_address(request: Request) -> str | None:
    """The caller's address (uvicorn resolves X-Forwarded-For from trusted proxies)."""
    return request.client.host if request.client else None


@router.post("/orders", response_model=OrderOut, status_code=201)
def place_order(body: OrderCreate, request: Request, uow: UnitOfWork = Depends(get_uow),
                _: Principal = Depends(get_principal), __: None = Depends(GUEST_CHECKOUT_LIMIT)) -> OrderOut:
    """Checkout for the storefront (guests included), point of sale and B2B. 409 names each
    line short of stock; 402 when the payment is declined (the order is cancelled and its
    stock released). A guest's pay-later order holds its stock until `hold_expires_at`
    unless staff accept it; 429 when the caller's address already holds the most open ones
    allowed (MERX_GUEST_OPEN_HOLDS_PER_ADDRESS). Send an Idempotency-Key to make retries safe."""
    return OrderOut(**checkout.place_order(uow, body, client_address=_client_address(request)))


@router.post("/orders/preview", response_model=OrderPreviewOut)
def preview_order(body: OrderCreate, uow: UnitOfWork = Depends(get_uow),
                  _: Principal = Depends(get_principal)) -> OrderPreviewOut:
    """What the order would cost: prices, discounts, shipping (zone and rate) and tax lines,
    without placing it. The same 422s as checkout (address outside every shipping zone, tax
    rate gap ...)."""
    from merx.orders import fiscal_step

    return OrderPreviewOut(**fiscal_step.preview(uow, body))


@router.get("/orders", response_model=Page[OrderOut])
def list_orders(status: str | None = None, customer_id: int | None = None,
                q: str | None = Query(None, max_length=200, description="part of the order number or email"),
                sort: Literal["oldest", "newest"] = "oldest", limit: int | None = Query(None),
                cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                _: Principal = Depends(require(*ANY_ROLE))) -> Page[OrderOut]:
    items, nxt = reading.list_orders(uow, status=status, customer_id=customer_id, q=q, newest_first=sort == "newest",
                                     limit=check_limit(limit, 50, 200), cursor=cursor)
    return Page[OrderOut](items=[OrderOut(**o) for o in items], next_cursor=nxt)


@router.get("/orders/{order_id}", response_model=OrderOut)
def get_order(order_id: int, uow: UnitOfWork = Depends(get_read_uow),
              _: Principal = Depends(require(*ANY_ROLE))) -> OrderOut:
    return OrderOut(**reading.get_order(uow, order_id))


@router.post("/orders/{order_id}/cancel", response_model=OrderOut)
def cancel(order_id: int, body: CancelIn | None = None, uow: UnitOfWork = Depends(get_uow),
           _: Principal = Depends(require(Role.admin, Role.staff, Role.customer))) -> OrderOut:
    return OrderOut(**transitions.cancel(uow, order_id, reason=body.reason if body else None))


@router.post("/orders/{order_id}/accept", response_model=OrderOut)
def accept(order_id: int, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(require(*STAFF))) -> OrderOut:
    """Accept a guest's pay-later order: it keeps its stock instead of expiring at `hold_expires_at`."""
    from merx.orders import expiry

    return OrderOut(**expiry.accept_guest_order(uow, order_id))


@router.post("/orders/{order_id}/capture", response_model=OrderOut)
def capture(order_id: int, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(require(*STAFF))) -> OrderOut:
    """Capture an authorised payment, or record cash collected for a manual one."""
    return OrderOut(**transitions.capture_payment(uow, order_id))


@router.post("/orders/{order_id}/fulfil", response_model=OrderOut)
def fulfil(order_id: int, body: FulfilIn, uow: UnitOfWork = Depends(get_uow),
           _: Principal = Depends(require(*STAFF))) -> OrderOut:
    return OrderOut(**transitions.fulfil(uow, order_id, carrier=body.carrier, tracking_number=body.tracking_number,
                                     tracking_url=body.tracking_url))


@router.post("/orders/{order_id}/deliver", response_model=OrderOut)
def deliver(order_id: int, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(require(*STAFF))) -> OrderOut:
    return OrderOut(**transitions.simple_transition(uow, order_id, "delivered"))


@router.post("/orders/{order_id}/ready-for-pickup", response_model=OrderOut)
def ready_for_pickup(order_id: int, uow: UnitOfWork = Depends(get_uow),
                     _: Principal = Depends(require(*STAFF))) -> OrderOut:
    return OrderOut(**transitions.ready_for_pickup(uow, order_id))


@router.post("/orders/{order_id}/picked-up", response_model=OrderOut)
def picked_up(order_id: int, body: PickedUpIn, uow: UnitOfWork = Depends(get_uow),
              _: Principal = Depends(require(*STAFF))) -> OrderOut:
    return OrderOut(**transitions.picked_up(uow, order_id, location=body.location,
                                        payment_collected=body.payment_collected))


@router.post("/orders/{order_id}/complete", response_model=OrderOut)
def complete(order_id: int, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(require(*STAFF))) -> OrderOut:
    return OrderOut(**transitions.simple_transition(uow, order_id, "completed"))


@router.post("/orders/{order_id}/returns", response_model=ReturnOut, status_code=201)
def create_return(order_id: int, body: ReturnCreate, uow: UnitOfWork = Depends(get_uow),
                  _: Principal = Depends(require(Role.admin, Role.staff, Role.customer))) -> ReturnOut:
    return ReturnOut(**returns.create_return(uow, order_id, body))


@router.get("/orders/{order_id}/returns", response_model=list[ReturnOut])
def list_returns(order_id: int, uow: UnitOfWork = Depends(get_read_uow),
                 _: Principal = Depends(require(*ANY_ROLE))) -> list[ReturnOut]:
    return [ReturnOut(**r) for r in returns.returns_of(uow, order_id)]


@router.get("/returns/{return_id}", response_model=ReturnOut)
def get_return(return_id: int, uow: UnitOfWork = Depends(get_read_uow),
               _: Principal = Depends(require(*ANY_ROLE))) -> ReturnOut:
    return ReturnOut(**returns.get_return(uow, return_id))


@router.post("/returns/{return_id}/receive", response_model=ReturnOut)
def receive_return(return_id: int, body: ReceiveReturnIn | None = None, refund: bool = True,
                   uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(require(*STAFF))) -> ReturnOut:
    """The goods are back at a location that accepts returns: restock there and (unless
    `?refund=false`) refund through the order's original payment provider."""
    return ReturnOut(**returns.receive_return(uow, return_id, location=body.location if body else None, refund=refund))


@router.post("/returns/{return_id}/refund", response_model=ReturnOut)
def refund_return(return_id: int, uow: UnitOfWork = Depends(get_uow),
                  _: Principal = Depends(require(*STAFF))) -> ReturnOut:
    return ReturnOut(**returns.refund_return(uow, return_id))


# --------------------------------------------------------------------------------------------- carts


@router.post("/carts", response_model=CartOut, status_code=201)
def create_cart(body: CartCreate, uow: UnitOfWork = Depends(get_uow),
                _: Principal = Depends(get_principal)) -> CartOut:
    """Anonymous callers get a `token` once; send it back as `X-Cart-Token`."""
    return CartOut(**carts.create_cart(uow, body))


@router.get("/carts/{cart_id}", response_model=CartOut)
def get_cart(cart_id: int, x_cart_token: str | None = Header(None), uow: UnitOfWork = Depends(get_read_uow),
             _: Principal = Depends(get_principal)) -> CartOut:
    return CartOut(**carts.cart_out(uow, carts._load_cart(uow, cart_id, x_cart_token)))


@router.post("/carts/{cart_id}/lines", response_model=CartOut)
def set_cart_line(cart_id: int, body: CartLineSet, x_cart_token: str | None = Header(None),
                  uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(get_principal)) -> CartOut:
    """`{"sku", "quantity"}` sets the line's quantity (0 removes it)."""
    return CartOut(**carts.set_cart_line(uow, cart_id, x_cart_token, body.sku, body.quantity))


@router.patch("/carts/{cart_id}", response_model=CartOut)
def update_cart(cart_id: int, body: CartPatch, x_cart_token: str | None = Header(None),
                uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(get_principal)) -> CartOut:
    return CartOut(**carts.update_cart(uow, cart_id, x_cart_token, body))


@router.post("/carts/{cart_id}/checkout", response_model=CartOut)
def start_checkout(cart_id: int, x_cart_token: str | None = Header(None),
                   uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(get_principal),
                   __: None = Depends(GUEST_CHECKOUT_LIMIT)) -> CartOut:
    """Hold the cart's stock for the checkout time to live (MERX_RESERVATION_TTL_SECONDS);
    the orders.expire_checkouts job reopens the cart when it lapses."""
    return CartOut(**carts.start_checkout(uow, cart_id, x_cart_token))


@router.post("/carts/{cart_id}/order", response_model=OrderOut, status_code=201)
def order_cart(cart_id: int, request: Request, body: CartOrderIn | None = None, x_cart_token: str | None = Header(None),
               uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(get_principal),
               __: None = Depends(GUEST_CHECKOUT_LIMIT)) -> OrderOut:
    body = body or CartOrderIn()
    return OrderOut(**carts.order_cart(uow, cart_id, x_cart_token, body.payment, body.customer,
                                         client_address=_client_address(request)))
