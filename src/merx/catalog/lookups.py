"""Read models the catalog gives other contexts (a contract; see catalog/public.py): the
checkout SKU lookup `lookup_skus` (a hot path, its statement is built once at import) and the
product documents search indexes (`iter_product_documents`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Iterable, Iterator

import sqlalchemy as sa

from merx.catalog.models import Brand, Category, Product, Variant, VariantPrice
from merx.core.money import Money
from merx.core.uow import UnitOfWork


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
    # early access (catalog/early_access.py): checkout refuses a line before launch_at to
    # anyone outside the segment
    launch_at: dt.datetime | None = None
    early_access_segment: int | None = None


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
    # The category path in each translated locale ({"pl": ["Dom", "Meble"]}, root first; a
    # level without a translation keeps its default name): search indexes every language.
    category_path_translations: dict[str, list[str]] = field(default_factory=dict)
    media: list[str] = field(default_factory=list)  # image URLs, the main one first
    brand_aliases: list[str] = field(default_factory=list)  # other names shoppers type for the brand
    launch_at: dt.datetime | None = None  # early access: public from then on (catalog/early_access.py)
    early_access_segment: int | None = None


# One query for what checkout needs per SKU, prices included (a row per price currency).
_SKU_INFO = (sa.select(Variant.id, Variant.sku, Product.id, Product.name, Product.status, Product.seller_id,
                       Product.attributes, Category.code, Brand.code, VariantPrice.currency,
                       VariantPrice.amount_minor, Product.launch_at, Product.early_access_segment_id)
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
        for sku, (vid, _, pid, name, status, seller_id, attributes, cat, brand, _c, _a, launch_at,
                  segment) in rows.items():
            if launch_at is not None and launch_at.tzinfo is None:  # Core rows skip the column type on some drivers
                launch_at = launch_at.replace(tzinfo=dt.timezone.utc)
            out[sku] = SkuInfo(sku=sku, product_id=pid, variant_id=vid, name=name, status=status, category=cat,
                               brand=brand, seller_id=seller_id, prices=prices.get(sku, {}),
                               attributes=dict(attributes or {}), launch_at=launch_at, early_access_segment=segment)
    return out


def product_names(uow: UnitOfWork, skus: Iterable[str], locale: str | None = None) -> dict[str, str]:
    """SKU -> the product's name in `locale` (its translation), else its default name; unknown
    SKUs are absent. Reports name products with it, in the reader's language."""
    from merx.catalog.rules import localized

    wanted = list(dict.fromkeys(s for s in skus if s))
    default_locale = uow.settings.default_locale
    out: dict[str, str] = {}
    conn = uow.session.connection()
    for start in range(0, len(wanted), 500):
        stmt = (sa.select(Variant.sku, Product.name, Product.translations)
                .join(Product, Product.id == Variant.product_id)
                .where(Variant.sku.in_(wanted[start:start + 500])))
        for sku, name, translations in conn.execute(stmt):
            out[sku] = localized(translations, locale or default_locale, default_locale, "name", name)
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
    chain: list[Category] = []
    cid = p.category_id
    while cid is not None and cid in categories and len(path) < 50:
        path.insert(0, categories[cid].name)
        codes.insert(0, categories[cid].code)
        chain.insert(0, categories[cid])
        cid = categories[cid].parent_id
    def translated(c: Category, loc: str) -> str | None:
        t = (c.translations or {}).get(loc)  # {locale: name} (older rows: {locale: {"name": ...}})
        return (t.get("name") if isinstance(t, dict) else t) or None

    locales = {loc for c in chain for loc in (c.translations or {}) if translated(c, loc)}
    path_translations = {loc: [translated(c, loc) or c.name for c in chain] for loc in sorted(locales)}
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
        updated_at=p.updated_at, created_at=p.created_at, category_codes=codes, media=list(p.media or []),
        category_path_translations=path_translations,
        brand_aliases=list((p.brand.aliases or []) if p.brand else []),
        launch_at=p.launch_at, early_access_segment=p.early_access_segment_id,
    )


def product_categories(uow: UnitOfWork, product_ids: Iterable[int]) -> dict[int, tuple[str, str] | None]:
    """Product id -> (category code, category name), None for a product without a category;
    unknown ids are absent (support's feedback statistics by category)."""
    wanted = sorted({int(p) for p in product_ids if p})
    out: dict[int, tuple[str, str] | None] = {}
    for start in range(0, len(wanted), 500):
        rows = uow.session.execute(sa.select(Product.id, Category.code, Category.name)
                                   .outerjoin(Category, Category.id == Product.category_id)
                                   .where(Product.id.in_(wanted[start:start + 500])))
        for pid, code, name in rows:
            out[pid] = (code, name) if code else None
    return out
