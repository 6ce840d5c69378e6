"""Fiscal use cases: the tax and shipping quotes checkout asks for (inside its transaction),
recording an order's tax lines, and managing rates, channel modes, zones and methods.

A shop that has configured no tax rates charges no tax, and one with no shipping zones keeps
the flat shipping fee (pricing); once it has some, an order to a country without a rate on
the order's date (a "tax rate gap"), or to an address outside every zone, is refused with a
422 naming the field."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from merx.core.auth import Role
from merx.core.errors import Conflict, Forbidden, NotFound, ValidationProblem
from merx.core.money import Money, MoneyError, minor_to_str
from merx.core.uow import UnitOfWork
from merx.fiscal import data, rules
from merx.fiscal.models import ChannelTaxMode, OrderTaxLine, ShippingMethod, ShippingZone, TaxRate
from merx.fiscal.schemas import (ChannelTaxModeOut, MethodIn, MethodOut, MethodPatch, TaxLineOut, TaxRateIn, TaxRateOut,
                                 ZoneIn, ZoneOut, ZonePatch)

STAFF = (Role.admin, Role.staff)


def shop_country() -> str:
    """Where the shop is established (MERX_SHOP_COUNTRY, default PL): the tax country of
    pickups and of orders without an address, and the reverse-charge test."""
    return os.environ.get("MERX_SHOP_COUNTRY", "PL").upper()


def _require_staff(uow: UnitOfWork) -> None:
    if uow.actor.role not in STAFF:
        raise Forbidden("Only staff manage taxes and shipping")


# -- checkout: tax ------------------------------------------------------------------------

@dataclass(frozen=True)
class TaxQuote:
    country: str
    currency: str
    prices_include_tax: bool
    reverse_charge: bool
    lines: list[rules.TaxLine]

    @property
    def tax_minor(self) -> int:
        return sum(ln.tax for ln in self.lines)

    @property
    def added_minor(self) -> int:
        """What the tax adds to the order's total (nothing when prices include it)."""
        return 0 if self.prices_include_tax else self.tax_minor

    def out(self) -> list[TaxLineOut]:
        m = lambda v: minor_to_str(v, self.currency)  # noqa: E731
        return [TaxLineOut(country=self.country, tax_class=ln.tax_class, rate=format(ln.rate.normalize(), "f"),
                           net=m(ln.net), tax=m(ln.tax), currency=self.currency, reverse_charge=self.reverse_charge)
                for ln in self.lines]


_RATES_ON = (sa.select(TaxRate.__table__.c.tax_class, TaxRate.__table__.c.rate)
             .where(TaxRate.__table__.c.country == sa.bindparam("country"),
                    TaxRate.__table__.c.valid_from <= sa.bindparam("on"),
                    sa.or_(TaxRate.__table__.c.valid_to.is_(None), TaxRate.__table__.c.valid_to >= sa.bindparam("on"))))
_ANY_RATE = sa.select(TaxRate.__table__.c.id).limit(1)
_CHANNEL_MODE = sa.select(ChannelTaxMode.__table__.c.prices_include_tax).where(
    ChannelTaxMode.__table__.c.channel == sa.bindparam("channel"))


def prices_include_tax(uow: UnitOfWork, channel: str) -> bool:
    mode = uow.session.connection().execute(_CHANNEL_MODE, {"channel": channel}).scalar()
    return data.CHANNEL_MODES.get(channel, True) if mode is None else bool(mode)


def quote_tax(uow: UnitOfWork, *, country: str | None, on: dt.date, channel: str, currency: str,
              amounts: list[tuple[str, int]], vat_id: str | None = None,
              field: str = "fulfilment.address.country") -> TaxQuote | None:
    """The order's tax per class and rate; None when the shop has no tax rates at all."""
    conn = uow.session.connection()
    country = (country or shop_country()).upper()
    rates = {k: Decimal(str(r)) for k, r in conn.execute(_RATES_ON, {"country": country, "on": on})}
    if not rates and conn.execute(_ANY_RATE).first() is None:
        return None
    needed = sorted({k for k, _ in amounts})
    unknown = [k for k in needed if k not in rules.TAX_CLASSES]
    if unknown:
        raise ValidationProblem.for_field("lines", f"unknown tax class {unknown[0]} on a product (standard, reduced "
                                          "or zero)", "unknown_tax_class")
    missing = [k for k in needed if k not in rates]
    if missing:
        raise ValidationProblem.for_field(
            field, f"no {missing[0]} VAT rate for {country} on {on.isoformat()} (tax rate gap): we cannot sell there "
            "until staff add one", "tax_rate_gap")
    reverse = rules.reverse_charge_applies(channel=channel, vat_id=vat_id, buyer_country=country,
                                           shop_country=shop_country())
    if vat_id and channel == "b2b" and not reverse and country in rules.EU and country != shop_country() \
            and not rules.valid_vat_id(vat_id, country):
        raise ValidationProblem.for_field("customer.vat_id", f"{vat_id} is not a valid {country} VAT id", "invalid_vat_id")
    inclusive = prices_include_tax(uow, channel)
    return TaxQuote(country, currency, inclusive, reverse,
                    rules.compute_tax(amounts, rates, inclusive=inclusive, reverse_charge=reverse))


