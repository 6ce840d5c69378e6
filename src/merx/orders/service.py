"""Order use cases: checkout (with the payment saga), lifecycle transitions, pickup in store,
returns and refunds, and the read models other contexts use.

The checkout saga keeps payment provider calls OUT of the stock transaction:
  1. one transaction: validate, price, apply promotions, redeem coupons, reserve stock,
     insert the order (pending) and its `order.placed` event; commit.
  2. no transaction: authorise (and capture) with the provider.
  3. one transaction: mark the order confirmed/paid; or, on a decline or a time-out, the
     compensation: cancel the order, release its stock and coupon redemptions.
A process dying between 1 and 3 leaves a pending order that the orders.expire_unpaid_orders
job (orders/expiry.py) cancels, voiding at the provider, once the hold time to live has passed.

Money and refunds use the same two-phase pattern: claim the work in a transaction (so two
concurrent requests cannot both refund), call the provider, record the outcome."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, Callable, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from merx.core.auth import BACK_OFFICE_ROLES, Role
from merx.core.db import utcnow
from merx.core.errors import Conflict, FieldError, Forbidden, NotFound, Problem, ValidationProblem
from merx.core.money import Money, minor_to_str
from merx.core.pagination import paginate
from merx.core.uow import UnitOfWork
from merx.inventory import public as inventory
from merx.inventory.public import get_inventory_settings
from merx.orders import domain, events, guest_holds, payments
from merx.orders.models import (Cart, CartLine, Order, OrderAllocation, OrderLine, OrderPromotion, PaymentTransaction,
                                ReturnAuthorisation, ReturnLine)
from merx.orders.schemas import CartCreate, CartPatch, CustomerIn, LineIn, OrderCreate, PaymentIn, ReturnCreate
from merx.pricing import public as pricing

log = logging.getLogger("merx.orders")
T = TypeVar("T")

STAFF = (Role.admin, Role.staff)
READ_ALL = (Role.admin, Role.staff, Role.support_agent)


class PaymentFailed(Problem):
    status = 402
    type_slug = "payment-declined"
    title = "Payment declined"


class PaymentTimedOut(Problem):
    status = 504
    type_slug = "payment-timeout"
    title = "Payment provider timed out"


def _m(minor: int, currency: str) -> str:
    return minor_to_str(minor, currency)


# ---------------------------------------------------------------------------------------------
# Retries of whole transactions on PostgreSQL deadlock / serialisation failures
# ---------------------------------------------------------------------------------------------

def _retrying(uow: UnitOfWork, fn: Callable[[], T], attempts: int = 4) -> T:
    """`uow.run_in_transaction` with this process's SQLite writers queued (inventory.serialised).
    A lock wait that timed out (55P03) is not retried: that request already waited its bound
    and answers 503 (core/web.py). A refusal (409, 422) rolls back here, in this thread, so
    its row locks end before the answer, not when the request's unit of work is closed."""
    return uow.run_in_transaction(fn, attempts=attempts, guard=inventory.serialised)


# ---------------------------------------------------------------------------------------------
# Reading orders
# ---------------------------------------------------------------------------------------------


def _can_see(uow: UnitOfWork, order: Order) -> bool:
    actor = uow.actor
    if actor.role in READ_ALL:
        return True
    if actor.role == Role.customer:
        return actor.customer_id is not None and order.customer_id == actor.customer_id
    if actor.role == Role.sales_rep:
        return order.sales_rep_user_id == actor.user_id
    return False


def _load(uow: UnitOfWork, order_id: int, *, for_update: bool = False) -> Order:
    stmt = sa.select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
    if for_update:
        stmt = stmt.with_for_update()
    order = uow.session.scalar(stmt)
    if order is None or not _can_see(uow, order):
        raise NotFound(f"Order {order_id} does not exist")
    return order


def order_out(uow: UnitOfWork, order: Any, *, lines: list[Any] | None = None,
              allocations: list[Any] | None = None, promotions: list[Any] | None = None,
              codes: dict[int, str] | None = None) -> dict[str, Any]:
    """The API shape of an order. `order` and the lists may be ORM rows or anything with the
    same attributes (checkout passes what it has just written); `codes` maps location ids
    it already knows to their codes."""
    s = uow.session
    if lines is None:
        lines = list(s.scalars(sa.select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.line_no)))
    if allocations is None:
        allocations = list(s.scalars(sa.select(OrderAllocation).where(OrderAllocation.order_id == order.id)
                                     .order_by(OrderAllocation.line_no, OrderAllocation.location_id)))
    if promotions is None:
        promotions = list(s.scalars(sa.select(OrderPromotion).where(OrderPromotion.order_id == order.id)
                                    .order_by(OrderPromotion.id)))
    loc_ids = {a.location_id for a in allocations} | ({order.pickup_location_id} if order.pickup_location_id else set())
    codes = dict(codes or {})
    if not loc_ids <= codes.keys():
        codes.update({loc.id: loc.code for loc in inventory.locations_by_ids(uow, loc_ids - codes.keys()).values()})
    cur = order.currency
    return {
        "id": order.id, "number": order.number, "status": order.status, "channel": order.channel,
        "customer_id": order.customer_id, "email": order.email, "currency": cur,
        "lines": [{"line": ln.line_no, "sku": ln.sku, "product_id": ln.product_id, "name": ln.name,
                   "category": ln.category, "quantity": ln.quantity, "unit_price": _m(ln.unit_price_minor, cur),
                   "subtotal": _m(ln.subtotal_minor, cur), "discount": _m(ln.discount_minor, cur),
                   "total": _m(ln.total_minor, cur), "returned_quantity": ln.returned_quantity} for ln in lines],
        "allocations": [{"line": a.line_no, "sku": a.sku, "location": codes.get(a.location_id),
                         "quantity": a.quantity} for a in allocations],
        "promotions": [{"promotion_id": p.promotion_id, "name": p.name, "kind": p.kind, "coupon_code": p.coupon_code,
                        "amount": _m(p.amount_minor, cur)} for p in promotions],
        "totals": {"currency": cur, "subtotal": _m(order.subtotal_minor, cur), "discount": _m(order.discount_minor, cur),
                   "shipping": _m(order.shipping_minor, cur),
                   "shipping_discount": _m(order.shipping_discount_minor, cur),
                   "total": _m(order.total_minor, cur), "refunded": _m(order.refunded_minor, cur)},
        "fulfilment": {"type": order.fulfilment_type, "location": codes.get(order.pickup_location_id),
                       "address": order.shipping_address, "tracking": order.tracking},
        "payment": {"provider": order.payment_provider, "status": order.payment_status,
                    "reference": order.payment_reference},
        "coupon": order.coupon_code, "cancel_reason": order.cancel_reason,
        "hold_expires_at": order.hold_expires_at, "version": order.version,
        "created_at": order.created_at, "updated_at": order.updated_at,
    }


def get_order(uow: UnitOfWork, order_id: int) -> dict[str, Any]:
    return order_out(uow, _load(uow, order_id))


def order_for_replay(uow: UnitOfWork, order_id: int) -> dict[str, Any]:
    """The order a checkout created, for a retry with the checkout's own Idempotency-Key
    (whose scope already proved it is the same caller): no visibility check."""
    return order_out(uow, _load_any(uow, order_id))


