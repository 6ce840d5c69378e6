"""Offers: a seller's price, stock, lead time, condition and shipping terms for a catalog SKU
(many sellers may offer one product), the buy box, and what checkout asks about them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Sequence

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.errors import Conflict, FieldError, NotFound, ValidationProblem
from merx.core.money import Money
from merx.core.pagination import check_limit, paginate
from merx.core.schemas import MoneyOut, Page
from merx.core.uow import UnitOfWork
from merx.marketplace import public as marketplace
from merx.orders.seller_lines import OfferedLine
from merx.sellers import rules
from merx.sellers.access import check_visible, own_seller_id, seller_for_write
from merx.sellers.events import OfferCreated, OfferUpdated
from merx.sellers.models import Offer
from merx.sellers.schemas import BuyBoxEntry, BuyBoxOut, OfferCreate, OfferOut, OfferUpdate


def offer_out(o: Offer) -> OfferOut:
    return OfferOut(id=o.id, seller_id=o.seller_id, product_id=o.product_id, sku=o.sku,
                    price=MoneyOut.of(Money.from_minor(o.price_minor, o.currency)),
                    shipping=MoneyOut.of(Money.from_minor(o.shipping_minor, o.currency)), quantity=o.quantity,
                    lead_time_days=o.lead_time_days, condition=o.condition, shipping_terms=o.shipping_terms,
                    active=o.active, version=o.version)


def marketplace_currency(uow: UnitOfWork) -> str:
    """The currency the marketplace channel takes: the shop's currency."""
    return uow.settings.default_currency


def _check_currency(uow: UnitOfWork, money: Any, field: str) -> None:
    accepted = marketplace_currency(uow)
    if money is not None and money.currency != accepted:
        raise ValidationProblem.for_field(field, f"the marketplace takes {accepted}, not {money.currency}",
                                          "currency_not_accepted")


def _sellable(uow: UnitOfWork, seller_id: int, sku: str) -> Any:
    """The catalog SKU a seller may offer: known, not archived, not another seller's own listing."""
    from merx.catalog import public as catalog

    seller = marketplace.get_seller(uow, seller_id)
    if seller is None or seller.status != "active":
        raise ValidationProblem.for_field("seller_id", f"seller {seller_id} is {seller.status if seller else 'unknown'}"
                                                       "; only active sellers may offer", "seller_not_active")
    info = catalog.lookup_skus(uow, [sku]).get(sku)
    if info is None:
        raise ValidationProblem.for_field("sku", f"{sku} is not a catalog SKU", "unknown_sku")
    if info.status == "archived":
        raise ValidationProblem.for_field("sku", f"{sku} is archived", "not_sellable")
    if info.seller_id is not None and info.seller_id != seller_id:
        raise ValidationProblem.for_field("sku", f"{sku} is another seller's exclusive listing", "not_sellable")
    return info


def create_offer(uow: UnitOfWork, data: OfferCreate) -> OfferOut:
    seller_id = seller_for_write(uow, data.seller_id)
    _check_currency(uow, data.price, "price.currency")
    _check_currency(uow, data.shipping, "shipping.currency")
    info = _sellable(uow, seller_id, data.sku)
    if uow.session.scalar(sa.select(Offer.id).where(Offer.seller_id == seller_id, Offer.sku == data.sku)):
        raise Conflict(f"Seller {seller_id} already offers {data.sku}; update that offer", type_slug="duplicate",
                       errors=[FieldError("sku", "already offered by this seller", "duplicate")])
    price = data.price.to_money()
    offer = Offer(seller_id=seller_id, product_id=info.product_id, sku=data.sku, currency=price.currency,
                  price_minor=price.minor, shipping_minor=data.shipping.to_money().minor if data.shipping else 0,
                  quantity=data.quantity, lead_time_days=data.lead_time_days, condition=data.condition,
                  shipping_terms=data.shipping_terms, active=True, version=1, created_at=utcnow(), updated_at=utcnow())
    if offer.price_minor <= 0:
        raise ValidationProblem.for_field("price.amount", "must be more than zero", "not_positive")
    uow.session.add(offer)
    uow.session.flush()
    out = offer_out(offer)
    uow.audit("create", "offer", offer.id, after=out.model_dump(mode="json"))
    uow.emit(OfferCreated(offer_id=offer.id, seller_id=seller_id, sku=offer.sku, price=price, quantity=offer.quantity),
             version=offer.version)
    uow.commit()
    return out