_INSERT_TAX = sa.insert(OrderTaxLine.__table__)


def record_order_tax(uow: UnitOfWork, order_id: int, quote: TaxQuote) -> None:
    if quote.lines:
        uow.session.connection().execute(_INSERT_TAX, [
            {"order_id": order_id, "country": quote.country, "tax_class": ln.tax_class, "rate": ln.rate,
             "currency": quote.currency, "net_minor": ln.net, "tax_minor": ln.tax,
             "prices_include_tax": quote.prices_include_tax, "reverse_charge": quote.reverse_charge,
             "created_at": dt.datetime.now(dt.timezone.utc)} for ln in quote.lines])


def order_tax_lines(uow: UnitOfWork, order_id: int) -> list[TaxLineOut]:
    rows = uow.session.scalars(sa.select(OrderTaxLine).where(OrderTaxLine.order_id == order_id)
                               .order_by(OrderTaxLine.id))
    return [TaxLineOut(country=r.country, tax_class=r.tax_class, rate=format(Decimal(r.rate).normalize(), "f"),
                       net=minor_to_str(r.net_minor, r.currency), tax=minor_to_str(r.tax_minor, r.currency),
                       currency=r.currency, reverse_charge=r.reverse_charge) for r in rows]


def tax_lines_of_orders(uow: UnitOfWork, order_ids: list[int]) -> dict[int, list[TaxLineOut]]:
    out: dict[int, list[TaxLineOut]] = {}
    if not order_ids:
        return out
    for r in uow.session.scalars(sa.select(OrderTaxLine).where(OrderTaxLine.order_id.in_(sorted(set(order_ids))))
                                 .order_by(OrderTaxLine.order_id, OrderTaxLine.id)):
        out.setdefault(r.order_id, []).append(TaxLineOut(
            country=r.country, tax_class=r.tax_class, rate=format(Decimal(r.rate).normalize(), "f"),
            net=minor_to_str(r.net_minor, r.currency), tax=minor_to_str(r.tax_minor, r.currency), currency=r.currency,
            reverse_charge=r.reverse_charge))
    return out


def order_tax_minor(uow: UnitOfWork, order_id: int) -> tuple[int, bool]:
    """(tax on the order, whether it was included in the prices)."""
    row = uow.session.execute(sa.select(sa.func.coalesce(sa.func.sum(OrderTaxLine.tax_minor), 0),
                                        sa.func.min(sa.cast(OrderTaxLine.prices_include_tax, sa.Integer)))
                              .where(OrderTaxLine.order_id == order_id)).one()
    return int(row[0]), bool(row[1]) if row[1] is not None else True


# -- checkout: shipping ---------------------------------------------------------------------

@dataclass(frozen=True)
class ShippingQuote:
    zone: str
    method: str
    method_name: str
    price: Decimal
    free: bool


_Z, _M = ShippingZone.__table__, ShippingMethod.__table__
# Checkout's reads, built once (reused statements keep their memoised cache keys: see ARCHITECTURE "Hot paths")
_ZONES = sa.select(_Z.c.id, _Z.c.code, _Z.c.countries, _Z.c.postcode_prefixes).order_by(_Z.c.id)
_METHODS = (sa.select(_M.c.code, _M.c.name, _M.c.basis, _M.c.brackets, _M.c.free_over_minor)
            .where(_M.c.zone_id == sa.bindparam("zone_id"), _M.c.currency == sa.bindparam("currency"),
                   _M.c.active.is_(True)).order_by(_M.c.id))


