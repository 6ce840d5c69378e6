"""Marketplace lines in checkout: a hook the sellers context fills, and refunding single lines.

A checkout line may name a seller's offer (`offer_id`). Orders sits below the sellers context
in the declared layer order (`.importlinter`), so checkout cannot ask it about offers itself.
It declares this hook instead; `merx.sellers.hooks` contributes the marketplace at start-up:
  - `resolve(uow, lines, currency, channel)` -> the offered lines: their seller's unit price
    (checkout prices them with it, and reserves no operator stock for them);
  - `attach(uow, placed)` in checkout's transaction, once the order and its lines exist: the
    sellers context splits the order into one sub-order per seller (and one for the operator)
    and takes the units from the offers' stock. A refusal there rolls the whole checkout back.
Without a contributor, a line naming an offer is refused (422 naming `lines[i].offer_id`).

`refund_lines` pays back part of an order (a seller refused or missed the deadline for a
line, or an incident on an accepted line) through the order's payment provider; before the
payment is captured it releases that amount instead (orders/collectable.py), so the capture
takes only the rest."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Sequence

from merx.core.errors import FieldError, ValidationProblem
from merx.core.uow import UnitOfWork


@dataclass(frozen=True)
class OfferedLine:
    index: int  # position in the request's lines
    offer_id: int
    seller_id: int
    unit_price: Decimal


@dataclass(frozen=True)
class PlacedOrderLine:
    line_no: int
    sku: str
    product_id: int | None
    name: str
    category: str | None
    quantity: int
    unit_price_minor: int
    total_minor: int


@dataclass(frozen=True)
class PlacedOrder:
    order_id: int
    number: str
    currency: str
    customer_id: int | None
    shipping_address: Any
    lines: list[PlacedOrderLine]
    offered: dict[int, OfferedLine]  # by line_no
    placed_at: Any = None


@dataclass
class _Marketplace:
    resolve: Callable[..., dict[int, OfferedLine]] | None = None
    attach: Callable[[UnitOfWork, PlacedOrder], None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_marketplace = _Marketplace()


def contribute_marketplace(resolve: Callable[..., dict[int, OfferedLine]],
                           attach: Callable[[UnitOfWork, PlacedOrder], None]) -> None:
    """Called from a context's `hooks.register()`; a second call replaces the first."""
    _marketplace.resolve, _marketplace.attach = resolve, attach


def resolve(uow: UnitOfWork, lines: Sequence[Any], *, currency: str, channel: str) -> dict[int, OfferedLine]:
    """The offered lines by request index ({} when no line names an offer)."""
    wanted = [i for i, ln in enumerate(lines) if getattr(ln, "offer_id", None) is not None]
    if not wanted:
        return {}
    if _marketplace.resolve is None:
        errors = [FieldError(f"lines[{i}].offer_id", "no marketplace is installed to sell offers", "no_marketplace")
                  for i in wanted]
        raise ValidationProblem(errors[0].message, errors=errors)
    return _marketplace.resolve(uow, lines, currency=currency, channel=channel)


def price_overrides(offered: dict[int, OfferedLine], lines: Sequence[Any]) -> dict[str, Decimal]:
    return {lines[i].sku: o.unit_price for i, o in offered.items()}


def attach(uow: UnitOfWork, offered: dict[int, OfferedLine], *, order: Any, lines: Sequence[Any]) -> None:
    """Checkout's call once the order's rows exist (same transaction)."""
    if _marketplace.attach is None:
        return
    placed = PlacedOrder(
        order_id=order.id, number=order.number, currency=order.currency, customer_id=order.customer_id,
        shipping_address=order.shipping_address, placed_at=order.created_at,
        lines=[PlacedOrderLine(line_no=ln.line_no, sku=ln.sku, product_id=ln.product_id, name=ln.name,
                               category=ln.category, quantity=ln.quantity, unit_price_minor=ln.unit_price_minor,
                               total_minor=ln.total_minor) for ln in lines],
        offered={i + 1: o for i, o in offered.items()})
    _marketplace.attach(uow, placed)


def refund_lines(uow: UnitOfWork, order_id: int, *, amount_minor: int, note: str,
                 lines: dict[int, int] | None = None) -> str:
    """Pay back `amount_minor` of an order for lines that will not be delivered (`lines`: order
    line number -> amount, recorded with a release so the invoice leaves them out). Returns
    "refunded", "failed" (the provider refused; retry later) or "not_captured" (the payment was not
    captured yet, so there is nothing to pay back through the provider).
    Runs its own transactions (the provider is called outside any)."""
    from merx.orders import collectable
    from merx.orders.state import _load_any, _retrying
    from merx.orders.transitions import _settle_money_back

    order = _load_any(uow, order_id)
    if amount_minor <= 0:
        return "refunded"
    if order.payment_status not in ("captured", "partially_refunded", "refund_failed"):
        uow.rollback()
        if order.payment_status in UNCAPTURED:
            def release() -> None:  # a later capture takes the total minus these lines
                o = _load_any(uow, order_id, for_update=True)
                if o.payment_status in UNCAPTURED:
                    collectable.record_release(uow, o, amount_minor, note, lines)
                uow.commit()

            _retrying(uow, release)
        return "not_captured"
    amount_minor = min(amount_minor, collectable.refundable_minor(uow, order))
    uow.rollback()
    if amount_minor <= 0:  # already paid back (the whole order was cancelled and refunded first)
        return "refunded"
    ok = _settle_money_back(uow, order_id, kind="refund", amount_minor=amount_minor, cause="undelivered_lines")
    return "refunded" if ok else "failed"


# payment states in which nothing was charged yet but may be later
UNCAPTURED = ("awaiting", "authorized", "pending", "action_required")