def _load(uow: UnitOfWork, offer_id: int, *, for_update: bool = False) -> Offer:
    stmt = sa.select(Offer).where(Offer.id == offer_id)
    if for_update:
        stmt = stmt.with_for_update()
    offer = uow.session.scalar(stmt)
    if offer is None:
        raise NotFound(f"Offer {offer_id} does not exist")
    check_visible(uow, offer.seller_id, f"Offer {offer_id}")
    return offer


def get_offer(uow: UnitOfWork, offer_id: int) -> OfferOut:
    return offer_out(_load(uow, offer_id))


def update_offer(uow: UnitOfWork, offer_id: int, data: OfferUpdate) -> OfferOut:
    offer = _load(uow, offer_id, for_update=True)
    before = offer_out(offer).model_dump(mode="json")
    changes = data.model_dump(exclude_unset=True)
    _check_currency(uow, data.price, "price.currency")
    _check_currency(uow, data.shipping, "shipping.currency")
    if "price" in changes:
        offer.price_minor = data.price.to_money().minor  # type: ignore[union-attr]
        if offer.price_minor <= 0:
            raise ValidationProblem.for_field("price.amount", "must be more than zero", "not_positive")
    if "shipping" in changes:
        offer.shipping_minor = data.shipping.to_money().minor if data.shipping else 0
    for key in ("quantity", "lead_time_days", "condition", "shipping_terms", "active"):
        if key in changes:
            setattr(offer, key, changes[key])
    after = offer_out(offer).model_dump(mode="json")
    if after != before:
        offer.version += 1
        offer.updated_at = utcnow()
        uow.session.flush()
        after = offer_out(offer).model_dump(mode="json")
        uow.audit("update", "offer", offer.id, before=before, after=after)
        uow.emit(OfferUpdated(offer_id=offer.id, seller_id=offer.seller_id, sku=offer.sku, changes=sorted(changes)),
                 version=offer.version)
    uow.commit()
    return offer_out(offer)


def list_offers(uow: UnitOfWork, *, sku: str | None = None, seller_id: int | None = None, limit: int | None = None,
                cursor: str | None = None) -> Page[OfferOut]:
    own = own_seller_id(uow)
    stmt = sa.select(Offer)
    if own is not None:
        stmt = stmt.where(Offer.seller_id == own)
    elif seller_id is not None:
        stmt = stmt.where(Offer.seller_id == seller_id)
    if sku:
        stmt = stmt.where(Offer.sku == sku)
    items, nxt = paginate(uow.session, stmt, Offer.id, limit=check_limit(limit, 50, 500), cursor=cursor,
                          convert=offer_out)
    return Page[OfferOut](items=items, next_cursor=nxt)


def offers_stmt(seller_id: int | None) -> sa.Select[Any]:
    """For the console: one seller's offers (None: all), newest first."""
    stmt = sa.select(Offer).order_by(Offer.id.desc())
    return stmt.where(Offer.seller_id == seller_id) if seller_id is not None else stmt


def buy_box(uow: UnitOfWork, sku: str, currency: str | None = None) -> BuyBoxOut:
    """Public: the SKU's eligible offers ranked by the buy-box rule (rules.buy_box), with the
    parts of every score."""
    currency = currency or marketplace_currency(uow)
    offers = list(uow.session.scalars(sa.select(Offer).where(Offer.sku == sku, Offer.active.is_(True),
                                                             Offer.quantity > 0, Offer.currency == currency)))
    sellers = marketplace.sellers_by_ids(uow, {o.seller_id for o in offers})
    eligible = {o.id: o for o in offers if o.seller_id in sellers and sellers[o.seller_id].status == "active"}
    ranked = rules.buy_box(rules.Candidate(o.id, o.seller_id, o.price_minor, o.shipping_minor, o.lead_time_days,
                                           sellers[o.seller_id].rating) for o in eligible.values())
    entries = [BuyBoxEntry(offer=offer_out(eligible[r.candidate.offer_id]), seller_name=sellers[r.candidate.seller_id].name,
                           seller_rating=sellers[r.candidate.seller_id].rating,
                           landed_price=MoneyOut.of(Money.from_minor(r.candidate.landed_minor, currency)),
                           score=r.score, parts=r.parts) for r in ranked]
    return BuyBoxOut(sku=sku, currency=currency, rule="0.60 x price + 0.25 x rating + 0.15 x speed (sellers/rules.py)",
                     weights=rules.BUY_BOX_WEIGHTS, winner=entries[0] if entries else None, offers=entries)