def quote_shipping(uow: UnitOfWork, *, country: str | None, postcode: str | None, currency: str,
                   subtotal: Decimal, weight: Decimal, items: int, method: str | None = None,
                   free_shipping: bool = False) -> ShippingQuote | None:
    """The cheapest (or the named) method of the zone serving the address; None when the shop
    has no shipping zones (the flat fee applies)."""
    conn = uow.session.connection()
    zones = conn.execute(_ZONES).all()
    if not zones:
        return None
    country = (country or shop_country()).upper()
    # a zone naming postcodes is more specific than one for whole countries
    matching = [z for z in zones if rules.zone_matches(z.countries, z.postcode_prefixes or [], country, postcode)]
    matching.sort(key=lambda z: (0 if z.postcode_prefixes else 1, z.id))
    if not matching:
        raise ValidationProblem.for_field("fulfilment.address", f"we do not ship to {country}"
                                          f"{' ' + postcode if postcode else ''}: no shipping zone covers it",
                                          "no_shipping_zone")
    zone = matching[0]
    methods = conn.execute(_METHODS, {"zone_id": zone.id, "currency": currency}).all()
    if method:
        methods = [m for m in methods if m.code == method]
        if not methods:
            raise ValidationProblem.for_field("fulfilment.shipping_method", f"{method} is not offered to {country} in "
                                              f"{currency}", "no_shipping_method")
    options = []
    for m in methods:
        measure = {"weight": weight, "subtotal": subtotal, "items": Decimal(items), "flat": Decimal(0)}[m.basis]
        price = rules.bracket_price(m.brackets, measure)
        if price is None:
            continue
        free = free_shipping or (m.free_over_minor is not None and Money(subtotal, currency).minor >= m.free_over_minor)
        options.append(ShippingQuote(zone.code, m.code, m.name, Decimal(0) if free else price, free))
    if not options:
        raise ValidationProblem.for_field("fulfilment.address", f"no shipping method of zone {zone.code} delivers this "
                                          f"order in {currency}", "no_shipping_method")
    return min(options, key=lambda o: o.price)


# -- managing rates, modes, zones -------------------------------------------------------------

def _rate_out(r: TaxRate) -> TaxRateOut:
    return TaxRateOut(id=r.id, country=r.country, tax_class=r.tax_class, rate=format(Decimal(r.rate).normalize(), "f"),
                      valid_from=r.valid_from, valid_to=r.valid_to, note=r.note)


def list_rates(uow: UnitOfWork, country: str | None = None) -> list[TaxRateOut]:
    stmt = sa.select(TaxRate).order_by(TaxRate.country, TaxRate.tax_class, TaxRate.valid_from)
    if country:
        stmt = stmt.where(TaxRate.country == country.upper())
    return [_rate_out(r) for r in uow.session.scalars(stmt)]


def add_rate(uow: UnitOfWork, body: TaxRateIn) -> TaxRateOut:
    """A new rate for a period; it may not overlap another of the same country and class."""
    _require_staff(uow)
    if body.valid_to is not None and body.valid_to < body.valid_from:
        raise ValidationProblem.for_field("valid_to", "is before valid_from")
    end = body.valid_to or dt.date.max
    overlapping = uow.session.scalar(sa.select(TaxRate).where(
        TaxRate.country == body.country, TaxRate.tax_class == body.tax_class, TaxRate.valid_from <= end,
        sa.or_(TaxRate.valid_to.is_(None), TaxRate.valid_to >= body.valid_from)))
    if overlapping is not None:
        raise Conflict(f"{body.country} {body.tax_class} already has {overlapping.rate}% from "
                       f"{overlapping.valid_from} to {overlapping.valid_to or 'open end'}: end it first",
                       type_slug="tax-rate-overlap")
    r = TaxRate(country=body.country, tax_class=body.tax_class, rate=Decimal(body.rate), valid_from=body.valid_from,
                valid_to=body.valid_to, note=body.note)
    uow.session.add(r)
    uow.session.flush()
    uow.audit("create", "tax_rate", r.id, after=_rate_out(r).model_dump(mode="json"))
    uow.commit()
    return _rate_out(r)


def end_rate(uow: UnitOfWork, rate_id: int, valid_to: dt.date) -> TaxRateOut:
    _require_staff(uow)
    r = uow.session.get(TaxRate, rate_id, with_for_update=True)
    if r is None:
        raise NotFound(f"Tax rate {rate_id} does not exist")
    if valid_to < r.valid_from:
        raise ValidationProblem.for_field("valid_to", "is before the rate's valid_from")
    before = r.valid_to
    r.valid_to = valid_to
    uow.audit("end", "tax_rate", r.id, before={"valid_to": str(before)}, after={"valid_to": str(valid_to)})
    uow.commit()
    return _rate_out(r)


