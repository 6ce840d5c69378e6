"""Product use cases: create (one or in bulk), read, list, update, archive, delete, and the
API shape of a product (`to_out`). Writes go through the product state (catalog/state.py)."""

from __future__ import annotations

import copy
from typing import Any, Iterable

import sqlalchemy as sa

from merx.catalog import early_access, rules
from merx.catalog.events import ProductDeleted
from merx.catalog.models import Brand, Category, Channel, Product, ProductChannel, Variant
from merx.catalog.refs import Refs
from merx.catalog.schemas import ProductCreate, ProductOut, ProductPatch, VariantOut
from merx.catalog.state import (_announce_created, _audit_state, _create_from_state, _flush, _stage_create,
                                _state_after_patch, _state_for_create, _update_from_state, state_of)
from merx.core.auth import Principal, Role
from merx.core.errors import Conflict, FieldError, NotFound, Problem, ValidationProblem
from merx.core.money import Money
from merx.core.pagination import check_limit, paginate
from merx.core.schemas import MoneyOut, Page
from merx.core.settings import Settings, get_settings
from merx.core.uow import UnitOfWork

READ_ALL_ROLES = frozenset({Role.admin, Role.staff, Role.sales_rep, Role.support_agent})


class PreconditionFailed(Problem):
    status = 412
    type_slug = "precondition-failed"
    title = "Precondition failed"



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
    aborts the whole batch with its problem. The products are written in one flush (a few
    multi-row INSERTs per table, not one round of them per product), then their events and
    audit entries follow in the items' order, as creating them one by one gives."""
    refs = Refs(uow, (settings or uow.settings))
    staged: list[tuple[Any, dict[str, Any]]] = []
    in_batch: dict[str, int] = {}  # SKU -> item: the database check cannot see unflushed products
    with uow.session.no_autoflush:
        for i, item in enumerate(items):
            try:
                state = _state_for_create(item)
                for v in state["variants"]:
                    if v["sku"] in in_batch:
                        raise Conflict(f"SKU {v['sku']!r} is also given by item {in_batch[v['sku']]}",
                                       type_slug="duplicate-sku",
                                       errors=[FieldError("sku", f"SKU {v['sku']!r} is given twice", "duplicate")])
                staged.append((_stage_create(refs, state), state))
                in_batch.update({v["sku"]: i for v in state["variants"]})
            except Problem as e:
                e.detail = f"item {i}: {e.detail}"
                raise
    _flush(uow)
    for p, state in staged:
        _announce_created(uow, p, state)
    if commit:
        uow.commit()
    return [p.id for p, _state in staged]


def _load(uow: UnitOfWork, product_id: int) -> Product:
    p = uow.session.get(Product, product_id)
    if p is None:
        raise NotFound(f"Product {product_id} does not exist")
    return p


def _can_read(uow: UnitOfWork, p: Product) -> bool:
    actor = uow.actor
    if actor.role in READ_ALL_ROLES:
        return True
    if actor.role == Role.seller and p.seller_id == actor.seller_id:
        return True
    # before its launch a product is its early-access segment's only (catalog/early_access.py)
    return p.status == "active" and early_access.may_see(uow, actor, p.launch_at, p.early_access_segment_id,
                                                         p.seller_id)


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
    if p is None or not _can_read(uow, p):
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
                   settings: Settings | None = None, locale: str | None = None, commit: bool = True) -> ProductOut:
    """`commit=False` leaves the transaction to the caller (a bulk change of many products is
    all or nothing)."""
    s = (settings or uow.settings)
    p = _writable(uow, product_id)
    _check_version(p, if_match, header=True)
    _check_version(p, data.version, header=False)
    old = state_of(p)
    new = _state_after_patch(old, data)
    if _update_from_state(Refs(uow, s), p, old, new) and commit:
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
        not_launched = early_access.visible_clause(uow)
        if not_launched is not None:
            stmt = stmt.where(not_launched)
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
        # A merchant types a name fragment or a SKU into the same box: a SKU matches exactly
        # (case-insensitive), so "LIG-00048" finds its product and nothing that merely contains it.
        stmt = stmt.where(sa.or_(
            sa.func.lower(Product.name).contains(q.lower(), autoescape=True),
            Product.id.in_(sa.select(Variant.product_id).where(sa.func.upper(Variant.sku) == q.strip().upper()))))
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
        launch_at=p.launch_at, early_access_segment=p.early_access_segment_id,
        early_access=early_access.prelaunch(p.launch_at),
        created_at=p.created_at, updated_at=p.updated_at,
    )


def readable_product(uow: UnitOfWork, product_id: int) -> Product:
    p = uow.session.get(Product, product_id)
    if p is None or not _can_read(uow, p):
        raise NotFound(f"Product {product_id} does not exist")
    return p
