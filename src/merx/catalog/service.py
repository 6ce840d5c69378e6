"""Catalog use cases: products with variants and prices, categories, brands, attributes and
attribute sets, channels, completeness, and the read models other contexts use
(`lookup_skus`, `iter_product_documents`).

A product write works on a *state*: a plain dict describing everything a user can change
(texts, codes, normalized attribute values, variants with prices in minor units, channel
codes). An update computes the new state from the old one; when they are equal nothing is
written (no version bump, no event, no audit row), which is what makes imports idempotent."""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from merx.catalog import rules
from merx.catalog.events import (ProductArchived, ProductCreated, ProductDeleted, ProductPriceChanged,
                                 ProductUpdated)
from merx.catalog.models import (Attribute, AttributeSet, AttributeSetItem, Brand, Category, Channel, Product,
                                 ProductChannel, Variant, VariantPrice)
from merx.catalog.schemas import (AttributeCreate, AttributeOut, AttributeSetCreate, AttributeSetItemOut,
                                  AttributeSetOut, BrandCreate, BrandOut, CategoryCreate, CategoryOut, CategoryPatch,
                                  ChannelCreate, ChannelOut, CompletenessOut, ProductCreate, ProductOut, ProductPatch,
                                  VariantIn, VariantOut)
from merx.core.auth import Principal, Role
from merx.core.db import utcnow
from merx.core.errors import Conflict, FieldError, Forbidden, NotFound, Problem, ValidationProblem
from merx.core.money import Money, MoneyError, check_currency, minor_to_str
from merx.core.pagination import check_limit, paginate
from merx.core.schemas import MoneyIn, MoneyOut, Page
from merx.core.settings import Settings, get_settings
from merx.core.uow import UnitOfWork

# Channels every installation has; created on first use (tests and fresh databases start empty).
DEFAULT_CHANNELS: tuple[dict[str, Any], ...] = (
    {"code": "web", "name": "Web shop", "requires_media": False},
    {"code": "store", "name": "Physical stores", "requires_media": False},
    {"code": "marketplace", "name": "Marketplaces", "requires_media": True},
    {"code": "b2b", "name": "B2B portal", "requires_media": False},
)
# A product created without `channels` is published to the web shop only.
DEFAULT_PUBLICATION = ("web",)
READ_ALL_ROLES = frozenset({Role.admin, Role.staff, Role.sales_rep, Role.support_agent})


class PreconditionFailed(Problem):
    status = 412
    type_slug = "precondition-failed"
    title = "Precondition failed"


# --------------------------------------------------------------------------------------------
# Read models for other contexts (contract)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SkuInfo:
    sku: str
    product_id: int
    variant_id: int
    name: str
    status: str  # draft | active | archived
    category: str | None  # category code
    brand: str | None  # brand code
    seller_id: int | None
    prices: dict[str, Decimal]  # currency -> amount
    attributes: dict


@dataclass
class ProductDocument:
    product_id: int
    status: str
    name: str
    description: str | None
    category: str | None
    category_path: list[str]
    brand: str | None
    seller_id: int | None
    default_locale: str
    translations: dict[str, dict[str, Any]]
    attributes: dict[str, Any]
    variants: list[dict[str, Any]]
    channels: list[str]
    updated_at: dt.datetime
    created_at: dt.datetime
    # Codes of the category and its ancestors, root first: a filter by a parent's code
    # ("home") must find products filed under its children ("kitchen").
    category_codes: list[str] = field(default_factory=list)


# One query for what checkout needs per SKU, prices included (a row per price currency).
_SKU_INFO = (sa.select(Variant.id, Variant.sku, Product.id, Product.name, Product.status, Product.seller_id,
                       Product.attributes, Category.code, Brand.code, VariantPrice.currency,
                       VariantPrice.amount_minor)
             .join(Product, Product.id == Variant.product_id)
             .outerjoin(Category, Category.id == Product.category_id)
             .outerjoin(Brand, Brand.id == Product.brand_id)
             .outerjoin(VariantPrice, VariantPrice.variant_id == Variant.id)
             .where(Variant.sku.in_(sa.bindparam("skus", expanding=True))))


def lookup_skus(uow: UnitOfWork, skus: Iterable[str]) -> dict[str, SkuInfo]:
    """SKU -> what orders, inventory and pricing need to know; unknown SKUs are absent.
    Checkout calls this on every order: a prebuilt Core statement, no ORM objects."""
    wanted = list(dict.fromkeys(s for s in skus if s))
    out: dict[str, SkuInfo] = {}
    conn = uow.session.connection()
    for start in range(0, len(wanted), 500):
        rows: dict[str, Any] = {}
        prices: dict[str, dict[str, Decimal]] = {}
        for r in conn.execute(_SKU_INFO, {"skus": wanted[start:start + 500]}):
            rows[r[1]] = r
            if r[9] is not None:
                prices.setdefault(r[1], {})[r[9]] = Money.from_minor(r[10], r[9]).amount
        for sku, (vid, _, pid, name, status, seller_id, attributes, cat, brand, _c, _a) in rows.items():
            out[sku] = SkuInfo(sku=sku, product_id=pid, variant_id=vid, name=name, status=status, category=cat,
                               brand=brand, seller_id=seller_id, prices=prices.get(sku, {}),
                               attributes=dict(attributes or {}))
    return out


def iter_product_documents(uow: UnitOfWork, *, batch_size: int = 1000,
                           product_ids: Iterable[int] | None = None) -> Iterator[ProductDocument]:
    """Every product (or the given ones) as a self-contained document, in id order, read in
    batches so a large catalog is never held in memory at once."""
    default_locale = uow.settings.default_locale
    categories = {c.id: c for c in uow.session.scalars(sa.select(Category))}
    wanted = sorted(set(product_ids)) if product_ids is not None else None
    after = 0
    while True:
        stmt = sa.select(Product).where(Product.id > after).order_by(Product.id).limit(batch_size)
        if wanted is not None:
            chunk = [i for i in wanted if i > after][:batch_size]
            if not chunk:
                return
            stmt = sa.select(Product).where(Product.id.in_(chunk)).order_by(Product.id)
        products = list(uow.session.scalars(stmt))
        if not products:
            return
        for p in products:
            yield _document(p, categories, default_locale)
        after = products[-1].id
        if wanted is None and len(products) < batch_size:
            return