def list_orders(uow: UnitOfWork, *, status: str | None = None, customer_id: int | None = None,
                q: str | None = None, newest_first: bool = False,
                limit: int = 50, cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """Orders the caller may see. `q` matches the order number or the email (a part of
    either, case-insensitive)."""
    actor = uow.actor
    stmt = sa.select(Order)
    if actor.role == Role.customer:
        stmt = stmt.where(Order.customer_id == actor.customer_id)
    elif actor.role == Role.sales_rep:
        stmt = stmt.where(Order.sales_rep_user_id == actor.user_id)
    elif actor.role not in READ_ALL:
        raise Forbidden("This role may not list orders")
    if status:
        if status not in domain.STATUSES:
            raise ValidationProblem.for_field("status", f"must be one of {', '.join(domain.STATUSES)}")
        stmt = stmt.where(Order.status == status)
    if customer_id is not None:
        stmt = stmt.where(Order.customer_id == customer_id)
    if q and q.strip():
        like = "%" + q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(sa.or_(sa.func.lower(Order.number).like(like, escape="\\"),
                                 sa.func.lower(Order.email).like(like, escape="\\")))
    items, nxt = paginate(uow.session, stmt, Order.id, limit=limit, cursor=cursor, descending=newest_first)
    return [order_out(uow, o) for o in items], nxt


def orders_for_customer(uow: UnitOfWork, customer_id: int) -> list[dict[str, Any]]:
    """Every order of a customer, oldest first (for the CRM 360 and the data export)."""
    orders = uow.session.scalars(sa.select(Order).where(Order.customer_id == customer_id).order_by(Order.id))
    return [order_out(uow, o) for o in orders]


# ---------------------------------------------------------------------------------------------
# Placing an order
# ---------------------------------------------------------------------------------------------


def _check_channel(uow: UnitOfWork, channel: str) -> None:
    role = uow.actor.role
    if role in (Role.seller, Role.support_agent):
        raise Forbidden(f"Role {role.value} may not place orders")
    allowed = {
        None: {"web", "marketplace"}, Role.customer: {"web", "marketplace"}, Role.sales_rep: {"b2b"},
        Role.staff: {"web", "store", "marketplace", "b2b"}, Role.admin: {"web", "store", "marketplace", "b2b"},
    }[role]
    if channel not in allowed:
        who = role.value if role else "an anonymous caller"
        raise Forbidden(f"{who} may not place {channel} orders", errors=[FieldError("channel", "not allowed for "
                                                                                   "this caller", "forbidden")])


def _resolve_customer(uow: UnitOfWork, cust: CustomerIn) -> tuple[int | None, str | None]:
    from merx.customers import public as customers

    actor = uow.actor
    if actor.role == Role.customer:
        if cust.id is not None and cust.id != actor.customer_id:
            raise Forbidden("A customer orders for themselves", errors=[FieldError("customer.id", "not yours")])
        c = customers.get_customer(uow, actor.customer_id)
        return c.id, cust.email or c.email
    if cust.id is not None:
        if actor.role not in BACK_OFFICE_ROLES:
            raise Forbidden("Only the back office orders for an existing customer by id",
                            errors=[FieldError("customer.id", "not allowed for this caller")])
        try:
            c = customers.get_customer(uow, cust.id)
        except NotFound:
            raise ValidationProblem.for_field("customer.id", "no such customer", "unknown_customer") from None
        return c.id, cust.email or c.email
    if not cust.email:
        raise ValidationProblem.for_field("customer.email", "is required (guest checkout needs an email)", "required")
    extra = {k: v for k, v in (("first_name", cust.first_name), ("last_name", cust.last_name),
                               ("phone", cust.phone)) if v}
    try:
        known = customers.customer_id_by_email(uow, cust.email)
        if known is not None:
            return known, cust.email
        with uow.savepoint():
            c = customers.get_or_create_guest(uow, cust.email, **extra)
    except IntegrityError:
        # a concurrent checkout created this guest first: use that record
        c = customers.find_customer(uow, email=cust.email)
        if c is None:
            raise
    except ValidationProblem as e:
        raise ValidationProblem(e.detail, errors=[FieldError(f"customer.{x.field}", x.message, x.code)
                                                  for x in e.errors]) from None
    return c.id, cust.email


def _lookup(uow: UnitOfWork, lines: list[LineIn]) -> dict[str, Any]:
    from merx.catalog import public as catalog

    infos = catalog.lookup_skus(uow, [ln.sku for ln in lines])
    errors = []
    for i, ln in enumerate(lines):
        info = infos.get(ln.sku)
        if info is None:
            errors.append(FieldError(f"lines[{i}].sku", f"{ln.sku} is not a known SKU", "unknown_sku"))
        elif info.status != "active":
            errors.append(FieldError(f"lines[{i}].sku", f"{ln.sku} is not for sale ({info.status})", "not_for_sale"))
    if errors:
        raise ValidationProblem("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    return infos


def _prices(uow: UnitOfWork, lines: list[LineIn], infos: dict[str, Any], *, currency: str, channel: str,
            group: str | None, overrides: dict[str, Decimal] | None = None) -> dict[str, Decimal]:
    prices = pricing.unit_prices(uow, {s: info.prices for s, info in infos.items()}, currency=currency,
                                 channel=channel, customer_group=group)
    if overrides:
        prices.update(overrides)
    errors = [FieldError(f"lines[{i}].sku", f"{ln.sku} has no price in {currency}", "no_price")
              for i, ln in enumerate(lines) if ln.sku not in prices]
    if errors:
        raise ValidationProblem("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    return prices


def _quote(uow: UnitOfWork, lines: list[LineIn], infos: dict[str, Any], prices: dict[str, Decimal], *,
           currency: str, channel: str, group: str | None, coupon: str | None,
           shipping: Decimal) -> pricing.PricingResult:
    cart_lines = [pricing.CartLine(f"lines[{i}]", ln.sku, ln.quantity, prices[ln.sku], infos[ln.sku].category)
                  for i, ln in enumerate(lines)]
    promos = pricing.promotions_for(uow, [coupon] if coupon else [])
    ctx = pricing.CartContext(currency=currency, channel=channel, now=utcnow(),
                                  coupon_codes=frozenset({coupon}) if coupon else frozenset(), shipping=shipping,
                                  customer_group=group)
    return pricing.price_cart(cart_lines, promos, ctx)


# Checkout's writes, built once: reused statement objects keep their memoised cache keys.
_INSERT_ORDER = sa.insert(Order.__table__).returning(Order.__table__.c.id)
_NUMBER_ORDER = (sa.update(Order.__table__).where(Order.__table__.c.id == sa.bindparam("order_id"))
                 .values(number=sa.bindparam("new_number"), payment_reference=sa.bindparam("new_reference")))
_INSERT_LINES = sa.insert(OrderLine.__table__)
_INSERT_ALLOCATIONS = sa.insert(OrderAllocation.__table__)
_INSERT_PROMOTIONS = sa.insert(OrderPromotion.__table__)
_INSERT_PAYMENT = sa.insert(PaymentTransaction.__table__)


def place_order(uow: UnitOfWork, data: OrderCreate, *, cart_id: int | None = None,
                price_overrides: dict[str, Decimal] | None = None, client_address: str | None = None) -> dict[str, Any]:
    """Create an order: 201 body, or a Problem (409 insufficient stock naming each line, 402
    declined payment after compensation, 422 bad input, 429 when the caller's address holds
    too many unpaid pay-later guest orders)."""
    provider = payments.provider_for_checkout(uow.settings, data.payment.provider)
    if data.payment.behaviour is not None and data.payment.provider != "test":
        raise ValidationProblem.for_field("payment.behaviour", "only the test provider takes a behaviour")
    out, pending = _retrying(uow, lambda: _create_pending(uow, data, cart_id=cart_id, price_overrides=price_overrides,
                                                          client_address=client_address))
    if pending is None:
        return out
    return _settle_payment(uow, pending, provider, data.payment)


def _create_pending(uow: UnitOfWork, data: OrderCreate, *, cart_id: int | None,
                    price_overrides: dict[str, Decimal] | None,
                    client_address: str | None = None) -> tuple[dict[str, Any], tuple | None]:
    actor = uow.actor
    _check_channel(uow, data.channel)
    currency = data.currency or uow.settings.default_currency
    ship = data.fulfilment.type == "ship"
    pickup_loc = None
    if not ship:
        pickup_loc = inventory.get_location_by_code(uow, data.fulfilment.location, field="fulfilment.location")
        if not pickup_loc.pickup or not pickup_loc.active:
            raise ValidationProblem.for_field("fulfilment.location", f"{pickup_loc.code} does not offer pickup",
                                              "no_pickup")
    strategy = data.fulfilment.strategy if actor.role in BACK_OFFICE_ROLES else None
    group = data.customer.group if actor.role in BACK_OFFICE_ROLES else None
    infos = _lookup(uow, data.lines)
    prices = _prices(uow, data.lines, infos, currency=currency, channel=data.channel, group=group,
                     overrides=price_overrides)
    coupon = data.coupon.upper() if data.coupon else None
    if coupon and not pricing.coupon_exists(uow, coupon):
        raise ValidationProblem.for_field("coupon", f"{coupon} is not a known coupon code", "unknown_coupon")
    shipping = pricing.shipping_fee(uow, currency) if ship else Decimal(0)
    quote = _quote(uow, data.lines, infos, prices, currency=currency, channel=data.channel, group=group,
                   coupon=coupon, shipping=shipping)
    if coupon and coupon in quote.coupon_problems:
        raise ValidationProblem.for_field("coupon", f"{coupon} {quote.coupon_problems[coupon]}", "coupon_not_applicable")
    customer_id, email = _resolve_customer(uow, data.customer)

    now = utcnow()
    to_minor = lambda d: pricing.to_minor(d, currency)  # noqa: E731
    manual = data.payment.provider == "manual"
    total_minor = to_minor(quote.total)
    # Nothing to call for cash on delivery / pay in store (collected later) or a free order (paid).
    settled_now = manual or total_minor == 0
    status = ("confirmed" if total_minor else "paid") if settled_now else "pending"
    payment_status = ("awaiting" if total_minor else "captured") if settled_now else "pending"
    # a guest's pay-later order holds its stock only until hold_expires_at (orders/guest_holds.py)
    hold_expires_at, hold_address = (guest_holds.hold_for_guest_order(uow, client_address, now)
                                     if manual and total_minor and actor.role is None else (None, None))
    # Core statements, not ORM objects: checkout is the hottest write path (see ARCHITECTURE.md)
    conn = uow.session.connection()
    order = SimpleNamespace(
        status=status, payment_status=payment_status, channel=data.channel, customer_id=customer_id,
        email=email, currency=currency, subtotal_minor=to_minor(quote.subtotal),
        discount_minor=to_minor(quote.discount), shipping_minor=to_minor(quote.shipping),
        shipping_discount_minor=to_minor(quote.shipping_discount), total_minor=total_minor,
        refunded_minor=0, fulfilment_type=data.fulfilment.type,
        pickup_location_id=pickup_loc.id if pickup_loc else None,
        shipping_address=data.fulfilment.address.model_dump() if data.fulfilment.address else None,
        tracking=None, payment_provider=data.payment.provider, payment_reference=None, coupon_code=coupon,
        customer_group=group, cart_id=cart_id, placed_by_user_id=actor.user_id,
        sales_rep_user_id=actor.user_id if actor.role == Role.sales_rep else None, cancel_reason=None,
        hold_expires_at=hold_expires_at, hold_address=hold_address, version=1, created_at=now, updated_at=now)
    order.id = conn.execute(_INSERT_ORDER, vars(order)).scalar_one()
    order.number = f"MX{order.id:08d}"
    if manual:
        order.payment_reference = f"manual-{order.number}"
    conn.execute(_NUMBER_ORDER, {"order_id": order.id, "new_number": order.number,
                                 "new_reference": order.payment_reference})
    lines = []
    for i, (ln, res) in enumerate(zip(data.lines, quote.lines)):
        info = infos[ln.sku]
        lines.append(SimpleNamespace(order_id=order.id, line_no=i + 1, sku=ln.sku, product_id=info.product_id,
                                     name=info.name, category=info.category, quantity=ln.quantity,
                                     unit_price_minor=to_minor(res.unit_price), subtotal_minor=to_minor(res.subtotal),
                                     discount_minor=to_minor(res.discount), total_minor=to_minor(res.total),
                                     returned_quantity=0))
    conn.execute(_INSERT_LINES, [vars(x) for x in lines])

    if cart_id is not None:
        claimed = uow.session.execute(
            sa.update(Cart).where(Cart.id == cart_id, Cart.status.in_(("open", "checkout")))
            .values(status="ordered", order_id=order.id, version=Cart.version + 1, updated_at=now)
            .execution_options(synchronize_session=False))
        if claimed.rowcount != 1:
            raise Conflict(f"Cart {cart_id} has already been ordered", type_slug="cart-ordered")

    codes: dict[int, str] = {pickup_loc.id: pickup_loc.code} if pickup_loc else {}
    planned = inventory.allocate(
        uow, f"order:{order.id}",
        [inventory.LineRequest(f"lines[{i}]", ln.sku, ln.quantity) for i, ln in enumerate(data.lines)],
        location_ids=[pickup_loc.id] if pickup_loc else None, strategy=strategy, ship_only=ship,
        release_owner=f"cart:{cart_id}" if cart_id is not None else None, location_codes=codes)
    allocations = [SimpleNamespace(order_id=order.id, line_no=int(p.key[6:-1]) + 1, sku=p.sku,
                                   location_id=p.location_id, quantity=p.quantity) for p in planned]
    conn.execute(_INSERT_ALLOCATIONS, [vars(a) for a in allocations])

    pricing.redeem(uow, quote.applied, order_id=order.id,
                   customer_key=f"customer:{customer_id}" if customer_id else (f"email:{email}" if email else None),
                   currency=currency)
    promos = [SimpleNamespace(order_id=order.id, promotion_id=a.promotion_id, name=a.name, kind=a.kind,
                              coupon_code=a.coupon_code, amount_minor=to_minor(a.amount)) for a in quote.applied]
    if promos:
        conn.execute(_INSERT_PROMOTIONS, [vars(p) for p in promos])

    if settled_now:
        conn.execute(_INSERT_PAYMENT, {
            "order_id": order.id, "provider": data.payment.provider, "kind": "authorise",
            "status": "pending" if total_minor else "succeeded", "amount_minor": total_minor,
            "reference": order.payment_reference, "created_at": now})
    out = order_out(uow, order, lines=lines, allocations=allocations, promotions=promos, codes=codes)
    loc_by_line: dict[int, list[tuple[int, str]]] = {}
    for a in out["allocations"]:
        loc_by_line.setdefault(a["line"], []).append((a["quantity"], a["location"]))
    uow.emit(events.OrderPlaced(
        order_id=order.id, number=order.number, channel=order.channel, customer_id=customer_id,
        email=email, currency=currency, status=order.status, total=out["totals"]["total"],
        lines=[events.PlacedLine(sku=ln["sku"], product_id=ln["product_id"], quantity=ln["quantity"],
                                 unit_price=ln["unit_price"], line_total=ln["total"], category=ln["category"],
                                 location=max(loc_by_line.get(ln["line"], [(0, None)]))[1],
                                 locations=[code for _, code in loc_by_line.get(ln["line"], [])])
               for ln in out["lines"]],
        totals=events.OrderTotals(**{k: out["totals"][k] for k in ("subtotal", "discount", "shipping", "total")}),
        fulfilment=events.Fulfilment(type=order.fulfilment_type, location=out["fulfilment"]["location"]),
        promotions=[events.AppliedPromotion(promotion_id=p["promotion_id"], name=p["name"], amount=p["amount"])
                    for p in out["promotions"]],
        placed_at=now, payment_provider=order.payment_provider), version=order.version)
    uow.audit("place", "order", order.id, after={"number": order.number, "status": order.status,
                                                 "total": out["totals"]["total"], "currency": currency,
                                                 "lines": len(lines), "coupon": coupon})
    uow.created("order", order.id)  # a retry of this request after a crash answers with this order
    uow.commit()
    if order.status != "pending":
        return out, None
    # what the payment step needs, taken now: it must not read the database outside a transaction
    return out, (order.id, order.number, pricing.from_minor(order.total_minor, currency), currency)


def _settle_payment(uow: UnitOfWork, pending: tuple, provider: payments.PaymentProvider,
                    payment: PaymentIn) -> dict[str, Any]:
    order_id, number, amount, currency = pending
    options = {"behaviour": payment.behaviour or "succeed", "card": payment.card}
    # --- outside any transaction: talk to the provider -------------------------------------
    try:
        auth = provider.authorise(order_number=number, amount=amount, currency=currency, options=options)
    except payments.PaymentTimeout as e:
        try:
            provider.void(reference=None)
        except Exception:  # best effort: the compensation below does not depend on it
            log.warning("void after timeout failed", extra={"order_id": order_id})
        _compensate(uow, order_id, outcome="timeout", message=str(e))
        raise PaymentTimedOut(f"The payment provider did not answer; order {number} was cancelled and its stock "
                              "released. Retry the checkout.", extra={"order_id": order_id, "number": number,
                                                                      "order_status": "cancelled"}) from None
    if auth.status == "declined":
        _compensate(uow, order_id, outcome="declined", message=auth.message)
        raise PaymentFailed(f"The payment was declined ({auth.message}); order {number} was cancelled and its stock "
                            "released.", errors=[FieldError("payment", auth.message or "declined", "declined")],
                            extra={"order_id": order_id, "number": number, "order_status": "cancelled"})
    capture = None
    if payment.capture and auth.status == "authorized":
        capture = provider.capture(reference=auth.reference, amount=amount, currency=currency)
    # --- one transaction: record the outcome ------------------------------------------------

    def record() -> dict[str, Any] | None:
        order = _load_any(uow, order_id, for_update=True)
        if order.status != "pending":  # cancelled meanwhile (the sweep): the money goes back below
            return None
        order.payment_reference = auth.reference
        uow.session.add(PaymentTransaction(order_id=order.id, provider=provider.name, kind="authorise",
                                           status="succeeded", amount_minor=order.total_minor,
                                           reference=auth.reference))
        order.payment_status = "authorized"
        _set_status(uow, order, "confirmed", payment_status="authorized", payment_fingerprint=auth.fingerprint)
        if capture is not None and capture.status == "captured":
            uow.session.add(PaymentTransaction(order_id=order.id, provider=provider.name, kind="capture",
                                               status="succeeded", amount_minor=order.total_minor,
                                               reference=capture.reference))
            order.payment_status = "captured"
            _set_status(uow, order, "paid", **_captured(order, provider.name, capture.fingerprint or auth.fingerprint))
        uow.commit()
        return order_out(uow, order)

    out = _retrying(uow, record)
    if out is None:
        if capture is not None:
            provider.refund(reference=auth.reference, amount=amount, currency=currency)
        elif auth.status == "authorized":
            provider.void(reference=auth.reference)
        raise Conflict(f"Order {number} was cancelled while its payment was being taken; the payment was reversed",
                       type_slug="order-cancelled", extra={"order_id": order_id, "number": number})
    return out


def _load_any(uow: UnitOfWork, order_id: int, *, for_update: bool = False) -> Order:
    """Load without the caller's visibility check (internal saga steps)."""
    stmt = sa.select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
    if for_update:
        stmt = stmt.with_for_update()
    order = uow.session.scalar(stmt)
    if order is None:
        raise NotFound(f"Order {order_id} does not exist")
    return order


def _order_fields(order: Order) -> dict[str, Any]:
    """What every order event carries (events._OrderEvent)."""
    return {"order_id": order.id, "number": order.number, "customer_id": order.customer_id, "status": order.status,
            "total": _m(order.total_minor, order.currency), "currency": order.currency}


def _captured(order: Order, provider: str, fingerprint: str | None) -> dict[str, Any]:
    """The fields of OrderPaid beyond the order's own."""
    return {"amount": Money.from_minor(order.total_minor, order.currency), "provider": provider,
            "payment_fingerprint": fingerprint}


def _set_status(uow: UnitOfWork, order: Order, target: str, **fields: Any) -> None:
    """Move the order to `target` and emit its event (events.STATUS_EVENTS) with `fields`."""
    domain.check_transition(order.status, target, order_ref=order.number or str(order.id))
    before = order.status
    order.status = target
    order.version += 1
    order.updated_at = utcnow()
    event = events.STATUS_EVENTS[target](**_order_fields(order), previous_status=before, **fields)
    payload = event.payload()
    uow.audit(target, "order", order.id, before={"status": before},
              after={"status": target, **{k: payload[k] for k in fields}})
    uow.emit(event, version=order.version)


def _compensate(uow: UnitOfWork, order_id: int, *, outcome: str, message: str | None) -> None:
    """The saga's compensating transaction: cancel, release stock and coupon redemptions."""

    def run() -> None:
        order = _load_any(uow, order_id, for_update=True)
        if order.status != "pending":
            uow.rollback()
            return
        uow.session.add(PaymentTransaction(order_id=order.id, provider=order.payment_provider, kind="authorise",
                                           status=outcome, amount_minor=order.total_minor, message=message))
        order.payment_status = "failed"
        order.cancel_reason = f"payment {outcome}"
        inventory.release(uow, f"order:{order.id}", note=f"payment {outcome}")
        pricing.release(uow, order.id)
        _set_status(uow, order, "cancelled", reason=order.cancel_reason, payment_status="failed")
        uow.commit()

    _retrying(uow, run)


# ---------------------------------------------------------------------------------------------
# Lifecycle transitions
# ---------------------------------------------------------------------------------------------


def _require_staff(uow: UnitOfWork) -> None:
    if uow.actor.role not in STAFF:
        raise Forbidden("Only staff may do this")


def capture_payment(uow: UnitOfWork, order_id: int) -> dict[str, Any]:
    """Record that the money was collected (manual) or capture an authorised payment."""
    _require_staff(uow)
    order = _load(uow, order_id)
    if order.payment_status not in ("awaiting", "authorized"):
        raise Conflict(f"Order {order.number} payment is {order.payment_status}; nothing to capture",
                       type_slug="invalid-transition")
    uow.rollback()  # no transaction is held while the provider is called
    provider = payments.get_provider(order.payment_provider)
    result = provider.capture(reference=order.payment_reference,
                              amount=pricing.from_minor(order.total_minor, order.currency), currency=order.currency)

    def record() -> dict[str, Any]:
        o = _load(uow, order_id, for_update=True)
        if o.payment_status not in ("awaiting", "authorized"):
            raise Conflict(f"Order {o.number} payment is {o.payment_status}", type_slug="invalid-transition")
        uow.session.add(PaymentTransaction(order_id=o.id, provider=o.payment_provider, kind="capture",
                                           status="succeeded", amount_minor=o.total_minor, reference=result.reference))
        o.payment_status = "captured"
        paid = _captured(o, o.payment_provider, result.fingerprint)
        if o.status == "confirmed":
            _set_status(uow, o, "paid", **paid)
        else:
            o.version += 1
            uow.audit("capture", "order", o.id, after={"payment_status": "captured"})
            uow.emit(events.OrderPaid(**_order_fields(o), previous_status=o.status, **paid), version=o.version)
        uow.commit()
        return order_out(uow, o)

    return _retrying(uow, record)


def fulfil(uow: UnitOfWork, order_id: int, *, carrier: str, tracking_number: str,
           tracking_url: str | None = None) -> dict[str, Any]:
    _require_staff(uow)

    def run() -> dict[str, Any]:
        order = _load(uow, order_id, for_update=True)
        if order.fulfilment_type != "ship":
            raise domain.InvalidTransition(f"Order {order.number} is collected in store; use ready-for-pickup")
        domain.check_transition(order.status, "fulfilled", order_ref=order.number)
        inventory.consume(uow, f"order:{order.id}", note="shipped")
        order.tracking = {"carrier": carrier, "number": tracking_number, "url": tracking_url}
        _set_status(uow, order, "fulfilled", tracking=order.tracking)
        uow.commit()
        return order_out(uow, order)

    return _retrying(uow, run)


def simple_transition(uow: UnitOfWork, order_id: int, target: str) -> dict[str, Any]:
    """deliver / complete: no side effects beyond the status."""
    _require_staff(uow)

    def run() -> dict[str, Any]:
        order = _load(uow, order_id, for_update=True)
        _set_status(uow, order, target)
        uow.commit()
        return order_out(uow, order)

    return _retrying(uow, run)


def ready_for_pickup(uow: UnitOfWork, order_id: int) -> dict[str, Any]:
    _require_staff(uow)

    def run() -> dict[str, Any]:
        order = _load(uow, order_id, for_update=True)
        if order.fulfilment_type != "pickup":
            raise domain.InvalidTransition(f"Order {order.number} is shipped; use fulfil")
        loc = inventory.get_location(uow, order.pickup_location_id)
        _set_status(uow, order, "ready_for_pickup", location=loc.code, location_name=loc.name)
        uow.commit()
        return order_out(uow, order)

    return _retrying(uow, run)


def picked_up(uow: UnitOfWork, order_id: int, *, location: str, payment_collected: bool) -> dict[str, Any]:
    """The store confirms the handover: the held units become a sale at that store."""
    _require_staff(uow)

    def run() -> dict[str, Any]:
        order = _load(uow, order_id, for_update=True)
        if order.fulfilment_type != "pickup":
            raise domain.InvalidTransition(f"Order {order.number} is not a pickup order")
        domain.check_transition(order.status, "picked_up", order_ref=order.number)
        loc = inventory.get_location_by_code(uow, location, field="location")
        if loc.id != order.pickup_location_id:
            waiting = inventory.get_location(uow, order.pickup_location_id)
            raise Conflict(f"Order {order.number} waits at {waiting.code}, not {loc.code}", type_slug="wrong-store",
                           errors=[FieldError("location", f"the order waits at {waiting.code}", "wrong_store")])
        if order.payment_status == "awaiting":
            if not payment_collected:
                raise Conflict(f"Order {order.number} is paid in store: collect the payment and confirm with "
                               "payment_collected", type_slug="payment-due",
                               errors=[FieldError("payment_collected", "the payment is still due", "payment_due")])
            uow.session.add(PaymentTransaction(order_id=order.id, provider=order.payment_provider, kind="capture",
                                               status="succeeded", amount_minor=order.total_minor,
                                               reference=order.payment_reference, message=f"collected at {loc.code}"))
            order.payment_status = "captured"
        inventory.consume(uow, f"order:{order.id}", note=f"picked up at {loc.code}")
        _set_status(uow, order, "picked_up", location=loc.code, payment_status=order.payment_status)
        uow.commit()
        return order_out(uow, order)

    return _retrying(uow, run)


def cancel(uow: UnitOfWork, order_id: int, *, reason: str | None = None) -> dict[str, Any]:
    """Cancel, release stock and coupons in one transaction; then refund or void with the
    provider (outside it) and record that."""
    actor = uow.actor

    def run() -> tuple[Order, str | None]:
        order = _load(uow, order_id, for_update=True)
        if actor.role not in STAFF and not (actor.role == Role.customer and order.status in ("pending", "confirmed",
                                                                                            "paid")):
            raise Forbidden("This order can no longer be cancelled by the customer")
        domain.check_transition(order.status, "cancelled", order_ref=order.number)
        money_action = {"captured": "refund", "authorized": "void"}.get(order.payment_status)
        inventory.release(uow, f"order:{order.id}", note="order cancelled")
        pricing.release(uow, order.id)
        order.cancel_reason = reason or "cancelled"
        if money_action == "refund":
            order.payment_status = "refund_pending"
        elif money_action == "void":
            order.payment_status = "void_pending"
        elif order.payment_status == "awaiting":
            order.payment_status = "voided"
        _set_status(uow, order, "cancelled", reason=order.cancel_reason, payment_status=order.payment_status)
        uow.commit()
        return order, money_action

    order, money_action = _retrying(uow, run)
    if money_action:
        _settle_money_back(uow, order.id, kind=money_action, amount_minor=order.total_minor)
    return order_out(uow, _load_any(uow, order_id))


def _settle_money_back(uow: UnitOfWork, order_id: int, *, kind: str, amount_minor: int,
                       return_id: int | None = None) -> bool:
    order = _load_any(uow, order_id)
    uow.rollback()
    provider = payments.get_provider(order.payment_provider)
    amount = pricing.from_minor(amount_minor, order.currency)
    try:
        if kind == "refund":
            result = provider.refund(reference=order.payment_reference, amount=amount, currency=order.currency)
        else:
            result = provider.void(reference=order.payment_reference)
        ok = result.status in ("refunded", "voided")
    except Exception as e:  # the provider failed: recorded, staff may retry the refund
        log.warning("refund failed", extra={"order_id": order_id, "error": str(e)})
        result, ok = None, False

    def record() -> bool:
        o = _load_any(uow, order_id, for_update=True)
        uow.session.add(PaymentTransaction(order_id=o.id, provider=o.payment_provider, kind=kind,
                                           status="succeeded" if ok else "failed", amount_minor=amount_minor,
                                           reference=result.reference if result else None, return_id=return_id))
        if kind == "void":
            o.payment_status = "voided" if ok else "void_failed"
        elif ok:
            o.refunded_minor += amount_minor
            o.payment_status = "refunded" if o.refunded_minor >= o.total_minor else "partially_refunded"
            uow.emit(events.OrderRefunded(
                **_order_fields(o), previous_status=o.status, amount=Money.from_minor(amount_minor, o.currency),
                refunded_total=Money.from_minor(o.refunded_minor, o.currency), return_id=return_id,
                payment_status=o.payment_status), version=o.version + 1)
        else:
            o.payment_status = "refund_failed"
        o.version += 1
        o.updated_at = utcnow()
        uow.audit(kind, "order", o.id, after={"payment_status": o.payment_status, "amount": _m(amount_minor, o.currency)})
        uow.commit()
        return ok

    return _retrying(uow, record)


# ---------------------------------------------------------------------------------------------
# Returns
# ---------------------------------------------------------------------------------------------


def return_out(uow: UnitOfWork, r: ReturnAuthorisation, currency: str) -> dict[str, Any]:
    lines = uow.session.scalars(sa.select(ReturnLine).where(ReturnLine.return_id == r.id).order_by(ReturnLine.id))
    loc = inventory.get_location(uow, r.location_id) if r.location_id else None
    return {"id": r.id, "order_id": r.order_id, "status": r.status, "reason": r.reason,
            "started_channel": r.started_channel, "location": loc.code if loc else None,
            "refund": _m(r.refund_minor, currency), "currency": currency,
            "lines": [{"line": ln.line_no, "sku": ln.sku, "quantity": ln.quantity, "reason": ln.reason,
                       "note": ln.note, "restock": ln.restock} for ln in lines],
            "created_at": r.created_at, "received_at": r.received_at, "refunded_at": r.refunded_at}


def _return_location(uow: UnitOfWork, code: str, field: str) -> Any:
    loc = inventory.get_location_by_code(uow, code, field=field)
    if not loc.accepts_returns or not loc.active:
        raise ValidationProblem.for_field(field, f"{loc.code} does not accept returns", "no_returns")
    return loc


def create_return(uow: UnitOfWork, order_id: int, data: ReturnCreate) -> dict[str, Any]:
    """A return authorisation, started online (no location, or the store it will be brought
    to) or at a store counter by staff."""
    actor = uow.actor
    if actor.role not in STAFF and actor.role != Role.customer:
        raise Forbidden("Only staff or the customer may start a return")
    order = _load(uow, order_id, for_update=True)
    if order.status not in domain.RETURNABLE:
        raise domain.InvalidTransition(f"Order {order.number} is {order.status}; only delivered or collected orders "
                                       "can be returned")
    loc = _return_location(uow, data.location, "location") if data.location else None
    lines = {ln.line_no: ln for ln in uow.session.scalars(sa.select(OrderLine).where(OrderLine.order_id == order.id))}
    open_qty: dict[int, int] = {}
    for line_no, qty in uow.session.execute(
            sa.select(ReturnLine.line_no, sa.func.sum(ReturnLine.quantity))
            .join(ReturnAuthorisation, ReturnAuthorisation.id == ReturnLine.return_id)
            .where(ReturnAuthorisation.order_id == order.id, ReturnAuthorisation.status == "authorised")
            .group_by(ReturnLine.line_no)):
        open_qty[line_no] = int(qty)
    errors = []
    asked: dict[int, int] = {}
    for i, rl in enumerate(data.lines):
        ln = lines.get(rl.line)
        if ln is None:
            errors.append(FieldError(f"lines[{i}].line", f"order has no line {rl.line}", "unknown_line"))
            continue
        asked[rl.line] = asked.get(rl.line, 0) + rl.quantity
        left = ln.quantity - ln.returned_quantity - open_qty.get(rl.line, 0)
        if asked[rl.line] > left:
            errors.append(FieldError(f"lines[{i}].quantity", f"only {left} of line {rl.line} can still be returned",
                                     "too_many"))
    if errors:
        raise ValidationProblem("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    r = ReturnAuthorisation(order_id=order.id, status="authorised", reason=data.reason,
                            started_channel="store" if (loc is not None and actor.role in STAFF) else "online",
                            location_id=loc.id if loc else None, refund_minor=0, created_by_user_id=actor.user_id,
                            created_at=utcnow())
    uow.session.add(r)
    uow.session.flush()
    uow.session.add_all([ReturnLine(return_id=r.id, line_no=rl.line, sku=lines[rl.line].sku, quantity=rl.quantity,
                                    reason=rl.reason, note=rl.note, restock=rl.restock) for rl in data.lines])
    uow.session.flush()
    out = return_out(uow, r, order.currency)
    uow.audit("create", "return", r.id, after={k: v for k, v in out.items() if k in ("order_id", "status", "location",
                                                                                    "lines", "started_channel")})
    uow.commit()
    return out


def _load_return(uow: UnitOfWork, return_id: int, *, for_update: bool = False) -> ReturnAuthorisation:
    stmt = sa.select(ReturnAuthorisation).where(ReturnAuthorisation.id == return_id).execution_options(
        populate_existing=True)
    if for_update:
        stmt = stmt.with_for_update()
    r = uow.session.scalar(stmt)
    if r is None:
        raise NotFound(f"Return {return_id} does not exist")
    _load(uow, r.order_id)  # visibility of the order
    return r


def get_return(uow: UnitOfWork, return_id: int) -> dict[str, Any]:
    r = _load_return(uow, return_id)
    return return_out(uow, r, _load(uow, r.order_id).currency)


def receive_return(uow: UnitOfWork, return_id: int, *, location: str | None = None,
                   refund: bool = True) -> dict[str, Any]:
    """The goods arrive at a store or warehouse: restock there, mark the lines returned, and
    (by default) refund through the order's original provider."""
    _require_staff(uow)

    def run() -> ReturnAuthorisation:
        r = _load_return(uow, return_id, for_update=True)
        if r.status != "authorised":
            raise domain.InvalidTransition(f"Return {r.id} is {r.status}, not awaiting the goods")
        code = location or (inventory.get_location(uow, r.location_id).code if r.location_id else None)
        if code is None:
            raise ValidationProblem.for_field("location", "name the location receiving the goods", "required")
        loc = _return_location(uow, code, "location")
        order = _load(uow, r.order_id, for_update=True)
        lines = {ln.line_no: ln for ln in uow.session.scalars(sa.select(OrderLine).where(OrderLine.order_id == order.id))}
        refund_minor = 0
        returned_lines = []
        for rl in uow.session.scalars(sa.select(ReturnLine).where(ReturnLine.return_id == r.id).order_by(ReturnLine.id)):
            ol = lines[rl.line_no]
            if ol.returned_quantity + rl.quantity > ol.quantity:
                raise Conflict(f"line {ol.line_no} would be returned more often than bought", type_slug="over-return")
            # What the units were actually paid (after discounts); cumulative rounding so a
            # line returned in parts refunds exactly its total.
            before = ol.total_minor * ol.returned_quantity // ol.quantity
            ol.returned_quantity += rl.quantity
            refund_minor += ol.total_minor * ol.returned_quantity // ol.quantity - before
            if rl.restock:
                inventory.receive_stock(uow, rl.sku, loc.id, rl.quantity, reason="return", reference=f"return:{r.id}",
                                        note=rl.reason)
            returned_lines.append(events.ReturnedLine(line=rl.line_no, sku=rl.sku, quantity=rl.quantity,
                                                      reason=rl.reason, restocked=rl.restock))
        r.status, r.location_id, r.received_at, r.refund_minor = "received", loc.id, utcnow(), refund_minor
        value = Money.from_minor(refund_minor, order.currency)
        changed = {"return_id": r.id, "location": loc.code, "lines": returned_lines, "returned_value": value,
                   "refund": value if refund and refund_minor > 0 else None}
        if all(ln.returned_quantity == ln.quantity for ln in lines.values()) and order.status != "returned":
            _set_status(uow, order, "returned", **changed, partial=False)
        else:
            order.version += 1
            order.updated_at = utcnow()
            event = events.OrderReturned(**_order_fields(order), previous_status=order.status, **changed,
                                         partial=True)
            uow.emit(event, version=order.version)
        uow.audit("receive", "return", r.id, after={"return_id": r.id, "location": loc.code,
                                                    "lines": [ln.model_dump() for ln in returned_lines],
                                                    "refund": _m(refund_minor, order.currency)})
        uow.commit()
        return r

    r = _retrying(uow, run)
    if refund and r.refund_minor > 0:
        return refund_return(uow, return_id)
    return get_return(uow, return_id)


def refund_return(uow: UnitOfWork, return_id: int) -> dict[str, Any]:
    _require_staff(uow)

    def claim() -> ReturnAuthorisation:
        r = _load_return(uow, return_id, for_update=True)
        if r.status != "received":
            raise domain.InvalidTransition(f"Return {r.id} is {r.status}; only received returns are refunded")
        r.status = "refunding"  # claimed: a concurrent request cannot refund it twice
        uow.commit()
        return r

    r = _retrying(uow, claim)
    ok = _settle_money_back(uow, r.order_id, kind="refund", amount_minor=r.refund_minor, return_id=r.id)

    def finish() -> dict[str, Any]:
        r2 = _load_return(uow, return_id, for_update=True)
        r2.status = "refunded" if ok else "received"
        r2.refunded_at = utcnow() if ok else None
        order = _load_any(uow, r2.order_id, for_update=True)
        if ok and order.status == "returned" and order.payment_status in ("refunded", "partially_refunded"):
            pending = uow.session.scalar(sa.select(sa.func.count()).where(
                ReturnAuthorisation.order_id == order.id, ReturnAuthorisation.status.in_(("authorised", "received"))))
            if not pending:
                _set_status(uow, order, "refunded", amount=None, return_id=r2.id, payment_status=order.payment_status,
                            refunded_total=Money.from_minor(order.refunded_minor, order.currency))
        uow.audit("refund" if ok else "refund_failed", "return", r2.id, after={"refund": r2.refund_minor})
        uow.commit()
        if not ok:
            raise Conflict("The payment provider refused the refund; the return stays received and can be retried",
                           type_slug="refund-failed")
        return return_out(uow, r2, order.currency)

    return _retrying(uow, finish)


def returns_of(uow: UnitOfWork, order_id: int) -> list[dict[str, Any]]:
    order = _load(uow, order_id)
    rows = uow.session.scalars(sa.select(ReturnAuthorisation).where(ReturnAuthorisation.order_id == order.id)
                               .order_by(ReturnAuthorisation.id))
    return [return_out(uow, r, order.currency) for r in rows]


# ---------------------------------------------------------------------------------------------
# Carts
# ---------------------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _load_cart(uow: UnitOfWork, cart_id: int, token: str | None, *, for_update: bool = False) -> Cart:
    stmt = sa.select(Cart).where(Cart.id == cart_id).execution_options(populate_existing=True)
    if for_update:
        stmt = stmt.with_for_update()
    cart = uow.session.scalar(stmt)
    actor = uow.actor
    visible = cart is not None and (
        actor.role in READ_ALL
        or (actor.role == Role.customer and cart.customer_id == actor.customer_id)
        or (token is not None and cart.token_hash is not None
            and secrets.compare_digest(cart.token_hash, _token_hash(token))))
    if not visible:
        raise NotFound(f"Cart {cart_id} does not exist (anonymous carts need their X-Cart-Token)")
    return cart


def _cart_lines(uow: UnitOfWork, cart: Cart) -> list[CartLine]:
    return list(uow.session.scalars(sa.select(CartLine).where(CartLine.cart_id == cart.id).order_by(CartLine.id)))


def cart_out(uow: UnitOfWork, cart: Cart, *, token: str | None = None) -> dict[str, Any]:
    lines = _cart_lines(uow, cart)
    cur = cart.currency
    ship = (cart.fulfilment or {}).get("type", "ship") == "ship"
    coupon = cart.coupon_code
    cart_lines = [pricing.CartLine(f"lines[{i}]", ln.sku, ln.quantity, pricing.from_minor(ln.unit_price_minor,
                                                                                                  cur))
                  for i, ln in enumerate(lines)]
    quote = pricing.price_cart(
        cart_lines, pricing.promotions_for(uow, [coupon] if coupon else []) if lines else [],
        pricing.CartContext(currency=cur, channel=cart.channel, now=utcnow(),
                                coupon_codes=frozenset({coupon}) if coupon else frozenset(),
                                shipping=pricing.shipping_fee(uow, cur) if (ship and lines) else Decimal(0)))
    to_s = lambda d: _m(pricing.to_minor(d, cur), cur)  # noqa: E731
    return {
        "id": cart.id, "token": token, "status": cart.status, "currency": cur, "channel": cart.channel,
        "customer_id": cart.customer_id, "email": cart.email, "fulfilment": cart.fulfilment, "coupon": coupon,
        "lines": [{"sku": ln.sku, "name": ln.name, "quantity": ln.quantity, "unit_price": _m(ln.unit_price_minor, cur),
                   "total": _m(ln.unit_price_minor * ln.quantity, cur)} for ln in lines],
        "totals": {"currency": cur, "subtotal": to_s(quote.subtotal), "discount": to_s(quote.discount),
                   "shipping": to_s(quote.shipping), "shipping_discount": to_s(quote.shipping_discount),
                   "total": to_s(quote.total), "refunded": _m(0, cur)},
        "promotions": [{"promotion_id": a.promotion_id, "name": a.name, "kind": a.kind, "coupon_code": a.coupon_code,
                        "amount": to_s(a.amount)} for a in quote.applied],
        "coupon_problem": quote.coupon_problems.get(coupon) if coupon else None,
        "hold_expires_at": cart.hold_expires_at if cart.status == "checkout" else None,
        "holds": inventory.holds_of(uow, f"cart:{cart.id}") if cart.status == "checkout" else [],
        "order_id": cart.order_id, "version": cart.version,
    }


def _check_fulfilment(uow: UnitOfWork, fulfilment: Any) -> dict[str, Any] | None:
    if fulfilment is None:
        return None
    if fulfilment.type == "pickup":
        loc = inventory.get_location_by_code(uow, fulfilment.location, field="fulfilment.location")
        if not loc.pickup:
            raise ValidationProblem.for_field("fulfilment.location", f"{loc.code} does not offer pickup", "no_pickup")
    return fulfilment.model_dump(exclude_none=True)


def create_cart(uow: UnitOfWork, data: CartCreate) -> dict[str, Any]:
    actor = uow.actor
    _check_channel(uow, data.channel)
    token = None
    cart = Cart(currency=data.currency or uow.settings.default_currency, channel=data.channel, email=data.email,
                status="open", fulfilment=_check_fulfilment(uow, data.fulfilment),
                coupon_code=data.coupon.upper() if data.coupon else None, version=1, created_at=utcnow(),
                updated_at=utcnow())
    if actor.role == Role.customer:
        cart.customer_id = actor.customer_id
    else:
        token = secrets.token_urlsafe(24)
        cart.token_hash = _token_hash(token)
    uow.session.add(cart)
    uow.session.flush()
    if data.lines:
        _put_lines(uow, cart, data.lines, replace=True)
    uow.audit("create", "cart", cart.id, after={"lines": len(data.lines), "currency": cart.currency})
    uow.commit()
    return cart_out(uow, cart, token=token)


def _put_lines(uow: UnitOfWork, cart: Cart, lines: list[LineIn], *, replace: bool) -> None:
    """Set quantities (0 removes a line) with a fresh price snapshot for changed SKUs."""
    merged: dict[str, int] = {}
    for ln in lines:
        merged[ln.sku] = merged.get(ln.sku, 0) + ln.quantity if replace else ln.quantity
    wanted = [LineIn(sku=s, quantity=q) for s, q in merged.items() if q > 0]
    infos = _lookup(uow, wanted) if wanted else {}
    prices = _prices(uow, wanted, infos, currency=cart.currency, channel=cart.channel, group=None) if wanted else {}
    existing = {ln.sku: ln for ln in _cart_lines(uow, cart)}
    if replace:
        for sku, row in existing.items():
            if sku not in merged:
                uow.session.delete(row)
    for sku, qty in merged.items():
        row = existing.get(sku)
        if qty <= 0:
            if row is not None:
                uow.session.delete(row)
            continue
        minor = pricing.to_minor(prices[sku], cart.currency)
        if row is None:
            uow.session.add(CartLine(cart_id=cart.id, sku=sku, name=infos[sku].name, quantity=qty,
                                     unit_price_minor=minor))
        else:
            row.quantity, row.unit_price_minor, row.name = qty, minor, infos[sku].name
    uow.session.flush()


def _editable(uow: UnitOfWork, cart: Cart) -> None:
    if cart.status == "ordered":
        raise Conflict(f"Cart {cart.id} has been ordered", type_slug="cart-ordered")
    if cart.status == "checkout":
        # editing gives the hold back; checkout starts again
        inventory.release(uow, f"cart:{cart.id}", note="cart edited")
        cart.status, cart.hold_expires_at = "open", None


def set_cart_line(uow: UnitOfWork, cart_id: int, token: str | None, sku: str, quantity: int) -> dict[str, Any]:
    cart = _load_cart(uow, cart_id, token, for_update=True)
    _editable(uow, cart)
    if quantity == 0:
        existing = uow.session.scalar(sa.select(CartLine).where(CartLine.cart_id == cart.id, CartLine.sku == sku))
        if existing is not None:
            uow.session.delete(existing)
    else:
        _put_lines(uow, cart, [LineIn(sku=sku, quantity=quantity)], replace=False)
    cart.version += 1
    cart.updated_at = utcnow()
    uow.audit("set_line", "cart", cart.id, after={"sku": sku, "quantity": quantity})
    uow.commit()
    return cart_out(uow, cart)


def update_cart(uow: UnitOfWork, cart_id: int, token: str | None, data: CartPatch) -> dict[str, Any]:
    cart = _load_cart(uow, cart_id, token, for_update=True)
    fields = data.model_fields_set
    if "fulfilment" in fields:
        _editable(uow, cart)
        cart.fulfilment = _check_fulfilment(uow, data.fulfilment)
    if "email" in fields:
        cart.email = data.email
    if "coupon" in fields:
        cart.coupon_code = data.coupon.upper() if data.coupon else None
        if cart.coupon_code and not pricing.coupon_exists(uow, cart.coupon_code):
            raise ValidationProblem.for_field("coupon", f"{cart.coupon_code} is not a known coupon code",
                                              "unknown_coupon")
    cart.version += 1
    cart.updated_at = utcnow()
    uow.audit("update", "cart", cart.id, after={"changed": sorted(fields)})
    uow.commit()
    return cart_out(uow, cart)


def start_checkout(uow: UnitOfWork, cart_id: int, token: str | None) -> dict[str, Any]:
    """Hold the cart's stock for the checkout time to live (409 naming short lines)."""
    ttl = get_inventory_settings().reservation_ttl_seconds

    def run() -> dict[str, Any]:
        cart = _load_cart(uow, cart_id, token, for_update=True)
        if cart.status == "ordered":
            raise Conflict(f"Cart {cart.id} has been ordered", type_slug="cart-ordered")
        lines = _cart_lines(uow, cart)
        if not lines:
            raise ValidationProblem.for_field("lines", "the cart is empty", "empty")
        if not cart.email and cart.customer_id is None:
            raise ValidationProblem.for_field("email", "guest checkout needs an email", "required")
        fulfilment = cart.fulfilment or {"type": "ship"}
        location_ids = None
        if fulfilment["type"] == "pickup":
            location_ids = [inventory.get_location_by_code(uow, fulfilment["location"], field="fulfilment.location").id]
        expires = utcnow() + dt.timedelta(seconds=ttl)
        inventory.allocate(uow, f"cart:{cart.id}",
                           [inventory.LineRequest(f"lines[{i}]", ln.sku, ln.quantity) for i, ln in enumerate(lines)],
                           location_ids=location_ids, ship_only=fulfilment["type"] == "ship", expires_at=expires,
                           release_owner=f"cart:{cart.id}")
        cart.status, cart.hold_expires_at = "checkout", expires
        cart.version += 1
        cart.updated_at = utcnow()
        uow.emit(events.CartCheckoutStarted(cart_id=cart.id, customer_id=cart.customer_id, email=cart.email,
                                            expires_at=expires), version=cart.version)
        uow.audit("checkout", "cart", cart.id, after={"expires_at": expires.isoformat()})
        uow.commit()
        return cart_out(uow, cart)

    return _retrying(uow, run)


def order_cart(uow: UnitOfWork, cart_id: int, token: str | None, payment: PaymentIn,
               customer: CustomerIn | None = None, client_address: str | None = None) -> dict[str, Any]:
    """Turn the cart into an order. While its checkout hold is live, the held units and the
    price snapshot are honoured; after it lapsed, current stock and prices apply."""
    cart = _load_cart(uow, cart_id, token)
    if cart.status == "ordered":
        raise Conflict(f"Cart {cart.id} has already been ordered", type_slug="cart-ordered",
                       extra={"order_id": cart.order_id})
    lines = _cart_lines(uow, cart)
    if not lines:
        raise ValidationProblem.for_field("lines", "the cart is empty", "empty")
    live_hold = cart.status == "checkout" and cart.hold_expires_at is not None and cart.hold_expires_at > utcnow()
    overrides = ({ln.sku: pricing.from_minor(ln.unit_price_minor, cart.currency) for ln in lines}
                 if live_hold else None)
    cust = customer or CustomerIn(email=cart.email)
    if cust.email is None and cart.email:
        cust = cust.model_copy(update={"email": cart.email})
    data = OrderCreate(channel=cart.channel, currency=cart.currency, customer=cust,
                       lines=[LineIn(sku=ln.sku, quantity=ln.quantity) for ln in lines],
                       fulfilment=cart.fulfilment or {"type": "ship"}, payment=payment, coupon=cart.coupon_code)
    uow.rollback()
    return place_order(uow, data, cart_id=cart.id, price_overrides=overrides, client_address=client_address)
