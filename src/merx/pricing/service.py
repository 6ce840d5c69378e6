"""Pricing use cases: price lists, promotions, coupon redemption, shipping rates.

Orders call `unit_prices`, `promotions_for`, `shipping_fee`, `redeem` and `release` inside
their own unit of work (one transaction with the order)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Iterable

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.errors import Conflict, FieldError, NotFound, ValidationProblem
from merx.core.money import MoneyError, format_amount, minor_to_str, parse_amount
from merx.core.pagination import paginate, text_search
from merx.core.uow import UnitOfWork
from merx.pricing import rules
from merx.pricing.events import PromotionCreated, PromotionUpdated
from merx.pricing.models import (CouponUsage, PriceList, PriceListEntry, Promotion, Redemption, ShippingRate)
from merx.pricing.schemas import PriceListCreate, PromotionCreate, PromotionPatch


def _amount(value: Any, currency: str, field: str) -> Decimal:
    try:
        return parse_amount(value, currency)
    except MoneyError as e:
        raise ValidationProblem.for_field(field, str(e)) from None


# ---------------------------------------------------------------------------------------------
# Price lists
# ---------------------------------------------------------------------------------------------


def _list_out(pl: PriceList, entries: int = 0) -> dict[str, Any]:
    return {"id": pl.id, "code": pl.code, "name": pl.name, "currency": pl.currency, "channel": pl.channel,
            "customer_group": pl.customer_group, "priority": pl.priority, "active": pl.active,
            "starts_at": pl.starts_at, "ends_at": pl.ends_at, "entries": entries}


def create_price_list(uow: UnitOfWork, data: PriceListCreate) -> dict[str, Any]:
    if uow.session.scalar(sa.select(PriceList.id).where(PriceList.code == data.code)) is not None:
        raise Conflict(f"A price list with code {data.code} exists", type_slug="duplicate",
                       errors=[FieldError("code", "already exists", "duplicate")])
    pl = PriceList(**data.model_dump())
    uow.session.add(pl)
    uow.session.flush()
    out = _list_out(pl)
    uow.audit("create", "price_list", pl.id, after={k: str(v) if v is not None else None for k, v in out.items()})
    uow.commit()
    return out


def _price_list(uow: UnitOfWork, code: str) -> PriceList:
    pl = uow.session.scalar(sa.select(PriceList).where(PriceList.code == code))
    if pl is None:
        raise NotFound(f"Price list {code} does not exist")
    return pl


def set_prices(uow: UnitOfWork, code: str, prices: list[dict[str, Any]]) -> dict[str, Any]:
    """Upsert the prices of SKUs in a list (amounts in the list's currency)."""
    pl = _price_list(uow, code)
    wanted = {}
    for i, p in enumerate(prices):
        wanted[p["sku"]] = rules.to_minor(_amount(p["amount"], pl.currency, f"prices[{i}].amount"), pl.currency)
    existing = {e.sku: e for e in uow.session.scalars(sa.select(PriceListEntry).where(
        PriceListEntry.price_list_id == pl.id, PriceListEntry.sku.in_(list(wanted))))}
    changed = 0
    for sku, minor in wanted.items():
        row = existing.get(sku)
        if row is None:
            uow.session.add(PriceListEntry(price_list_id=pl.id, sku=sku, amount_minor=minor))
            changed += 1
        elif row.amount_minor != minor:
            row.amount_minor = minor
            changed += 1
    uow.audit("set_prices", "price_list", pl.id, after={"count": len(wanted), "changed": changed})
    uow.commit()
    count = uow.session.scalar(sa.select(sa.func.count()).where(PriceListEntry.price_list_id == pl.id)) or 0
    return _list_out(pl, count)


def list_price_lists(uow: UnitOfWork) -> list[dict[str, Any]]:
    counts = dict(uow.session.execute(sa.select(PriceListEntry.price_list_id, sa.func.count())
                                      .group_by(PriceListEntry.price_list_id)).all())
    return [_list_out(pl, counts.get(pl.id, 0)) for pl in uow.session.scalars(sa.select(PriceList).order_by(PriceList.id))]


# Built once (checkout prices every order). A null `group` matches only lists for everyone,
# as `customer_group = NULL` is never true.
_LIST_PRICES = (
    sa.select(PriceListEntry.sku, PriceListEntry.amount_minor, PriceList.channel, PriceList.customer_group,
              PriceList.priority, PriceList.id)
    .join(PriceList, PriceList.id == PriceListEntry.price_list_id)
    .where(PriceListEntry.sku.in_(sa.bindparam("skus", expanding=True)),
           PriceList.currency == sa.bindparam("currency"), PriceList.active.is_(True),
           sa.or_(PriceList.channel.is_(None), PriceList.channel == sa.bindparam("channel")),
           sa.or_(PriceList.customer_group.is_(None), PriceList.customer_group == sa.bindparam("group")),
           sa.or_(PriceList.starts_at.is_(None), PriceList.starts_at <= sa.bindparam("now")),
           sa.or_(PriceList.ends_at.is_(None), PriceList.ends_at > sa.bindparam("now"))))


def unit_prices(uow: UnitOfWork, catalog_prices: dict[str, dict[str, Decimal]], *, currency: str, channel: str,
                customer_group: str | None = None, now: dt.datetime | None = None) -> dict[str, Decimal]:
    """SKU -> unit price in `currency`: the most specific active price list holding the SKU
    (customer group + channel, then group, then channel, then a general list; priority breaks
    ties), else the catalog price. SKUs with no price in that currency are absent."""
    now = now or utcnow()
    skus = list(catalog_prices)
    rows = uow.session.connection().execute(_LIST_PRICES, {
        "skus": skus, "currency": currency, "channel": channel, "group": customer_group, "now": now}).all()
    best: dict[str, tuple[tuple[int, int, int, int], int]] = {}
    for r in rows:
        rank = (1 if r.customer_group else 0, 1 if r.channel else 0, r.priority, -r.id)
        if r.sku not in best or rank > best[r.sku][0]:
            best[r.sku] = (rank, r.amount_minor)
    out: dict[str, Decimal] = {}
    for sku, prices in catalog_prices.items():
        if sku in best:
            out[sku] = rules.from_minor(best[sku][1], currency)
        elif currency in prices:
            out[sku] = prices[currency]
    return out


# ---------------------------------------------------------------------------------------------
# Promotions
# ---------------------------------------------------------------------------------------------


def _redemption_counts(uow: UnitOfWork, promotion_ids: list[int]) -> dict[int, int]:
    if not promotion_ids:
        return {}
    return {pid: n for pid, n in uow.session.execute(
        sa.select(Redemption.promotion_id, sa.func.count()).where(
            Redemption.promotion_id.in_(promotion_ids), Redemption.state == "active")
        .group_by(Redemption.promotion_id))}


def _outs(uow: UnitOfWork, promos: list[Promotion]) -> list[dict[str, Any]]:
    """API shapes. A promotion with a total limit counts its uses on its own row (a guarded
    UPDATE enforces the limit); one without counts its active redemptions, so checkouts
    applying a shop-wide promotion never queue on one row."""
    counts = _redemption_counts(uow, [p.id for p in promos if p.usage_limit_total is None])
    return [promotion_out(p, times_used=p.times_used if p.usage_limit_total is not None else counts.get(p.id, 0))
            for p in promos]


def promotion_out(p: Promotion, *, times_used: int | None = None) -> dict[str, Any]:
    cur = p.currency
    return {
        "id": p.id, "name": p.name, "kind": p.kind, "priority": p.priority, "stacking": p.stacking,
        "percent": format(p.percent, "f") if p.percent is not None else None, "currency": cur,
        "amount": minor_to_str(p.amount_minor, cur) if p.amount_minor is not None and cur else None,
        "min_subtotal": minor_to_str(p.min_subtotal_minor, cur) if p.min_subtotal_minor is not None and cur else None,
        "tiers": [{"threshold": minor_to_str(t["threshold_minor"], cur), "percent": t["percent"]}
                  for t in (p.tiers or [])] if cur else [],
        "skus": list(p.skus or []), "categories": list(p.categories or []), "channels": list(p.channels or []),
        "customer_groups": list(p.customer_groups or []), "buy_quantity": p.buy_quantity,
        "get_quantity": p.get_quantity, "get_percent": format(p.get_percent, "f") if p.get_percent is not None else None,
        "coupon_code": p.coupon_code, "usage_limit_total": p.usage_limit_total,
        "usage_limit_per_customer": p.usage_limit_per_customer,
        "times_used": p.times_used if times_used is None else times_used,
        "starts_at": p.starts_at, "ends_at": p.ends_at, "active": p.active, "version": p.version,
    }


def _needs(data: PromotionCreate, field: str, why: str) -> None:
    if getattr(data, field) in (None, [], 0):
        raise ValidationProblem.for_field(field, f"is required for {why}")


def create_promotion(uow: UnitOfWork, data: PromotionCreate) -> dict[str, Any]:
    kind = data.kind
    money_fields = [f for f in ("amount", "min_subtotal") if getattr(data, f) is not None] + (["tiers"] if data.tiers else [])
    if money_fields and data.currency is None:
        raise ValidationProblem.for_field("currency", f"is required with {', '.join(money_fields)}")
    if kind in ("order_percent", "line_percent"):
        _needs(data, "percent", kind)
    if kind in ("order_fixed", "line_fixed"):
        _needs(data, "amount", kind)
    if kind == "tiered_percent":
        _needs(data, "tiers", kind)
    if kind == "buy_x_get_y":
        _needs(data, "buy_quantity", kind)
        _needs(data, "get_quantity", kind)
    cur = data.currency
    tiers = None
    if data.tiers:
        tiers = []
        for i, t in enumerate(data.tiers):
            threshold = _amount(t.threshold, cur, f"tiers[{i}].threshold")
            try:
                pct = Decimal(str(t.percent))
            except Exception:
                raise ValidationProblem.for_field(f"tiers[{i}].percent", "is not a decimal number") from None
            if isinstance(t.percent, float) or not (Decimal(0) < pct <= 100):
                raise ValidationProblem.for_field(f"tiers[{i}].percent", "must be a decimal string in (0, 100]")
            tiers.append({"threshold_minor": rules.to_minor(threshold, cur), "percent": format(pct, "f")})
        if len({t["threshold_minor"] for t in tiers}) != len(tiers):
            raise ValidationProblem.for_field("tiers", "thresholds must differ")
    code = data.coupon_code.upper() if data.coupon_code else None
    if code and uow.session.scalar(sa.select(Promotion.id).where(Promotion.coupon_code == code)) is not None:
        raise Conflict(f"Coupon code {code} is taken", type_slug="duplicate",
                       errors=[FieldError("coupon_code", "already used by another promotion", "duplicate")])
    p = Promotion(
        name=data.name, kind=kind, priority=data.priority, stacking=data.stacking, percent=data.percent, currency=cur,
        amount_minor=rules.to_minor(_amount(data.amount, cur, "amount"), cur) if data.amount is not None else None,
        min_subtotal_minor=(rules.to_minor(_amount(data.min_subtotal, cur, "min_subtotal"), cur)
                            if data.min_subtotal is not None else None),
        tiers=tiers, skus=data.skus, categories=data.categories, channels=list(data.channels),
        customer_groups=data.customer_groups, buy_quantity=data.buy_quantity, get_quantity=data.get_quantity,
        get_percent=data.get_percent, coupon_code=code, usage_limit_total=data.usage_limit_total,
        usage_limit_per_customer=data.usage_limit_per_customer, starts_at=data.starts_at, ends_at=data.ends_at,
        active=data.active, times_used=0, version=1)
    uow.session.add(p)
    uow.session.flush()
    out = promotion_out(p)
    uow.audit("create", "promotion", p.id, after=_jsonable(out))
    uow.emit(PromotionCreated(promotion_id=p.id, name=p.name, kind=p.kind), version=p.version)
    uow.commit()
    return out


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in d.items()}