def _document(p: Product, categories: dict[int, Category], default_locale: str) -> ProductDocument:
    path: list[str] = []
    codes: list[str] = []
    cid = p.category_id
    while cid is not None and cid in categories and len(path) < 50:
        path.insert(0, categories[cid].name)
        codes.insert(0, categories[cid].code)
        cid = categories[cid].parent_id
    return ProductDocument(
        product_id=p.id, status=p.status, name=p.name, description=p.description,
        category=categories[p.category_id].code if p.category_id in categories else None, category_path=path,
        brand=p.brand.name if p.brand else None, seller_id=p.seller_id, default_locale=default_locale,
        translations={loc: {"name": t.get("name"), "description": t.get("description"),
                            "attributes": dict(t.get("attributes") or {})}
                      for loc, t in (p.translations or {}).items()},
        attributes=dict(p.attributes or {}),
        variants=[{"variant_id": v.id, "sku": v.sku, "ean": v.ean, "options": dict(v.options or {}),
                   "prices": {pr.currency: Money.from_minor(pr.amount_minor, pr.currency).amount for pr in v.prices}}
                  for v in p.variants],
        channels=sorted(pc.channel.code for pc in p.publications),
        updated_at=p.updated_at, created_at=p.created_at, category_codes=codes,
    )


# --------------------------------------------------------------------------------------------
# Reference data caches (one per unit of work or import run)
# --------------------------------------------------------------------------------------------


@dataclass
class Refs:
    """Codes resolved to rows, cached for the duration of one operation (an import of
    thousands of rows resolves each category once)."""

    uow: UnitOfWork
    settings: Settings
    categories: dict[str, Category | None] = field(default_factory=dict)
    brands: dict[str, Brand | None] = field(default_factory=dict)
    attributes: dict[str, Attribute] | None = None
    channels: dict[str, Channel] | None = None
    sellers: dict[int, bool] = field(default_factory=dict)

    def category(self, code: str) -> Category | None:
        if code not in self.categories:
            self.categories[code] = self.uow.session.scalar(sa.select(Category).where(Category.code == code))
        return self.categories[code]

    def brand(self, code: str) -> Brand | None:
        if code not in self.brands:
            self.brands[code] = self.uow.session.scalar(sa.select(Brand).where(Brand.code == code))
        return self.brands[code]

    def attribute_map(self) -> dict[str, Attribute]:
        if self.attributes is None:
            self.attributes = {a.code: a for a in self.uow.session.scalars(sa.select(Attribute))}
        return self.attributes

    def channel_map(self) -> dict[str, Channel]:
        if self.channels is None:
            self.channels = {c.code: c for c in self.uow.session.scalars(sa.select(Channel))}
        return self.channels

    def seller_exists(self, seller_id: int) -> bool:
        if seller_id not in self.sellers:
            from merx.marketplace import public as marketplace

            self.sellers[seller_id] = marketplace.get_seller(self.uow, seller_id) is not None
        return self.sellers[seller_id]


def ensure_default_channels(uow: UnitOfWork, settings: Settings | None = None) -> dict[str, Channel]:
    s = (settings or uow.settings)
    existing = {c.code: c for c in uow.session.scalars(sa.select(Channel))}
    for spec in DEFAULT_CHANNELS:
        if spec["code"] not in existing:
            ch = Channel(code=spec["code"], name=spec["name"], locales=[s.default_locale], currency=None,
                         requires_media=spec["requires_media"])
            uow.session.add(ch)
            existing[ch.code] = ch
    uow.session.flush()
    return existing


# --------------------------------------------------------------------------------------------
# Product state: validation and comparison
# --------------------------------------------------------------------------------------------


def _money_minor(m: MoneyIn) -> tuple[str, int]:
    money = m.to_money()
    return money.currency, money.minor


def _prices_from(price: MoneyIn | None, prices: list[MoneyIn] | None, field_name: str) -> dict[str, int] | None:
    """`price` and `prices` together: one amount per currency, duplicates refused."""
    if price is None and prices is None:
        return None
    out: dict[str, int] = {}
    items = ([(field_name[:-1] if field_name.endswith("s") else field_name, price)] if price is not None else [])
    items += [(f"{field_name}.{i}", p) for i, p in enumerate(prices or [])]
    for where, m in items:
        cur, minor = _money_minor(m)
        if cur in out and out[cur] != minor:
            raise ValidationProblem.for_field(where, f"two different {cur} prices given")
        out[cur] = minor
    return out


def _variant_state(v: VariantIn, fallback_prices: dict[str, int] | None, where: str) -> dict[str, Any]:
    prices = _prices_from(v.price, v.prices, f"{where}.prices")
    return {"sku": v.sku, "ean": v.ean, "options": dict(v.options),
            "prices": prices if prices is not None else dict(fallback_prices or {})}


def state_of(p: Product) -> dict[str, Any]:
    return {
        "name": p.name,
        "description": p.description,
        "status": p.status,
        "category": p.category.code if p.category else None,
        "brand": p.brand.code if p.brand else None,
        "seller_id": p.seller_id,
        "attributes": dict(p.attributes or {}),
        "translations": copy.deepcopy(p.translations or {}),
        "media": list(p.media or []),
        "variants": [{"sku": v.sku, "ean": v.ean, "options": dict(v.options or {}),
                      "prices": {pr.currency: pr.amount_minor for pr in v.prices}} for v in p.variants],
        "channels": sorted(pc.channel.code for pc in p.publications),
    }