@dataclass(frozen=True)
class ShopOffer:
    """An offer as the storefront shows and sells it (public data only)."""

    offer_id: int
    seller_id: int
    seller_name: str
    seller_rating: Decimal | None
    sku: str
    currency: str
    price: Decimal
    shipping: Decimal
    quantity: int  # units the seller can still sell
    lead_time_days: int
    condition: str

    @property
    def landed(self) -> Decimal:
        return self.price + self.shipping


def shop_offers(uow: UnitOfWork, offer_ids: Iterable[int]) -> dict[int, ShopOffer]:
    """Public, for the storefront's cart (any caller): these offers by id, only those a shopper
    can buy now (active offer of an active seller, in the shop's currency, in stock)."""
    ids = {int(i) for i in offer_ids}
    if not ids:
        return {}
    currency = marketplace_currency(uow)
    rows = list(uow.session.scalars(sa.select(Offer).where(Offer.id.in_(ids), Offer.active.is_(True),
                                                           Offer.quantity > 0, Offer.currency == currency)))
    sellers = marketplace.sellers_by_ids(uow, {o.seller_id for o in rows})
    return {o.id: ShopOffer(o.id, o.seller_id, sellers[o.seller_id].name, sellers[o.seller_id].rating, o.sku,
                            o.currency, Money.from_minor(o.price_minor, o.currency).amount,
                            Money.from_minor(o.shipping_minor, o.currency).amount, o.quantity, o.lead_time_days,
                            o.condition)
            for o in rows if o.seller_id in sellers and sellers[o.seller_id].status == "active"}


# -- checkout (the orders.seller_lines hook) ---------------------------------------------------