def update_promotion(uow: UnitOfWork, promotion_id: int, data: PromotionPatch) -> dict[str, Any]:
    p = uow.session.scalar(sa.select(Promotion).where(Promotion.id == promotion_id).with_for_update())
    if p is None:
        raise NotFound(f"Promotion {promotion_id} does not exist")
    before = _jsonable(_outs(uow, [p])[0])
    changes = data.model_dump(exclude_unset=True)
    if changes.get("usage_limit_total") is not None and p.usage_limit_total is None:
        # from now on the row counts: start from the redemptions made while it was unlimited
        # (a checkout already past its pricing step as this commits may still add one more)
        p.times_used = _redemption_counts(uow, [p.id]).get(p.id, 0)
    if changes.get("usage_limit_total") is not None and changes["usage_limit_total"] < p.times_used:
        raise ValidationProblem.for_field("usage_limit_total", f"is below the {p.times_used} redemptions already made")
    for k, v in changes.items():
        setattr(p, k, v)
    if p.starts_at and p.ends_at and p.ends_at <= p.starts_at:
        raise ValidationProblem.for_field("ends_at", "must be after starts_at")
    p.version += 1
    uow.session.flush()
    out = _outs(uow, [p])[0]
    after = _jsonable(out)
    uow.audit("update", "promotion", p.id, before=before, after=after)
    uow.emit(PromotionUpdated(promotion_id=p.id, changed=sorted(changes)), version=p.version)
    uow.commit()
    return out