def _state_for_create(data: ProductCreate) -> dict[str, Any]:
    prices = _prices_from(data.price, data.prices, "prices") or {}
    variants: list[dict[str, Any]] = []
    if data.sku is not None:
        variants.append({"sku": data.sku, "ean": data.ean, "options": {}, "prices": dict(prices)})
    elif data.ean is not None:
        raise ValidationProblem.for_field("ean", "give the product a sku (or put the EAN on a variant)")
    for i, v in enumerate(data.variants or []):
        variants.append(_variant_state(v, prices, f"variants.{i}"))
    if not variants:
        raise ValidationProblem.for_field("sku", "a product needs a sku or at least one variant")
    return {
        "name": data.name, "description": data.description, "status": data.status, "category": data.category,
        "brand": data.brand, "seller_id": data.seller_id, "attributes": dict(data.attributes),
        "translations": {loc: t.model_dump(exclude_none=True) for loc, t in data.translations.items()},
        "media": list(data.media), "variants": variants,
        "channels": sorted(set(data.channels if data.channels is not None else DEFAULT_PUBLICATION)),
    }


def _state_after_patch(old: dict[str, Any], patch: ProductPatch) -> dict[str, Any]:
    new = copy.deepcopy(old)
    sent = patch.model_fields_set
    for name in ("name", "description", "status", "category", "brand", "seller_id", "media"):
        if name in sent:
            if name in ("name", "status") and getattr(patch, name) is None:
                raise ValidationProblem.for_field(name, "may not be null")
            new[name] = getattr(patch, name)
    if "channels" in sent:
        new["channels"] = sorted(set(patch.channels or []))
    if "attributes" in sent and patch.attributes is not None:
        merged = dict(new["attributes"])
        for code, value in patch.attributes.items():
            if value is None:
                merged.pop(code, None)
            else:
                merged[code] = value
        new["attributes"] = merged
    if "translations" in sent and patch.translations is not None:
        merged_tr = copy.deepcopy(new["translations"])
        for loc, t in patch.translations.items():
            if t is None:
                merged_tr.pop(loc, None)
                continue
            current = dict(merged_tr.get(loc) or {})
            for key in ("name", "description"):
                if key in t.model_fields_set:
                    value = getattr(t, key)
                    if value is None or value == "":
                        current.pop(key, None)
                    else:
                        current[key] = value
            if "attributes" in t.model_fields_set:
                attrs = dict(current.get("attributes") or {})
                for code, value in t.attributes.items():
                    if value is None:
                        attrs.pop(code, None)
                    else:
                        attrs[code] = value
                current["attributes"] = attrs
            merged_tr[loc] = current
        new["translations"] = merged_tr
    default_prices = dict(new["variants"][0]["prices"]) if new["variants"] else {}
    if "variants" in sent and patch.variants is not None:
        by_sku = {v["sku"]: v for v in new["variants"]}
        variants = []
        for i, v in enumerate(patch.variants):
            prev = by_sku.get(v.sku)
            state = _variant_state(v, prev["prices"] if prev else default_prices, f"variants.{i}")
            if prev and "ean" not in v.model_fields_set:
                state["ean"] = prev["ean"]
            if prev and "options" not in v.model_fields_set:
                state["options"] = prev["options"]
            variants.append(state)
        if not variants:
            raise ValidationProblem.for_field("variants", "a product keeps at least one variant")
        new["variants"] = variants
    if {"sku", "ean", "price", "prices"} & sent:
        first = new["variants"][0]
        if "sku" in sent:
            if patch.sku is None:
                raise ValidationProblem.for_field("sku", "may not be null")
            first["sku"] = patch.sku
        if "ean" in sent:
            first["ean"] = patch.ean
        if "prices" in sent:
            first["prices"] = _prices_from(patch.price, patch.prices, "prices") or {}
        elif "price" in sent:
            if patch.price is None:
                raise ValidationProblem.for_field("price", "may not be null; send prices: [] to remove all prices")
            cur, minor = _money_minor(patch.price)
            first["prices"] = {**first["prices"], cur: minor}
    return new


def _validate_state(refs: Refs, state: dict[str, Any], *, product_id: int | None) -> None:
    """Everything that needs the database or settings: codes exist, attribute values fit
    their types, locales are supported, SKUs are free. Raises a ValidationProblem naming
    the first field that is wrong (all attribute errors at once)."""
    s = refs.settings
    if state["category"] is not None and refs.category(state["category"]) is None:
        raise ValidationProblem.for_field("category", f"no category with code {state['category']!r}")
    if state["brand"] is not None and refs.brand(state["brand"]) is None:
        raise ValidationProblem.for_field("brand", f"no brand with code {state['brand']!r}")
    if state["seller_id"] is not None and not refs.seller_exists(state["seller_id"]):
        raise ValidationProblem.for_field("seller_id", f"no seller with id {state['seller_id']}")
    attrs = refs.attribute_map()
    errors: list[FieldError] = []
    normalized: dict[str, Any] = {}
    for code, value in state["attributes"].items():
        attr = attrs.get(code)
        if attr is None:
            errors.append(FieldError(f"attributes.{code}", f"no attribute with code {code!r}", "unknown_attribute"))
            continue
        try:
            normalized[code] = rules.normalize_attribute_value(attr.type, value, options=attr.options)
        except rules.RuleError as e:
            errors.append(FieldError(f"attributes.{code}", f"{attr.type} attribute: {e}", "wrong_type"))
    translations: dict[str, Any] = {}
    for loc, tr in state["translations"].items():
        if loc not in s.locales:
            errors.append(FieldError(f"translations.{loc}", f"unknown locale {loc!r}; supported: "
                                     + ", ".join(s.locales), "unknown_locale"))
            continue
        if loc == s.default_locale:
            errors.append(FieldError(f"translations.{loc}", f"{loc} is the default locale: set name, description "
                                     "and attributes on the product itself", "default_locale"))
            continue
        tr_attrs: dict[str, Any] = {}
        for code, value in (tr.get("attributes") or {}).items():
            attr = attrs.get(code)
            where = f"translations.{loc}.attributes.{code}"
            if attr is None:
                errors.append(FieldError(where, f"no attribute with code {code!r}", "unknown_attribute"))
            elif not attr.localizable:
                errors.append(FieldError(where, "this attribute is not localizable", "not_localizable"))
            else:
                try:
                    tr_attrs[code] = rules.normalize_attribute_value(attr.type, value, options=attr.options)
                except rules.RuleError as e:
                    errors.append(FieldError(where, f"{attr.type} attribute: {e}", "wrong_type"))
        clean = {k: v for k, v in tr.items() if k in ("name", "description") and v not in (None, "")}
        if tr_attrs:
            clean["attributes"] = tr_attrs
        if clean:
            translations[loc] = clean
    if errors:
        raise ValidationProblem("; ".join(f"{e.field}: {e.message}" for e in errors[:5]), errors=errors)
    state["attributes"] = normalized
    state["translations"] = translations

    seen: dict[str, str] = {}
    for i, v in enumerate(state["variants"]):
        where = "sku" if i == 0 else f"variants.{i}.sku"
        if not v["sku"] or len(v["sku"]) > 100 or any(ch in v["sku"] for ch in "\r\n\t"):
            raise ValidationProblem.for_field(where, "must be 1-100 characters without tabs or line breaks")
        if v["sku"] in seen:
            raise ValidationProblem.for_field(where, f"SKU {v['sku']!r} is given twice")
        seen[v["sku"]] = where
        if v["ean"] is not None and not rules.ean_is_valid(v["ean"]):
            raise ValidationProblem.for_field("ean" if i == 0 else f"variants.{i}.ean",
                                              "is not a valid EAN/GTIN (8, 12, 13 or 14 digits with a check digit)")
    taken = uow_skus_taken(refs.uow, list(seen), product_id)
    if taken:
        sku = taken[0]
        raise Conflict(f"SKU {sku!r} is already used by another product", type_slug="duplicate-sku",
                       errors=[FieldError(seen[sku], f"SKU {sku!r} already exists", "duplicate")])
    channels = refs.channel_map()
    if state["channels"] and any(c not in channels for c in state["channels"]):
        refs.channels = ensure_default_channels(refs.uow, s)
        channels = refs.channels
    for i, code in enumerate(state["channels"]):
        if code not in channels:
            raise ValidationProblem.for_field(f"channels.{i}", f"no channel with code {code!r}")


