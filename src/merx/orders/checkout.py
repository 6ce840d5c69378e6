"""Placing an order: checkout with the payment saga.

The checkout saga keeps payment provider calls OUT of the stock transaction:
  1. one transaction: validate, price, apply promotions, redeem coupons, reserve stock,
     insert the order (pending) and its `order.placed` event; commit.
  2. no transaction: authorise (and capture) with the provider.
  3. one transaction: mark the order confirmed/paid; or, on a decline or a time-out, the
     compensation: cancel the order, release its stock and coupon redemptions.
A process dying between 1 and 3 leaves a pending order that the orders.expire_unpaid_orders
job (orders/expiry.py) cancels, voiding at the provider, once the hold time to live has passed."""

from __future__ import annotations

import logging
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from merx.core.auth import BACK_OFFICE_ROLES, Role
from merx.core.db import utcnow
from merx.core.errors import Conflict, FieldError, Forbidden, NotFound, Problem, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.inventory import public as inventory
from merx.orders import events, fiscal_step, guest_holds, loyalty_points, payments, seller_lines
from merx.orders.models import Cart, Order, OrderAllocation, OrderLine, OrderPromotion, PaymentTransaction
from merx.orders.reading import order_out
from merx.orders.schemas import CustomerIn, LineIn, OrderCreate, PaymentIn
from merx.orders.state import _captured, _load_any, _retrying, _set_status
from merx.pricing import public as pricing

log = logging.getLogger("merx.orders")


class PaymentFailed(Problem):
    status = 402
    type_slug = "payment-declined"
    title = "Payment declined"


class PaymentTimedOut(Problem):
    status = 504
    type_slug = "payment-timeout"
    title = "Payment provider timed out"


def _check_channel(uow: UnitOfWork, channel: str) -> None:
    role = uow.actor.role
    if role in (Role.seller, Role.support_agent):
        raise Forbidden(f"Role {role.value} may not place orders")
    allowed = {
        None: {"web", "marketplace"}, Role.customer: {"web", "marketplace"}, Role.sales_rep: {"b2b"},
        Role.staff: {"web", "store", "marketplace", "b2b"}, Role.admin: {"web", "store", "marketplace", "b2b"},
    }.get(role, set())  # a role not listed (a store associate's key) places no order here
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
                               ("phone", cust.phone), ("locale", cust.locale)) if v}
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


def catalog_costs(uow: UnitOfWork, skus: list[str], currency: str, at: Any) -> dict[str, Decimal]:
    from merx.catalog import public as catalog

    return catalog.costs_at(uow, skus, currency, at) if skus else {}


def _cost(minor: int | None, currency: str) -> Decimal | None:
    # the event carries the landed cost whoever placed the order (the API answer may hide it)
    return pricing.from_minor(minor, currency) if minor is not None else None


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
    # before its launch a product sells only to its early-access segment (and the back office)
    errors += catalog.early_access_refusals(uow, [(f"lines[{i}].sku", ln.sku) for i, ln in enumerate(lines)], infos)
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
           shipping: Decimal, promotions: bool = True) -> pricing.PricingResult:
    cart_lines = [pricing.CartLine(f"lines[{i}]", ln.sku, ln.quantity, prices[ln.sku], infos[ln.sku].category)
                  for i, ln in enumerate(lines)]
    promos = pricing.promotions_for(uow, [coupon] if coupon else []) if promotions else []
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
                price_overrides: dict[str, Decimal] | None = None, client_address: str | None = None,
                promotions: bool = True) -> dict[str, Any]:
    """Create an order: 201 body, or a Problem (409 insufficient stock naming each line, 402
    declined payment after compensation, 422 bad input, 429 when the caller's address holds
    too many unpaid pay-later guest orders). `promotions=False`: no automatic promotion applies
    (an order at prices agreed beforehand, orders/quoted.py)."""
    provider = payments.provider_for_checkout(uow.settings, data.payment.provider)
    if data.payment.behaviour is not None and data.payment.provider != "test":
        raise ValidationProblem.for_field("payment.behaviour", "only the test provider takes a behaviour")
    out, pending = _retrying(uow, lambda: _create_pending(uow, data, cart_id=cart_id, price_overrides=price_overrides,
                                                          client_address=client_address, promotions=promotions))
    if pending is None:
        return out
    return _settle_payment(uow, pending, provider, data.payment)


