"""Checkout's tax and shipping step (fiscal context, called inside checkout's transaction),
and the quote a shopper sees before placing the order (`POST /orders/preview`).

Shipping: the zone serving the address and its cheapest (or the chosen) method priced by the
order's weight (product attribute `weight`), subtotal or items, free over the method's
threshold; pickup in store is free. A shop without zones keeps pricing's flat fee.
Tax: per tax class (product attribute `tax_class`, default standard) at the buyer country's
rates on the order's date, prices tax-inclusive or exclusive per channel; shipping is taxed
at the standard rate; B2B buyers with a valid VAT id of another EU country are reverse
charged. A shop without tax rates charges none."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from merx.core.money import minor_to_str
from merx.core.uow import UnitOfWork
from merx.fiscal import public as fiscal
from merx.orders.schemas import OrderCreate
from merx.pricing import public as pricing


def _address(data: OrderCreate) -> tuple[str | None, str | None]:
    a = data.fulfilment.address
    if data.fulfilment.type != "ship" or a is None:
        return None, None
    return a.country.upper(), a.postal_code


def _weight(data: OrderCreate, infos: dict[str, Any]) -> Decimal:
    total = Decimal(0)
    for ln in data.lines:
        raw = (infos[ln.sku].attributes or {}).get("weight")
        try:
            total += Decimal(str(raw)) * ln.quantity if raw not in (None, "") else 0
        except ArithmeticError:
            continue
    return total


def shipping(uow: UnitOfWork, data: OrderCreate, infos: dict[str, Any], prices: dict[str, Decimal],
             currency: str, *, free_shipping: bool = False) -> Decimal:
    """The shipping price of a shipped order (before shipping promotions); `free_shipping`: a
    loyalty tier's benefit (orders/loyalty_points.py)."""
    country, postcode = _address(data)
    subtotal = sum((prices[ln.sku] * ln.quantity for ln in data.lines), Decimal(0))
    quote = fiscal.quote_shipping(uow, country=country, postcode=postcode, currency=currency, subtotal=subtotal,
                                  weight=_weight(data, infos), items=sum(ln.quantity for ln in data.lines),
                                  method=data.fulfilment.shipping_method, free_shipping=free_shipping)
    if quote is None:  # a shop without zones: pricing's flat fee
        return Decimal(0) if free_shipping else pricing.shipping_fee(uow, currency)
    return quote.price


def taxes(uow: UnitOfWork, data: OrderCreate, quote: pricing.PricingResult, infos: dict[str, Any],
          currency: str) -> fiscal.TaxQuote | None:
    country, _ = _address(data)
    to_minor = lambda d: pricing.to_minor(d, currency)  # noqa: E731
    amounts = [((infos[ln.sku].attributes or {}).get("tax_class") or "standard", to_minor(res.total))
               for ln, res in zip(data.lines, quote.lines)]
    shipping_net = to_minor(quote.shipping) - to_minor(quote.shipping_discount)
    if shipping_net > 0:
        amounts.append(("standard", shipping_net))
    return fiscal.quote_tax(uow, country=country, on=dt.datetime.now(dt.timezone.utc).date(), channel=data.channel,
                            currency=currency, amounts=amounts, vat_id=data.customer.vat_id)


def preview(uow: UnitOfWork, data: OrderCreate) -> dict[str, Any]:
    """What the order would cost, with tax and shipping, without placing it (nothing is written,
    no stock is held)."""
    from merx.orders.checkout import _check_channel

    _check_channel(uow, data.channel)
    out = quote(uow, data)
    uow.rollback()
    return out


def quote(uow: UnitOfWork, data: OrderCreate, *, price_overrides: dict[str, Decimal] | None = None) -> dict[str, Any]:
    """The figures checkout would charge for `data`: the same steps in the same order (prices,
    tier benefits, shipping, promotions, points, tax). The preview and a cart's totals
    (orders/carts.py) both come from here, so neither can differ from the order. Writes nothing."""
    from merx.orders import loyalty_points
    from merx.orders.checkout import _lookup, _prices, _quote
    from merx.core.auth import BACK_OFFICE_ROLES

    currency = data.currency or uow.settings.default_currency
    group = data.customer.group if uow.actor.role in BACK_OFFICE_ROLES else None
    infos = _lookup(uow, data.lines)
    prices = _prices(uow, data.lines, infos, currency=currency, channel=data.channel, group=group,
                     overrides=price_overrides)
    coupon = data.coupon.upper() if data.coupon else None
    standing = loyalty_points.standing(uow, loyalty_points.member(uow, data.customer), currency)
    free = bool(standing and standing.free_shipping)
    ship = shipping(uow, data, infos, prices, currency, free_shipping=free) if data.fulfilment.type == "ship" \
        else Decimal(0)
    quote = _quote(uow, data.lines, infos, prices, currency=currency, channel=data.channel, group=group,
                   coupon=coupon, shipping=ship)
    goods = sum((r.total for r in quote.lines), Decimal(0))
    points = None
    if data.loyalty_points:
        points = loyalty_points.check(standing, data.loyalty_points, goods, currency)
        quote = loyalty_points.apply(quote, points, currency)
    tax = taxes(uow, data, quote, infos, currency)
    to_minor = lambda d: pricing.to_minor(d, currency)  # noqa: E731
    total = to_minor(quote.total) + (tax.added_minor if tax else 0)
    s = lambda v: minor_to_str(v, currency)  # noqa: E731
    return {
        "currency": currency,
        "lines": [{"sku": ln.sku, "quantity": ln.quantity, "unit_price": s(to_minor(r.unit_price)),
                   "discount": s(to_minor(r.discount)), "total": s(to_minor(r.total))}
                  for ln, r in zip(data.lines, quote.lines)],
        "totals": {"currency": currency, "subtotal": s(to_minor(quote.subtotal)), "discount": s(to_minor(quote.discount)),
                   "shipping": s(to_minor(quote.shipping)), "shipping_discount": s(to_minor(quote.shipping_discount)),
                   "tax": s(tax.tax_minor if tax else 0), "total": s(total), "refunded": s(0)},
        "prices_include_tax": tax.prices_include_tax if tax else True,
        "tax_lines": [t.model_dump() for t in tax.out()] if tax else [],
        "promotions": [{"promotion_id": a.promotion_id, "name": a.name, "kind": a.kind, "coupon_code": a.coupon_code,
                        "amount": s(to_minor(a.amount))} for a in quote.applied]
        + ([loyalty_points.promotion_out(points, currency)] if points else []),
        "coupon_problem": quote.coupon_problems.get(coupon) if coupon else None,
        "loyalty": None if standing is None else {
            "program": standing.program, "balance": standing.balance, "tier": standing.tier,
            "free_shipping": standing.free_shipping,
            "point_value": format(standing.point_value, "f"), "min_points": standing.min_points,
            "max_points": loyalty_points.max_points(standing, goods, currency),
            "points": points.points if points else 0, "discount": s(to_minor(points.amount) if points else 0)},
    }


def record(uow: UnitOfWork, order_id: int, tax: fiscal.TaxQuote | None) -> list[dict[str, Any]]:
    if tax is None:
        return []
    fiscal.record_order_tax(uow, order_id, tax)
    return [t.model_dump() for t in tax.out()]