def uow_skus_taken(uow: UnitOfWork, skus: list[str], product_id: int | None) -> list[str]:
    if not skus:
        return []
    stmt = sa.select(Variant.sku).where(Variant.sku.in_(skus))
    if product_id is not None:
        stmt = stmt.where(Variant.product_id != product_id)
    return sorted(uow.session.scalars(stmt))


# --------------------------------------------------------------------------------------------
# Writing a state
# --------------------------------------------------------------------------------------------


def _apply_state(refs: Refs, p: Product, state: dict[str, Any]) -> None:
    session = refs.uow.session
    p.name = state["name"]
    p.description = state["description"]
    p.status = state["status"]
    cat = refs.category(state["category"]) if state["category"] else None
    brand = refs.brand(state["brand"]) if state["brand"] else None
    p.category, p.category_id = cat, cat.id if cat else None
    p.brand, p.brand_id = brand, brand.id if brand else None
    p.seller_id = state["seller_id"]
    p.attributes = dict(state["attributes"])
    p.translations = copy.deepcopy(state["translations"])
    p.media = list(state["media"])
    p.updated_at = utcnow()

    existing = {v.sku: v for v in p.variants}
    wanted = {v["sku"] for v in state["variants"]}
    # SKU renames and removals first, so a SKU moving between variants never collides.
    for v in list(p.variants):
        if v.sku not in wanted:
            p.variants.remove(v)
    if len(existing) != len(p.variants):
        session.flush()
    for pos, vs in enumerate(state["variants"]):
        v = existing.get(vs["sku"])
        if v is None:
            v = Variant(sku=vs["sku"])
            p.variants.append(v)
        v.ean, v.options, v.position = vs["ean"], dict(vs["options"]), pos
        have = {pr.currency: pr for pr in v.prices}
        for cur, pr in list(have.items()):
            if cur not in vs["prices"]:
                v.prices.remove(pr)
        for cur, minor in vs["prices"].items():
            if cur in have:
                have[cur].amount_minor = minor
            else:
                v.prices.append(VariantPrice(currency=cur, amount_minor=minor))
    p.variants.sort(key=lambda v: v.position)

    channels = refs.channel_map()
    current = {pc.channel.code: pc for pc in p.publications}
    for code, pc in current.items():
        if code not in state["channels"]:
            p.publications.remove(pc)
    for code in state["channels"]:
        if code not in current:
            p.publications.append(ProductChannel(channel=channels[code], channel_id=channels[code].id))