def _create_pending(uow: UnitOfWork, data: OrderCreate, *, cart_id: int | None,
                    price_overrides: dict[str, Decimal] | None,
                    client_address: str | None = None,
                    promotions: bool = True) -> tuple[dict[str, Any], tuple | None]:
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
    offered = seller_lines.resolve(uow, data.lines, currency=currency, channel=data.channel)
    prices = _prices(uow, data.lines, infos, currency=currency, channel=data.channel, group=group,
                     overrides={**(price_overrides or {}), **seller_lines.price_overrides(offered, data.lines)})
    coupon = data.coupon.upper() if data.coupon else None
    if coupon and not pricing.coupon_exists(uow, coupon):
        raise ValidationProblem.for_field("coupon", f"{coupon} is not a known coupon code", "unknown_coupon")
    member_id = loyalty_points.member(uow, data.customer)
    standing = loyalty_points.standing(uow, member_id, currency)  # points and tier benefits (crm's hook)
    shipping = fiscal_step.shipping(uow, data, infos, prices, currency,
                                    free_shipping=bool(standing and standing.free_shipping)) if ship else Decimal(0)
    quote = _quote(uow, data.lines, infos, prices, currency=currency, channel=data.channel, group=group,
                   coupon=coupon, shipping=shipping, promotions=promotions)
    if coupon and coupon in quote.coupon_problems:
        raise ValidationProblem.for_field("coupon", f"{coupon} {quote.coupon_problems[coupon]}", "coupon_not_applicable")
    points = None
    if data.loyalty_points:  # before tax: spent points lower each line's taxable amount
        points = loyalty_points.check(standing, data.loyalty_points, sum((r.total for r in quote.lines), Decimal(0)),
                                      currency)
        quote = loyalty_points.apply(quote, points, currency)
    tax = fiscal_step.taxes(uow, data, quote, infos, currency)  # None: the shop charges no tax
    customer_id, email = _resolve_customer(uow, data.customer)

    now = utcnow()
    to_minor = lambda d: pricing.to_minor(d, currency)  # noqa: E731
    manual = data.payment.provider == "manual"
    total_minor = to_minor(quote.total) + (tax.added_minor if tax else 0)  # tax-exclusive channels add it
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
    # the cost in force now lands on each line (a seller's offered line costs the shop nothing
    # it knows: null); margins later read it from the line, never today's cost
    costs = catalog_costs(uow, [ln.sku for i, ln in enumerate(data.lines) if i not in offered], currency, now)
    lines = []
    for i, (ln, res) in enumerate(zip(data.lines, quote.lines)):
        info = infos[ln.sku]
        cost = costs.get(ln.sku) if i not in offered else None
        lines.append(SimpleNamespace(order_id=order.id, line_no=i + 1, sku=ln.sku, product_id=info.product_id,
                                     name=info.name, category=info.category, quantity=ln.quantity,
                                     unit_price_minor=to_minor(res.unit_price), subtotal_minor=to_minor(res.subtotal),
                                     discount_minor=to_minor(res.discount), total_minor=to_minor(res.total),
                                     returned_quantity=0,
                                     unit_cost_minor=to_minor(cost) if cost is not None else None))
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
        [inventory.LineRequest(f"lines[{i}]", ln.sku, ln.quantity) for i, ln in enumerate(data.lines)
         if i not in offered],  # a seller ships its offered lines from its own stock
        location_ids=[pickup_loc.id] if pickup_loc else None, strategy=strategy, ship_only=ship,
        release_owner=f"cart:{cart_id}" if cart_id is not None else None, location_codes=codes)
    allocations = [SimpleNamespace(order_id=order.id, line_no=int(p.key[6:-1]) + 1, sku=p.sku,
                                   location_id=p.location_id, quantity=p.quantity) for p in planned]
    if allocations:
        conn.execute(_INSERT_ALLOCATIONS, [vars(a) for a in allocations])
    if offered:
        seller_lines.attach(uow, offered, order=order, lines=lines)

    pricing.redeem(uow, quote.applied, order_id=order.id,
                   customer_key=f"customer:{customer_id}" if customer_id else (f"email:{email}" if email else None),
                   currency=currency)
    promos = [SimpleNamespace(order_id=order.id, promotion_id=a.promotion_id, name=a.name, kind=a.kind,
                              coupon_code=a.coupon_code, amount_minor=to_minor(a.amount)) for a in quote.applied]
    if points is not None:
        loyalty_points.spend(uow, member_id, points, order_id=order.id, number=order.number)
        promos.append(SimpleNamespace(**loyalty_points.promotion_row(order.id, points, currency)))
    if promos:
        conn.execute(_INSERT_PROMOTIONS, [vars(p) for p in promos])

    if settled_now:
        conn.execute(_INSERT_PAYMENT, {
            "order_id": order.id, "provider": data.payment.provider, "kind": "authorise",
            "status": "pending" if total_minor else "succeeded", "amount_minor": total_minor,
            "reference": order.payment_reference, "created_at": now})
        if manual and total_minor:  # the payments ledger sees every payment (reports, reconciliation)
            from merx.orders import payment_sync

            payment_sync.open_ledger_intent(uow, order_id=order.id, number=order.number, provider="manual",
                                            currency=currency, amount_minor=total_minor, result=payments.ProviderResult(
                                                "awaiting", order.payment_reference,
                                                "to be collected on delivery or in store"))
    tax_lines = fiscal_step.record(uow, order.id, tax)
    out = order_out(uow, order, lines=lines, allocations=allocations, promotions=promos, codes=codes,
                    tax_lines=tax_lines)
    loc_by_line: dict[int, list[tuple[int, str]]] = {}
    for a in out["allocations"]:
        loc_by_line.setdefault(a["line"], []).append((a["quantity"], a["location"]))
    uow.emit(events.OrderPlaced(
        order_id=order.id, number=order.number, channel=order.channel, customer_id=customer_id,
        email=email, currency=currency, status=order.status, total=out["totals"]["total"],
        lines=[events.PlacedLine(sku=ln["sku"], product_id=ln["product_id"], quantity=ln["quantity"],
                                 unit_price=ln["unit_price"], line_total=ln["total"], category=ln["category"],
                                 unit_cost=_cost(lines[ln["line"] - 1].unit_cost_minor, currency),
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
    if payments.is_session_provider(provider):  # testcard, bank_transfer, cod, plugins: orders/payment_sync.py
        from merx.orders import payment_sync

        return payment_sync.settle(uow, pending, provider, payment)
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
        from merx.orders import payment_sync  # the payments ledger sees every payment

        payment_sync.open_ledger_intent(uow, order_id=order.id, number=order.number, provider=provider.name,
                                        currency=order.currency, amount_minor=order.total_minor, result=auth,
                                        auto_capture=payment.capture)
        if capture is not None and capture.status == "captured":
            payment_sync.money_back_recorded(uow, order, "capture", order.total_minor, capture.reference)
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