def ensure_product_attributes(uow: UnitOfWork) -> None:
    """The catalog attributes checkout reads: `tax_class` (standard, reduced, zero) and
    `weight` (shipping by weight). Products without them are standard-rated and weightless."""
    from merx.catalog import public as catalog

    have = {a.code for a in catalog.list_attributes(uow)}
    if "tax_class" not in have:
        catalog.create_attribute(uow, catalog.AttributeCreate(code="tax_class", name="Tax class", type="enum",
                                                              options=list(rules.TAX_CLASSES)))
    if "weight" not in have:
        catalog.create_attribute(uow, catalog.AttributeCreate(code="weight", name="Shipping weight", type="number",
                                                              unit="kg"))


def seed_default_rates(uow: UnitOfWork) -> int:
    """The rates in fiscal/data.py that are not there yet, the channel modes, and the product
    attributes checkout reads (idempotent)."""
    ensure_product_attributes(uow)
    have = {(c, k, f) for c, k, f in uow.session.execute(sa.select(TaxRate.country, TaxRate.tax_class,
                                                                   TaxRate.valid_from))}
    added = 0
    for row in data.rate_rows():
        if (row["country"], row["tax_class"], row["valid_from"]) not in have:
            uow.session.add(TaxRate(**row))
            added += 1
    for channel, inclusive in data.CHANNEL_MODES.items():
        if uow.session.get(ChannelTaxMode, channel) is None:
            uow.session.add(ChannelTaxMode(channel=channel, prices_include_tax=inclusive))
    uow.commit()
    return added


def list_channel_modes(uow: UnitOfWork) -> list[ChannelTaxModeOut]:
    stored = {m.channel: m.prices_include_tax for m in uow.session.scalars(sa.select(ChannelTaxMode))}
    return [ChannelTaxModeOut(channel=c, prices_include_tax=stored.get(c, d)) for c, d in data.CHANNEL_MODES.items()]


def set_channel_mode(uow: UnitOfWork, channel: str, inclusive: bool) -> ChannelTaxModeOut:
    _require_staff(uow)
    if channel not in data.CHANNEL_MODES:
        raise NotFound(f"No channel {channel}")
    m = uow.session.get(ChannelTaxMode, channel)
    if m is None:
        uow.session.add(ChannelTaxMode(channel=channel, prices_include_tax=inclusive))
    else:
        m.prices_include_tax = inclusive
    uow.audit("set", "channel_tax_mode", channel, after={"prices_include_tax": inclusive})
    uow.commit()
    return ChannelTaxModeOut(channel=channel, prices_include_tax=inclusive)


def _method_out(m: ShippingMethod, zone_code: str) -> MethodOut:
    return MethodOut(id=m.id, zone=zone_code, code=m.code, name=m.name, currency=m.currency, basis=m.basis,
                     brackets=m.brackets, free_over=minor_to_str(m.free_over_minor, m.currency)
                     if m.free_over_minor is not None else None, active=m.active)


def list_zones(uow: UnitOfWork) -> list[ZoneOut]:
    zones = list(uow.session.scalars(sa.select(ShippingZone).order_by(ShippingZone.id)))
    methods: dict[int, list[ShippingMethod]] = {}
    for m in uow.session.scalars(sa.select(ShippingMethod).order_by(ShippingMethod.id)):
        methods.setdefault(m.zone_id, []).append(m)
    return [ZoneOut(id=z.id, code=z.code, name=z.name, countries=z.countries, postcode_prefixes=z.postcode_prefixes or [],
                    methods=[_method_out(m, z.code) for m in methods.get(z.id, [])]) for z in zones]


def create_zone(uow: UnitOfWork, body: ZoneIn) -> ZoneOut:
    _require_staff(uow)
    if uow.session.scalar(sa.select(ShippingZone.id).where(ShippingZone.code == body.code)):
        raise Conflict(f"Shipping zone {body.code} exists", type_slug="zone-exists")
    z = ShippingZone(code=body.code, name=body.name, countries=body.countries, postcode_prefixes=body.postcode_prefixes)
    uow.session.add(z)
    uow.session.flush()
    uow.audit("create", "shipping_zone", z.id, after=body.model_dump())
    uow.commit()
    return ZoneOut(id=z.id, code=z.code, name=z.name, countries=z.countries, postcode_prefixes=z.postcode_prefixes,
                   methods=[])