def get_promotion(uow: UnitOfWork, promotion_id: int) -> dict[str, Any]:
    p = uow.session.get(Promotion, promotion_id)
    if p is None:
        raise NotFound(f"Promotion {promotion_id} does not exist")
    return _outs(uow, [p])[0]


def price_lists_page(uow: UnitOfWork, *, limit: int, cursor: str | None,
                     q: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """`q`: only the price lists whose code, name, channel or customer group contain it."""
    stmt = text_search(sa.select(PriceList), q, PriceList.code, PriceList.name, PriceList.channel,
                       PriceList.customer_group)
    rows, nxt = paginate(uow.session, stmt, PriceList.id, limit=limit, cursor=cursor)
    counts = dict(uow.session.execute(sa.select(PriceListEntry.price_list_id, sa.func.count())
                                      .where(PriceListEntry.price_list_id.in_([pl.id for pl in rows]))
                                      .group_by(PriceListEntry.price_list_id)).all()) if rows else {}
    return [_list_out(pl, counts.get(pl.id, 0)) for pl in rows], nxt


def promotions_page(uow: UnitOfWork, *, active: bool | None, limit: int,
                    cursor: str | None, q: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """`q`: only the promotions whose name or coupon code contain it."""
    stmt = text_search(sa.select(Promotion), q, Promotion.name, Promotion.coupon_code)
    if active is not None:
        stmt = stmt.where(Promotion.active.is_(active))
    rows, nxt = paginate(uow.session, stmt, Promotion.id, limit=limit, cursor=cursor)
    return _outs(uow, rows), nxt


def list_promotions(uow: UnitOfWork, *, active: bool | None = None) -> list[dict[str, Any]]:
    stmt = sa.select(Promotion).order_by(Promotion.id)
    if active is not None:
        stmt = stmt.where(Promotion.active.is_(active))
    return _outs(uow, list(uow.session.scalars(stmt.limit(1000))))


def to_rule(p: Promotion) -> rules.Promotion:
    cur = p.currency
    return rules.Promotion(
        id=p.id, name=p.name, kind=p.kind, priority=p.priority, stacking=p.stacking, percent=p.percent,
        amount=rules.from_minor(p.amount_minor, cur) if p.amount_minor is not None and cur else None,
        min_subtotal=rules.from_minor(p.min_subtotal_minor, cur) if p.min_subtotal_minor is not None and cur else None,
        tiers=tuple((rules.from_minor(t["threshold_minor"], cur), Decimal(t["percent"])) for t in (p.tiers or [])),
        skus=frozenset(p.skus or ()), categories=frozenset(p.categories or ()), buy_quantity=p.buy_quantity,
        get_quantity=p.get_quantity, get_percent=p.get_percent if p.get_percent is not None else rules.HUNDRED,
        coupon_code=p.coupon_code, currency=cur, channels=frozenset(p.channels or ()),
        customer_groups=frozenset(p.customer_groups or ()), starts_at=p.starts_at, ends_at=p.ends_at)


def promotions_for(uow: UnitOfWork, coupon_codes: Iterable[str] = ()) -> list[rules.Promotion]:
    """Active automatic promotions plus those unlocked by the given coupon codes. Validity
    windows, channels and thresholds are judged by the engine."""
    codes = sorted({c.upper() for c in coupon_codes})
    # rows, not ORM objects: checkout asks on every order (to_rule reads attributes either way)
    return [to_rule(p) for p in uow.session.connection().execute(_ACTIVE_PROMOTIONS, {"codes": codes})]


_p = Promotion.__table__
# An automatic promotion whose cap is used up simply stops applying (the order goes through
# at the full price); a coupon the shopper typed still answers that it is fully redeemed.
_ACTIVE_PROMOTIONS = (sa.select(_p)
                      .where(_p.c.active.is_(True),
                             sa.or_(sa.and_(_p.c.coupon_code.is_(None),
                                            sa.or_(_p.c.usage_limit_total.is_(None),
                                                   _p.c.times_used < _p.c.usage_limit_total)),
                                    _p.c.coupon_code.in_(sa.bindparam("codes", expanding=True))))
                      .order_by(_p.c.id))


def usage_problem(uow: UnitOfWork, promotion_id: int, customer_key: str | None) -> str | None:
    """A read-only pre-check (for carts and quotes); the authoritative check is `redeem`."""
    p = uow.session.get(Promotion, promotion_id)
    if p is None:
        return "does not exist"
    if p.usage_limit_total is not None and p.times_used >= p.usage_limit_total:
        return "has been fully redeemed"
    if p.usage_limit_per_customer is not None and customer_key:
        used = uow.session.scalar(sa.select(CouponUsage.times_used).where(
            CouponUsage.promotion_id == promotion_id, CouponUsage.customer_key == customer_key)) or 0
        if used >= p.usage_limit_per_customer:
            return "has already been used the allowed number of times by this customer"
    return None


def redeem(uow: UnitOfWork, applied: list[rules.AppliedPromotion], *, order_id: int, customer_key: str | None,
           currency: str) -> None:
    """Count the redemptions of an order's promotions; guarded UPDATEs, so concurrent orders
    cannot exceed a total or per-customer limit. Raises a 409 naming `coupon`. No commit."""
    if not applied:
        return
    limits = {r.id: (r.usage_limit_total, r.usage_limit_per_customer) for r in uow.session.execute(
        sa.select(Promotion.id, Promotion.usage_limit_total, Promotion.usage_limit_per_customer)
        .where(Promotion.id.in_(sorted({a.promotion_id for a in applied}))))}
    for a in sorted(applied, key=lambda a: a.promotion_id):
        total_limit, limit = limits.get(a.promotion_id, (None, None))
        # Only a limited promotion counts on its own row: the guarded UPDATE makes concurrent
        # checkouts queue on that row, which a capped coupon needs and a shop-wide discount
        # must not impose on every order (its uses are its active redemptions).
        if total_limit is not None:
            res = uow.session.execute(
                sa.update(Promotion).where(Promotion.id == a.promotion_id,
                                           sa.or_(Promotion.usage_limit_total.is_(None),
                                                  Promotion.times_used < Promotion.usage_limit_total))
                .values(times_used=Promotion.times_used + 1).execution_options(synchronize_session=False))
            if res.rowcount != 1:
                raise Conflict(f"{a.coupon_code or a.name} has been fully redeemed", type_slug="coupon-exhausted",
                               errors=[FieldError("coupon", "usage limit reached", "usage_limit")])
        if limit is not None and customer_key:
            _insert_usage_row(uow, a.promotion_id, customer_key)
            res = uow.session.execute(
                sa.update(CouponUsage).where(CouponUsage.promotion_id == a.promotion_id,
                                             CouponUsage.customer_key == customer_key,
                                             CouponUsage.times_used < limit)
                .values(times_used=CouponUsage.times_used + 1).execution_options(synchronize_session=False))
            if res.rowcount != 1:
                raise Conflict(f"{a.coupon_code or a.name} was already used by this customer",
                               type_slug="coupon-exhausted",
                               errors=[FieldError("coupon", "per-customer usage limit reached", "usage_limit")])
        amount = a.amount + a.shipping_discount if a.kind != "free_shipping" else a.shipping_discount
        uow.session.add(Redemption(promotion_id=a.promotion_id, order_id=order_id, customer_key=customer_key,
                                   coupon_code=a.coupon_code, amount_minor=rules.to_minor(amount, currency),
                                   currency=currency))


def _insert_usage_row(uow: UnitOfWork, promotion_id: int, customer_key: str) -> None:
    if uow.dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    uow.session.execute(insert(CouponUsage).values(promotion_id=promotion_id, customer_key=customer_key, times_used=0)
                        .on_conflict_do_nothing(index_elements=["promotion_id", "customer_key"]))


def release(uow: UnitOfWork, order_id: int) -> int:
    """Give back the redemptions of a cancelled order (idempotent). No commit."""
    rows = uow.session.execute(
        sa.update(Redemption).where(Redemption.order_id == order_id, Redemption.state == "active")
        .values(state="released").returning(Redemption.promotion_id, Redemption.customer_key)
        .execution_options(synchronize_session=False)).all()
    for r in sorted(rows, key=lambda r: r.promotion_id):
        uow.session.execute(sa.update(Promotion).where(Promotion.id == r.promotion_id, Promotion.times_used > 0,
                                                       Promotion.usage_limit_total.is_not(None))
                            .values(times_used=Promotion.times_used - 1).execution_options(synchronize_session=False))
        if r.customer_key:
            uow.session.execute(sa.update(CouponUsage).where(
                CouponUsage.promotion_id == r.promotion_id, CouponUsage.customer_key == r.customer_key,
                CouponUsage.times_used > 0).values(times_used=CouponUsage.times_used - 1)
                .execution_options(synchronize_session=False))
    return len(rows)


def coupon_exists(uow: UnitOfWork, code: str) -> bool:
    return uow.session.scalar(sa.select(Promotion.id).where(Promotion.coupon_code == code.upper())) is not None


# ---------------------------------------------------------------------------------------------
# Shipping
# ---------------------------------------------------------------------------------------------


def set_shipping_rate(uow: UnitOfWork, currency: str, amount: Any) -> dict[str, str]:
    value = _amount(amount, currency, "amount")
    row = uow.session.get(ShippingRate, currency)
    before = minor_to_str(row.amount_minor, currency) if row else None
    if row is None:
        uow.session.add(ShippingRate(currency=currency, amount_minor=rules.to_minor(value, currency)))
    else:
        row.amount_minor = rules.to_minor(value, currency)
    uow.audit("set", "shipping_rate", currency, before={"amount": before}, after={"amount": format_amount(value, currency)})
    uow.commit()
    return {"currency": currency, "amount": format_amount(value, currency)}


def shipping_fee(uow: UnitOfWork, currency: str) -> Decimal:
    minor = uow.session.connection().execute(_SHIPPING_RATE, {"currency": currency}).scalar()
    return rules.from_minor(minor, currency) if minor is not None else Decimal(0)


_SHIPPING_RATE = sa.select(ShippingRate.__table__.c.amount_minor).where(
    ShippingRate.__table__.c.currency == sa.bindparam("currency"))


# -- a promotion's redemptions and per-customer coupon uses (the promotion's console page) ------


def redemption_out(r: Redemption) -> dict[str, Any]:
    return {"id": r.id, "promotion_id": r.promotion_id, "order_id": r.order_id, "customer_key": r.customer_key,
            "coupon_code": r.coupon_code, "amount": minor_to_str(r.amount_minor, r.currency), "currency": r.currency,
            "state": r.state, "created_at": r.created_at}


def redemptions_page(uow: UnitOfWork, promotion_id: int, *, limit: int,
                     cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """The orders a promotion discounted, newest first (`released`: the order was cancelled)."""
    if uow.session.get(Promotion, promotion_id) is None:
        raise NotFound(f"Promotion {promotion_id} does not exist")
    stmt = sa.select(Redemption).where(Redemption.promotion_id == promotion_id)
    return paginate(uow.session, stmt, Redemption.id, limit=limit, cursor=cursor, convert=redemption_out,
                    descending=True)


def coupon_uses(uow: UnitOfWork, promotion_id: int, *, limit: int = 50) -> list[dict[str, Any]]:
    """Who used the promotion's coupon how often (the per-customer limit counts these), most first."""
    rows = uow.session.execute(sa.select(CouponUsage.customer_key, CouponUsage.times_used)
                               .where(CouponUsage.promotion_id == promotion_id, CouponUsage.times_used > 0)
                               .order_by(CouponUsage.times_used.desc(), CouponUsage.customer_key).limit(limit)).all()
    return [{"customer_key": k, "times_used": n} for k, n in rows]