def _audit_state(state: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(state)
    for v in out["variants"]:
        v["prices"] = {c: minor_to_str(m, c) for c, m in v["prices"].items()}
    return out


def _flush(uow: UnitOfWork) -> None:
    try:
        uow.session.flush()
    except IntegrityError as e:  # a concurrent writer took the SKU between our check and insert
        raise Conflict("A SKU in this product was taken by a concurrent write; retry",
                       type_slug="duplicate-sku", errors=[FieldError("sku", "already exists", "duplicate")]) from e


def _check_seller_scope(actor: Principal, state: dict[str, Any], *, creating: bool, owner: int | None) -> None:
    if actor.role != Role.seller:
        return
    if creating:
        if state["seller_id"] not in (None, actor.seller_id):
            raise Forbidden("A seller creates products for itself only",
                            errors=[FieldError("seller_id", "must be your own seller id", "forbidden")])
        state["seller_id"] = actor.seller_id
    elif state["seller_id"] != owner:
        raise Forbidden("A seller cannot hand a product to another seller",
                        errors=[FieldError("seller_id", "may not be changed by a seller", "forbidden")])


def _create_from_state(refs: Refs, state: dict[str, Any]) -> Product:
    uow = refs.uow
    _check_seller_scope(uow.actor, state, creating=True, owner=None)
    _validate_state(refs, state, product_id=None)
    p = Product(status=state["status"], name=state["name"], version=1, attributes={}, translations={}, media=[])
    p.variants = []
    p.publications = []
    uow.session.add(p)
    _apply_state(refs, p, state)
    p.created_at = p.updated_at
    _flush(uow)
    uow.emit(ProductCreated(**_event_payload(p, state)), version=p.version)
    uow.audit("create", "product", p.id, after=_audit_state(state))
    return p


def _update_from_state(refs: Refs, p: Product, old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Writes `new` when it differs from `old`; returns whether anything changed."""
    uow = refs.uow
    _check_seller_scope(uow.actor, new, creating=False, owner=p.seller_id)
    _validate_state(refs, new, product_id=p.id)
    if new == old:
        return False
    _apply_state(refs, p, new)
    p.version += 1
    _flush(uow)
    changed = sorted(k for k in new if new[k] != old[k])
    uow.emit(ProductUpdated(**_event_payload(p, new), changed=changed), version=p.version)
    old_prices = {v["sku"]: v["prices"] for v in old["variants"]}
    for v in new["variants"]:
        before = old_prices.get(v["sku"], {})
        for cur in sorted(set(before) | set(v["prices"])):
            if before.get(cur) != v["prices"].get(cur) and (v["sku"] in old_prices):
                uow.emit(ProductPriceChanged(
                    product_id=p.id, sku=v["sku"], currency=cur,
                    old_amount=minor_to_str(before[cur], cur) if cur in before else None,
                    new_amount=minor_to_str(v["prices"][cur], cur) if cur in v["prices"] else None,
                ), version=p.version)
    if new["status"] == "archived" and old["status"] != "archived":
        uow.emit(ProductArchived(product_id=p.id, skus=[v["sku"] for v in new["variants"]]), version=p.version)
    uow.audit("update", "product", p.id, before=_audit_state(old), after=_audit_state(new))
    return True


def _event_payload(p: Product, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "product_id": p.id, "sku": state["variants"][0]["sku"], "skus": [v["sku"] for v in state["variants"]],
        "name": state["name"], "status": state["status"], "category": state["category"], "brand": state["brand"],
        "seller_id": state["seller_id"], "channels": state["channels"],
        "prices": {v["sku"]: {c: minor_to_str(m, c) for c, m in v["prices"].items()} for v in state["variants"]},
    }


# --------------------------------------------------------------------------------------------
# Product use cases
# --------------------------------------------------------------------------------------------


def create_product(uow: UnitOfWork, data: ProductCreate, *, settings: Settings | None = None,
                   locale: str | None = None) -> ProductOut:
    s = (settings or uow.settings)
    refs = Refs(uow, s)
    p = _create_from_state(refs, _state_for_create(data))
    uow.commit()
    return to_out(p, locale or s.default_locale, s)


def bulk_create_products(uow: UnitOfWork, items: Iterable[ProductCreate], *, settings: Settings | None = None,
                         commit: bool = True) -> list[int]:
    """Creates many products in one transaction (demo data, seeding); any invalid item
    aborts the whole batch with its problem."""
    refs = Refs(uow, (settings or uow.settings))
    ids = []
    for i, item in enumerate(items):
        try:
            ids.append(_create_from_state(refs, _state_for_create(item)).id)
        except Problem as e:
            e.detail = f"item {i}: {e.detail}"
            raise
    if commit:
        uow.commit()
    return ids


def _load(uow: UnitOfWork, product_id: int) -> Product:
    p = uow.session.get(Product, product_id)
    if p is None:
        raise NotFound(f"Product {product_id} does not exist")
    return p


def _can_read(actor: Principal, p: Product) -> bool:
    if actor.role in READ_ALL_ROLES:
        return True
    if actor.role == Role.seller and p.seller_id == actor.seller_id:
        return True
    return p.status == "active"


def _writable(uow: UnitOfWork, product_id: int) -> Product:
    p = uow.session.get(Product, product_id)
    actor = uow.actor
    # A seller gets the same answer for another seller's product as for a missing one.
    if p is None or (actor.role == Role.seller and p.seller_id != actor.seller_id):
        raise NotFound(f"Product {product_id} does not exist")
    return p


def get_product(uow: UnitOfWork, product_id: int, *, locale: str | None = None,
                settings: Settings | None = None) -> ProductOut:
    s = (settings or uow.settings)
    p = uow.session.get(Product, product_id)
    if p is None or not _can_read(uow.actor, p):
        raise NotFound(f"Product {product_id} does not exist")
    return to_out(p, locale or s.default_locale, s)


def get_product_by_sku(uow: UnitOfWork, sku: str, *, locale: str | None = None,
                       settings: Settings | None = None) -> ProductOut:
    pid = uow.session.scalar(sa.select(Variant.product_id).where(Variant.sku == sku))
    if pid is None:
        raise NotFound(f"No product has SKU {sku!r}")
    return get_product(uow, pid, locale=locale, settings=settings)


def _check_version(p: Product, expected: int | None, *, header: bool) -> None:
    if expected is not None and expected != p.version:
        if header:
            raise PreconditionFailed(f"Product {p.id} is at version {p.version}, not {expected}",
                                     errors=[FieldError("If-Match", f"current version is {p.version}", "stale")])
        raise Conflict(f"Product {p.id} is at version {p.version}, not {expected}", type_slug="stale-version",
                       errors=[FieldError("version", f"current version is {p.version}", "stale")])


def update_product(uow: UnitOfWork, product_id: int, data: ProductPatch, *, if_match: int | None = None,
                   settings: Settings | None = None, locale: str | None = None) -> ProductOut:
    s = (settings or uow.settings)
    p = _writable(uow, product_id)
    _check_version(p, if_match, header=True)
    _check_version(p, data.version, header=False)
    old = state_of(p)
    new = _state_after_patch(old, data)
    if _update_from_state(Refs(uow, s), p, old, new):
        uow.commit()
    return to_out(p, locale or s.default_locale, s)


def archive_product(uow: UnitOfWork, product_id: int, *, settings: Settings | None = None) -> ProductOut:
    return update_product(uow, product_id, ProductPatch(status="archived"), settings=settings)


def delete_product(uow: UnitOfWork, product_id: int) -> None:
    """Removes a product for good (admin only, for mistakes); normal retirement is archiving."""
    p = _writable(uow, product_id)
    before = state_of(p)
    skus = [v["sku"] for v in before["variants"]]
    uow.session.delete(p)
    uow.session.flush()
    uow.emit(ProductDeleted(product_id=product_id, skus=skus), version=p.version + 1)
    uow.audit("delete", "product", product_id, before=_audit_state(before))
    uow.commit()


def list_products_stmt(uow: UnitOfWork, *, category: str | None = None, brand: str | None = None,
                       status: str | None = None, seller_id: int | None = None, q: str | None = None,
                       sku: str | None = None, channel: str | None = None) -> sa.Select[Any]:
    actor = uow.actor
    stmt = sa.select(Product)
    if actor.role == Role.seller:
        stmt = stmt.where(Product.seller_id == actor.seller_id)
    elif actor.role not in READ_ALL_ROLES:
        if status not in (None, "active"):
            raise ValidationProblem.for_field("status", "only active products are public")
        stmt = stmt.where(Product.status == "active")
    if status is not None:
        if status not in rules.PRODUCT_STATUSES:
            raise ValidationProblem.for_field("status", "must be draft, active or archived")
        stmt = stmt.where(Product.status == status)
    if category is not None:
        ids = category_subtree_ids(uow, category)
        if ids is None:
            raise ValidationProblem.for_field("category", f"no category with code {category!r}")
        stmt = stmt.where(Product.category_id.in_(ids))
    if brand is not None:
        stmt = stmt.where(Product.brand_id == sa.select(Brand.id).where(Brand.code == brand).scalar_subquery())
    if seller_id is not None:
        stmt = stmt.where(Product.seller_id == seller_id)
    if q:
        stmt = stmt.where(sa.func.lower(Product.name).contains(q.lower(), autoescape=True))
    if sku is not None:
        stmt = stmt.where(Product.id.in_(sa.select(Variant.product_id).where(Variant.sku == sku)))
    if channel is not None:
        stmt = stmt.where(Product.id.in_(
            sa.select(ProductChannel.product_id).join(Channel, Channel.id == ProductChannel.channel_id)
            .where(Channel.code == channel)))
    return stmt


def list_products(uow: UnitOfWork, *, limit: int | None, cursor: str | None, locale: str, settings: Settings,
                  **filters: Any) -> Page[ProductOut]:
    """One page of `list_products_stmt(uow, **filters)` (the caller's scope applied), oldest first."""
    items, nxt = paginate(uow.session, list_products_stmt(uow, **filters), Product.id,
                          limit=check_limit(limit, settings.page_size_default, settings.page_size_max),
                          cursor=cursor, convert=lambda p: to_out(p, locale, settings))
    return Page[ProductOut](items=items, next_cursor=nxt)


def category_subtree_ids(uow: UnitOfWork, code: str) -> list[int] | None:
    rows = uow.session.execute(sa.select(Category.id, Category.code, Category.parent_id)).all()
    root = next((r.id for r in rows if r.code == code), None)
    if root is None:
        return None
    children: dict[int | None, list[int]] = {}
    for r in rows:
        children.setdefault(r.parent_id, []).append(r.id)
    out, todo = [], [root]
    while todo:
        cid = todo.pop()
        if cid in out:
            continue
        out.append(cid)
        todo.extend(children.get(cid, []))
    return out


def to_out(p: Product, locale: str, settings: Settings | None = None) -> ProductOut:
    s = settings or get_settings()
    dl = s.default_locale
    first = p.variants[0] if p.variants else None
    prices = [MoneyOut.of(Money.from_minor(pr.amount_minor, pr.currency)) for pr in first.prices] if first else []
    main = next((m for m in prices if m.currency == s.default_currency), prices[0] if prices else None)
    return ProductOut(
        id=p.id, sku=first.sku if first else "", locale=locale, status=p.status,
        name=rules.localized(p.translations, locale, dl, "name", p.name),
        description=rules.localized(p.translations, locale, dl, "description", p.description),
        category=p.category.code if p.category else None, brand=p.brand.code if p.brand else None,
        seller_id=p.seller_id, price=main, prices=prices,
        attributes=rules.localized_attributes(p.attributes, p.translations, locale, dl),
        translations=copy.deepcopy(p.translations or {}),
        variants=[VariantOut(id=v.id, sku=v.sku, ean=v.ean, options=dict(v.options or {}),
                             prices=[MoneyOut.of(Money.from_minor(pr.amount_minor, pr.currency)) for pr in v.prices])
                  for v in p.variants],
        media=list(p.media or []), channels=sorted(pc.channel.code for pc in p.publications), version=p.version,
        created_at=p.created_at, updated_at=p.updated_at,
    )


def readable_product(uow: UnitOfWork, product_id: int) -> Product:
    p = uow.session.get(Product, product_id)
    if p is None or not _can_read(uow.actor, p):
        raise NotFound(f"Product {product_id} does not exist")
    return p


# --------------------------------------------------------------------------------------------
# Completeness
# --------------------------------------------------------------------------------------------


def effective_attribute_set(uow: UnitOfWork, category: Category | None) -> AttributeSet | None:
    """A category without its own set inherits its nearest ancestor's."""
    seen = set()
    while category is not None and category.id not in seen:
        seen.add(category.id)
        if category.attribute_set_id is not None:
            return uow.session.get(AttributeSet, category.attribute_set_id)
        category = uow.session.get(Category, category.parent_id) if category.parent_id else None
    return None


def product_completeness(uow: UnitOfWork, product_id: int, *, channel: str | None = None,
                         locale: str | None = None, settings: Settings | None = None) -> list[CompletenessOut]:
    s = (settings or uow.settings)
    p = readable_product(uow, product_id)
    channels = {c.code: c for c in uow.session.scalars(sa.select(Channel).order_by(Channel.id))}
    if not channels:
        channels = {spec["code"]: Channel(code=spec["code"], name=spec["name"], locales=[s.default_locale],
                                          currency=None, requires_media=spec["requires_media"])
                    for spec in DEFAULT_CHANNELS}
    if channel is not None:
        if channel not in channels:
            raise ValidationProblem.for_field("channel", f"no channel with code {channel!r}")
        channels = {channel: channels[channel]}
    if locale is not None and locale not in s.locales:
        raise ValidationProblem.for_field("locale", f"unknown locale {locale!r}")
    aset = effective_attribute_set(uow, p.category)
    required = [rules.RequiredAttribute(i.attribute.code, i.attribute.localizable)
                for i in (aset.items if aset else []) if i.required]
    prices = {pr.currency for pr in p.variants[0].prices} if p.variants else set()
    out = []
    for ch in channels.values():
        for loc in ([locale] if locale else (ch.locales or [s.default_locale])):
            c = rules.completeness(channel=ch.code, locale=loc, default_locale=s.default_locale, name=p.name,
                                   description=p.description, attributes=p.attributes, translations=p.translations,
                                   required_attributes=required, media=p.media, requires_media=ch.requires_media,
                                   prices=prices, currency=ch.currency)
            out.append(CompletenessOut(channel=c.channel, locale=c.locale, required=c.required, missing=c.missing,
                                       percent=c.percent))
    return out


# --------------------------------------------------------------------------------------------
# Categories, brands, attributes, attribute sets, channels
# --------------------------------------------------------------------------------------------


def _check_code(code: str) -> None:
    try:
        rules.check_code(code)
    except rules.RuleError as e:
        raise ValidationProblem.for_field("code", str(e)) from None


def _check_locales(s: Settings, translations: dict[str, Any], field_name: str = "translations") -> None:
    for loc in translations:
        if loc not in s.locales:
            raise ValidationProblem.for_field(f"{field_name}.{loc}", f"unknown locale {loc!r}")


def _category_out(uow: UnitOfWork, c: Category) -> CategoryOut:
    path, cur, seen = [], c, set()
    while cur is not None and cur.id not in seen:
        seen.add(cur.id)
        path.insert(0, cur.code)
        cur = uow.session.get(Category, cur.parent_id) if cur.parent_id else None
    own = uow.session.get(AttributeSet, c.attribute_set_id) if c.attribute_set_id else None
    eff = effective_attribute_set(uow, c)
    parent = uow.session.get(Category, c.parent_id) if c.parent_id else None
    return CategoryOut(id=c.id, code=c.code, name=c.name, parent=parent.code if parent else None, path=path,
                       attribute_set=own.code if own else None, effective_attribute_set=eff.code if eff else None,
                       translations=dict(c.translations or {}))


def _category_snapshot(uow: UnitOfWork, c: Category) -> dict[str, Any]:
    return _category_out(uow, c).model_dump(exclude={"path", "effective_attribute_set"})


def create_category(uow: UnitOfWork, data: CategoryCreate, *, settings: Settings | None = None) -> CategoryOut:
    s = (settings or uow.settings)
    _check_code(data.code)
    if uow.session.scalar(sa.select(Category.id).where(Category.code == data.code)) is not None:
        raise Conflict(f"A category with code {data.code!r} exists", type_slug="duplicate",
                       errors=[FieldError("code", "already exists", "duplicate")])
    _check_locales(s, data.translations)
    c = Category(code=data.code, name=data.name, translations=dict(data.translations))
    _set_category_refs(uow, c, data.parent, data.attribute_set, {"parent", "attribute_set"})
    uow.session.add(c)
    uow.session.flush()
    out = _category_out(uow, c)
    uow.audit("create", "category", c.id, after=_category_snapshot(uow, c))
    uow.commit()
    return out


def _set_category_refs(uow: UnitOfWork, c: Category, parent: str | None, attribute_set: str | None,
                       sent: set[str]) -> None:
    if "parent" in sent:
        if parent is None:
            c.parent_id = None
        else:
            pc = uow.session.scalar(sa.select(Category).where(Category.code == parent))
            if pc is None:
                raise ValidationProblem.for_field("parent", f"no category with code {parent!r}")
            cur: Category | None = pc
            while cur is not None:  # refuse cycles: the new parent may not sit under this category
                if c.id is not None and cur.id == c.id:
                    raise ValidationProblem.for_field("parent", "a category cannot be moved under itself")
                cur = uow.session.get(Category, cur.parent_id) if cur.parent_id else None
            c.parent_id = pc.id
    if "attribute_set" in sent:
        if attribute_set is None:
            c.attribute_set_id = None
        else:
            aset = uow.session.scalar(sa.select(AttributeSet).where(AttributeSet.code == attribute_set))
            if aset is None:
                raise ValidationProblem.for_field("attribute_set", f"no attribute set with code {attribute_set!r}")
            c.attribute_set_id = aset.id


def _category_by_code(uow: UnitOfWork, code: str) -> Category:
    c = uow.session.scalar(sa.select(Category).where(Category.code == code))
    if c is None:
        raise NotFound(f"No category with code {code!r}")
    return c


def update_category(uow: UnitOfWork, code: str, data: CategoryPatch, *, settings: Settings | None = None) -> CategoryOut:
    s = (settings or uow.settings)
    c = _category_by_code(uow, code)
    before = _category_snapshot(uow, c)
    sent = data.model_fields_set
    if "name" in sent and data.name is not None:
        c.name = data.name
    if "translations" in sent and data.translations is not None:
        _check_locales(s, data.translations)
        c.translations = dict(data.translations)
    _set_category_refs(uow, c, data.parent, data.attribute_set, sent)
    uow.session.flush()
    after = _category_snapshot(uow, c)
    if after != before:
        uow.audit("update", "category", c.id, before=before, after=after)
        uow.commit()
    return _category_out(uow, c)


def get_category(uow: UnitOfWork, code: str) -> CategoryOut:
    return _category_out(uow, _category_by_code(uow, code))


def list_categories(uow: UnitOfWork, *, locale: str | None = None, settings: Settings | None = None) -> list[CategoryOut]:
    s = (settings or uow.settings)
    out = []
    for c in uow.session.scalars(sa.select(Category).order_by(Category.id)):
        item = _category_out(uow, c)
        if locale and locale != s.default_locale:
            item.name = (c.translations or {}).get(locale) or c.name
        out.append(item)
    return out


def create_brand(uow: UnitOfWork, data: BrandCreate) -> BrandOut:
    _check_code(data.code)
    if uow.session.scalar(sa.select(Brand.id).where(Brand.code == data.code)) is not None:
        raise Conflict(f"A brand with code {data.code!r} exists", type_slug="duplicate",
                       errors=[FieldError("code", "already exists", "duplicate")])
    b = Brand(code=data.code, name=data.name)
    uow.session.add(b)
    uow.session.flush()
    uow.audit("create", "brand", b.id, after={"code": b.code, "name": b.name})
    uow.commit()
    return BrandOut(id=b.id, code=b.code, name=b.name)


def list_brands(uow: UnitOfWork) -> list[BrandOut]:
    return [BrandOut(id=b.id, code=b.code, name=b.name) for b in uow.session.scalars(sa.select(Brand).order_by(Brand.id))]


def _attribute_out(a: Attribute) -> AttributeOut:
    return AttributeOut(id=a.id, code=a.code, name=a.name, type=a.type, unit=a.unit, options=a.options,
                        localizable=a.localizable)


def create_attribute(uow: UnitOfWork, data: AttributeCreate) -> AttributeOut:
    _check_code(data.code)
    if uow.session.scalar(sa.select(Attribute.id).where(Attribute.code == data.code)) is not None:
        raise Conflict(f"An attribute with code {data.code!r} exists", type_slug="duplicate",
                       errors=[FieldError("code", "already exists", "duplicate")])
    if data.type == "enum":
        if not data.options:
            raise ValidationProblem.for_field("options", "an enum attribute needs its allowed options")
        if len(set(data.options)) != len(data.options):
            raise ValidationProblem.for_field("options", "options must be distinct")
    elif data.options is not None:
        raise ValidationProblem.for_field("options", "only enum attributes have options")
    if data.unit is not None and data.type != "number":
        raise ValidationProblem.for_field("unit", "only number attributes have a unit")
    a = Attribute(code=data.code, name=data.name, type=data.type, unit=data.unit, options=data.options,
                  localizable=data.localizable)
    uow.session.add(a)
    uow.session.flush()
    out = _attribute_out(a)
    uow.audit("create", "attribute", a.id, after=out.model_dump())
    uow.commit()
    return out


def list_attributes(uow: UnitOfWork) -> list[AttributeOut]:
    return [_attribute_out(a) for a in uow.session.scalars(sa.select(Attribute).order_by(Attribute.id))]


def _attribute_set_out(aset: AttributeSet) -> AttributeSetOut:
    return AttributeSetOut(id=aset.id, code=aset.code, name=aset.name,
                           attributes=[AttributeSetItemOut(attribute=i.attribute.code, required=i.required)
                                       for i in aset.items])


def create_attribute_set(uow: UnitOfWork, data: AttributeSetCreate) -> AttributeSetOut:
    _check_code(data.code)
    if uow.session.scalar(sa.select(AttributeSet.id).where(AttributeSet.code == data.code)) is not None:
        raise Conflict(f"An attribute set with code {data.code!r} exists", type_slug="duplicate",
                       errors=[FieldError("code", "already exists", "duplicate")])
    attrs = {a.code: a for a in uow.session.scalars(sa.select(Attribute))}
    aset = AttributeSet(code=data.code, name=data.name)
    seen = set()
    for i, item in enumerate(data.attributes):
        if item.attribute not in attrs:
            raise ValidationProblem.for_field(f"attributes.{i}.attribute", f"no attribute with code {item.attribute!r}")
        if item.attribute in seen:
            raise ValidationProblem.for_field(f"attributes.{i}.attribute", "listed twice")
        seen.add(item.attribute)
        aset.items.append(AttributeSetItem(attribute=attrs[item.attribute], required=item.required, position=i))
    uow.session.add(aset)
    uow.session.flush()
    out = _attribute_set_out(aset)
    uow.audit("create", "attribute_set", aset.id, after=out.model_dump())
    uow.commit()
    return out


def list_attribute_sets(uow: UnitOfWork) -> list[AttributeSetOut]:
    return [_attribute_set_out(a) for a in uow.session.scalars(sa.select(AttributeSet).order_by(AttributeSet.id))]


def _channel_out(c: Channel) -> ChannelOut:
    return ChannelOut(id=c.id, code=c.code, name=c.name, locales=list(c.locales or []), currency=c.currency,
                      requires_media=c.requires_media)


def list_channels(uow: UnitOfWork, *, settings: Settings | None = None) -> list[ChannelOut]:
    existing = list(uow.session.scalars(sa.select(Channel).order_by(Channel.id)))
    if not existing and not uow.readonly:
        ensure_default_channels(uow, settings)
        uow.commit()
        existing = list(uow.session.scalars(sa.select(Channel).order_by(Channel.id)))
    return [_channel_out(c) for c in existing]


def create_channel(uow: UnitOfWork, data: ChannelCreate, *, settings: Settings | None = None) -> ChannelOut:
    s = (settings or uow.settings)
    _check_code(data.code)
    ensure_default_channels(uow, s)
    if uow.session.scalar(sa.select(Channel.id).where(Channel.code == data.code)) is not None:
        raise Conflict(f"A channel with code {data.code!r} exists", type_slug="duplicate",
                       errors=[FieldError("code", "already exists", "duplicate")])
    for i, loc in enumerate(data.locales):
        if loc not in s.locales:
            raise ValidationProblem.for_field(f"locales.{i}", f"unknown locale {loc!r}")
    if data.currency is not None:
        try:
            check_currency(data.currency)
        except MoneyError as e:
            raise ValidationProblem.for_field("currency", str(e)) from None
    c = Channel(code=data.code, name=data.name, locales=list(data.locales or [s.default_locale]),
                currency=data.currency, requires_media=data.requires_media)
    uow.session.add(c)
    uow.session.flush()
    out = _channel_out(c)
    uow.audit("create", "channel", c.id, after=out.model_dump())
    uow.commit()
    return out


def channel_by_code(uow: UnitOfWork, code: str) -> Channel | None:
    return uow.session.scalar(sa.select(Channel).where(Channel.code == code))