def resolve_offers(uow: UnitOfWork, lines: Sequence[Any], *, currency: str, channel: str) -> dict[int, OfferedLine]:
    """Checkout's question: for each line naming an offer, its seller and unit price. Refuses
    (422 naming the line) an unknown or inactive offer, another SKU's offer, an offer in
    another currency, a seller not active, and a SKU bought twice from different sources."""
    wanted = {i: ln for i, ln in enumerate(lines) if getattr(ln, "offer_id", None) is not None}
    rows = {o.id: o for o in uow.session.scalars(sa.select(Offer).where(Offer.id.in_({ln.offer_id for ln in wanted.values()})))}
    sellers = marketplace.sellers_by_ids(uow, {o.seller_id for o in rows.values()})
    errors: list[FieldError] = []
    out: dict[int, OfferedLine] = {}
    for i, ln in wanted.items():
        o = rows.get(ln.offer_id)
        f = f"lines[{i}].offer_id"
        if o is None or not o.active:
            errors.append(FieldError(f, f"offer {ln.offer_id} is not available", "unknown_offer"))
        elif o.sku != ln.sku:
            errors.append(FieldError(f, f"offer {o.id} is for {o.sku}, not {ln.sku}", "offer_sku_mismatch"))
        elif o.currency != currency:
            errors.append(FieldError(f, f"offer {o.id} is priced in {o.currency}, the order in {currency}",
                                     "currency_mismatch"))
        elif sellers.get(o.seller_id) is None or sellers[o.seller_id].status != "active":
            errors.append(FieldError(f, f"the seller of offer {o.id} is not active", "seller_not_active"))
        else:
            out[i] = OfferedLine(index=i, offer_id=o.id, seller_id=o.seller_id,
                                 unit_price=Money.from_minor(o.price_minor, o.currency).amount)
    sources: dict[str, set] = {}
    for i, ln in enumerate(lines):
        sources.setdefault(ln.sku, set()).add(getattr(ln, "offer_id", None))
    for i, ln in enumerate(lines):
        if len(sources[ln.sku]) > 1:
            errors.append(FieldError(f"lines[{i}].sku", f"{ln.sku} is bought from more than one source; one line "
                                                       "per SKU", "duplicate_sku"))
            break
    if errors:
        raise ValidationProblem("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    return out


def take_stock(uow: UnitOfWork, offer_id: int, quantity: int, field: str) -> None:
    """Take units from an offer's stock (a conditional UPDATE: never below zero)."""
    done = uow.session.execute(sa.update(Offer).where(Offer.id == offer_id, Offer.quantity >= quantity)
                               .values(quantity=Offer.quantity - quantity, version=Offer.version + 1)
                               .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        left = uow.session.scalar(sa.select(Offer.quantity).where(Offer.id == offer_id))
        raise Conflict(f"The seller has only {left} left of offer {offer_id}", type_slug="insufficient-stock",
                       errors=[FieldError(field, f"only {left} available from this seller", "insufficient_stock")])


def give_back_stock(uow: UnitOfWork, offer_id: int | None, quantity: int) -> None:
    if offer_id is None:
        return
    uow.session.execute(sa.update(Offer).where(Offer.id == offer_id)
                        .values(quantity=Offer.quantity + quantity, version=Offer.version + 1)
                        .execution_options(synchronize_session=False))


def unit_price(uow: UnitOfWork, offer_id: int) -> Decimal | None:
    o = uow.session.get(Offer, offer_id)
    return Money.from_minor(o.price_minor, o.currency).amount if o else None


# -- spreadsheet import ------------------------------------------------------------------------

IMPORT_COLUMNS = ("sku", "price", "quantity", "lead_time_days", "condition", "shipping", "shipping_terms")


def rows_from_file(raw: bytes, filename: str) -> list[dict[str, str]]:
    """The rows of an uploaded CSV (UTF-8) or XLSX (first sheet) file, header first; cells as
    text (a whole-number spreadsheet cell is written without ".0")."""
    import csv
    import io

    if filename.lower().endswith(".xlsx"):
        import zipfile

        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as e:
            raise ValidationProblem.for_field("file", f"not a readable XLSX workbook: {e}") from None

        def cell(v: Any) -> str:
            if v is None:
                return ""
            if isinstance(v, float) and v.is_integer():
                return str(int(v))
            return str(v)

        it = wb.worksheets[0].iter_rows(values_only=True)
        header = [cell(v).strip() for v in next(it, ())]
        rows = [dict(zip(header, map(cell, values))) for values in it if any(v is not None for v in values)]
        wb.close()
        return rows
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationProblem.for_field("file", "is not UTF-8 text (CSV) or an .xlsx workbook") from None
    return list(csv.DictReader(io.StringIO(text)))


def import_offers(uow: UnitOfWork, rows: list[dict[str, str]], *, seller_id: int | None = None) -> dict[str, Any]:
    """Create or update the caller's offers from spreadsheet rows (CSV or XLSX read by the
    caller; columns IMPORT_COLUMNS, prices in the marketplace currency). Each row is its own
    savepoint: a bad row is reported with its row number and field and the others are kept."""
    from pydantic import ValidationError

    sid = seller_for_write(uow, seller_id)
    currency = marketplace_currency(uow)
    created = updated = 0
    errors: list[dict[str, Any]] = []
    for n, raw in enumerate(rows, start=2):  # row 1 is the header
        row = {k: (v or "").strip() for k, v in raw.items() if k}
        try:
            existing = uow.session.scalar(sa.select(Offer).where(Offer.seller_id == sid, Offer.sku == row.get("sku")))
            fields: dict[str, Any] = {}
            if row.get("price"):
                fields["price"] = {"amount": row["price"], "currency": currency}
            if row.get("shipping"):
                fields["shipping"] = {"amount": row["shipping"], "currency": currency}
            for key in ("quantity", "lead_time_days"):
                if row.get(key):
                    fields[key] = row[key]
            for key in ("condition", "shipping_terms"):
                if row.get(key):
                    fields[key] = row[key]
            with uow.savepoint():
                if existing is None:
                    _create_in_import(uow, OfferCreate(sku=row.get("sku", ""), seller_id=sid, **fields), sid)
                    created += 1
                else:
                    _update_in_import(uow, existing, OfferUpdate(**fields))
                    updated += 1
        except ValidationError as e:
            for err in e.errors():
                errors.append({"row": n, "field": ".".join(str(p) for p in err["loc"]), "message": err["msg"]})
        except (ValidationProblem, Conflict) as e:
            if e.errors:
                errors.extend({"row": n, "field": fe.field, "message": fe.message} for fe in e.errors)
            else:
                errors.append({"row": n, "field": "", "message": e.detail})
    uow.audit("import", "offers", sid, after={"created": created, "updated": updated, "errors": len(errors)})
    uow.commit()
    return {"created": created, "updated": updated, "errors": errors}


def _create_in_import(uow: UnitOfWork, data: OfferCreate, seller_id: int) -> None:
    _check_currency(uow, data.price, "price.currency")
    info = _sellable(uow, seller_id, data.sku)
    price = data.price.to_money()
    if price.minor <= 0:
        raise ValidationProblem.for_field("price", "must be more than zero", "not_positive")
    offer = Offer(seller_id=seller_id, product_id=info.product_id, sku=data.sku, currency=price.currency,
                  price_minor=price.minor, shipping_minor=data.shipping.to_money().minor if data.shipping else 0,
                  quantity=data.quantity, lead_time_days=data.lead_time_days, condition=data.condition,
                  shipping_terms=data.shipping_terms, active=True, version=1, created_at=utcnow(), updated_at=utcnow())
    uow.session.add(offer)
    uow.session.flush()
    uow.emit(OfferCreated(offer_id=offer.id, seller_id=seller_id, sku=offer.sku, price=price, quantity=offer.quantity),
             version=offer.version)


def _update_in_import(uow: UnitOfWork, offer: Offer, data: OfferUpdate) -> None:
    changes = data.model_dump(exclude_unset=True)
    if "price" in changes:
        offer.price_minor = data.price.to_money().minor  # type: ignore[union-attr]
        if offer.price_minor <= 0:
            raise ValidationProblem.for_field("price", "must be more than zero", "not_positive")
    if "shipping" in changes and data.shipping is not None:
        offer.shipping_minor = data.shipping.to_money().minor
    for key in ("quantity", "lead_time_days", "condition", "shipping_terms"):
        if key in changes:
            setattr(offer, key, changes[key])
    if changes:
        offer.version += 1
        offer.updated_at = utcnow()
        uow.session.flush()
        uow.emit(OfferUpdated(offer_id=offer.id, seller_id=offer.seller_id, sku=offer.sku, changes=sorted(changes)),
                 version=offer.version)


# -- feeds (integration connectors' `offers` target) -----------------------------------------

FEED_FIELDS = ("price", "shipping", "quantity", "lead_time_days", "condition", "shipping_terms")


def apply_feed_row(uow: UnitOfWork, row: dict[str, Any]) -> str:
    """One row of a seller's offer feed, already mapped by a connector (its own column names
    onto `seller` (code or id), `sku`, `price`, `currency`, `quantity` and the optional
    FEED_FIELDS): create or update that seller's offer of the SKU, in the caller's transaction
    (no commit). Returns created, updated or unchanged; a refusal names the field."""
    seller = str(row.get("seller") or "").strip()
    seller_id = int(seller) if seller.isdigit() else marketplace.seller_id_by_code(uow, seller)
    if seller_id is None:
        raise ValidationProblem.for_field("seller", f"no seller with code {seller!r}", "unknown_seller")
    sid = seller_for_write(uow, seller_id, field="seller")
    currency = str(row.get("currency") or marketplace_currency(uow)).upper()
    fields: dict[str, Any] = {}
    for key in ("price", "shipping"):
        if row.get(key) is not None:
            fields[key] = {"amount": format(Decimal(str(row[key])), "f"), "currency": currency}
    for key in ("quantity", "lead_time_days", "condition", "shipping_terms"):
        if row.get(key) is not None:
            fields[key] = row[key]
    existing = uow.session.scalar(sa.select(Offer).where(Offer.seller_id == sid, Offer.sku == row.get("sku")))
    if existing is None:
        _create_in_import(uow, OfferCreate(sku=str(row.get("sku") or ""), seller_id=sid, **fields), sid)
        return "created"
    current = offer_out(existing)
    now = {"price": current.price.model_dump(mode="json"), "shipping": current.shipping.model_dump(mode="json"),
           "quantity": existing.quantity, "lead_time_days": existing.lead_time_days, "condition": existing.condition,
           "shipping_terms": existing.shipping_terms}
    changed = {}
    for k, v in fields.items():
        if k in ("price", "shipping"):
            if Money.of(v["amount"], v["currency"]) != Money.of(now[k]["amount"], now[k]["currency"]):
                changed[k] = v
        elif v != now[k]:
            changed[k] = v
    if not changed:
        return "unchanged"
    if "price" in changed:
        _check_currency(uow, OfferCreate.model_validate({"sku": "x", "price": changed["price"], "quantity": 0}).price,
                        "currency")
    _update_in_import(uow, existing, OfferUpdate(**changed))
    return "updated"