def add_method(uow: UnitOfWork, zone_code: str, body: MethodIn) -> MethodOut:
    _require_staff(uow)
    z = uow.session.scalar(sa.select(ShippingZone).where(ShippingZone.code == zone_code))
    if z is None:
        raise NotFound(f"Shipping zone {zone_code} does not exist")
    if uow.session.scalar(sa.select(ShippingMethod.id).where(ShippingMethod.zone_id == z.id,
                                                             ShippingMethod.code == body.code,
                                                             ShippingMethod.currency == body.currency)):
        raise Conflict(f"Zone {zone_code} already has method {body.code} in {body.currency}", type_slug="method-exists")
    try:
        free = Money.of(body.free_over, body.currency).minor if body.free_over else None
        for b in body.brackets:
            Money.of(b.price, body.currency)
    except MoneyError as e:
        raise ValidationProblem.for_field("currency" if e.field == "currency" else "brackets", str(e)) from None
    m = ShippingMethod(zone_id=z.id, code=body.code, name=body.name, currency=body.currency, basis=body.basis,
                       brackets=[{"from": b.from_, "price": b.price} for b in body.brackets], free_over_minor=free,
                       active=True)
    uow.session.add(m)
    uow.session.flush()
    uow.audit("create", "shipping_method", m.id, after={"zone": zone_code, **body.model_dump(by_alias=True)})
    uow.commit()
    return _method_out(m, z.code)


def _zone(uow: UnitOfWork, zone_code: str) -> ShippingZone:
    z = uow.session.scalar(sa.select(ShippingZone).where(ShippingZone.code == zone_code).with_for_update())
    if z is None:
        raise NotFound(f"Shipping zone {zone_code} does not exist")
    return z


def _zone_out(uow: UnitOfWork, z: ShippingZone) -> ZoneOut:
    methods = uow.session.scalars(sa.select(ShippingMethod).where(ShippingMethod.zone_id == z.id).order_by(ShippingMethod.id))
    return ZoneOut(id=z.id, code=z.code, name=z.name, countries=z.countries, postcode_prefixes=z.postcode_prefixes or [],
                   methods=[_method_out(m, z.code) for m in methods])


def update_zone(uow: UnitOfWork, zone_code: str, body: ZonePatch) -> ZoneOut:
    """Rename a zone or change the countries and postcodes it covers (audited)."""
    _require_staff(uow)
    z = _zone(uow, zone_code)
    before = {"name": z.name, "countries": z.countries, "postcode_prefixes": z.postcode_prefixes or []}
    for key in ("name", "countries", "postcode_prefixes"):
        if key in body.model_fields_set and getattr(body, key) is not None:
            setattr(z, key, list(getattr(body, key)) if key != "name" else body.name)
    after = {"name": z.name, "countries": z.countries, "postcode_prefixes": z.postcode_prefixes or []}
    if after != before:
        uow.audit("update", "shipping_zone", z.id, before=before, after=after)
    uow.commit()
    return _zone_out(uow, z)


def update_method(uow: UnitOfWork, zone_code: str, method_id: int, body: MethodPatch) -> MethodOut:
    """Change a method's name, rate table, free-over amount or whether checkout offers it
    (inactive methods are kept for the orders that used them, and no longer quoted)."""
    _require_staff(uow)
    z = _zone(uow, zone_code)
    m = uow.session.get(ShippingMethod, method_id, with_for_update=True)
    if m is None or m.zone_id != z.id:
        raise NotFound(f"Zone {zone_code} has no shipping method {method_id}")
    before = _method_out(m, z.code).model_dump(mode="json")
    sent = body.model_fields_set
    if "brackets" in sent and body.brackets is not None:
        try:
            for b in body.brackets:
                Money.of(b.price, m.currency)
        except MoneyError as e:  # e.g. more decimals than the currency has
            raise ValidationProblem.for_field("brackets", str(e)) from None
        m.brackets = [{"from": b.from_, "price": b.price} for b in body.brackets]
    if "free_over" in sent:
        try:
            m.free_over_minor = Money.of(body.free_over, m.currency).minor if body.free_over else None
        except MoneyError as e:
            raise ValidationProblem.for_field("free_over", str(e)) from None
    if "name" in sent and body.name is not None:
        m.name = body.name
    if "basis" in sent and body.basis is not None:
        m.basis = body.basis
    if "active" in sent and body.active is not None:
        m.active = body.active
    after = _method_out(m, z.code).model_dump(mode="json")
    if after != before:
        uow.audit("update", "shipping_method", m.id, before=before, after=after)
    uow.commit()
    return _method_out(m, z.code)
