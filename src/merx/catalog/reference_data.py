"""Use cases for the catalog's reference data: categories (with their tree and attribute
sets), brands, attributes, attribute sets and channels."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from merx.catalog import rules
from merx.catalog.completeness import effective_attribute_set
from merx.catalog.events import BrandUpdated
from merx.catalog.models import Attribute, AttributeSet, AttributeSetItem, Brand, Category, Channel, Product
from merx.catalog.refs import ensure_default_channels
from merx.catalog.schemas import (AttributeCreate, AttributeOut, AttributePatch, AttributeSetCreate, AttributeSetItemOut,
                                  AttributeSetOut, BrandCreate, BrandOut, BrandPatch, CategoryCreate, CategoryOut,
                                  CategoryPatch, ChannelCreate, ChannelOut)
from merx.core.errors import Conflict, FieldError, NotFound, ValidationProblem
from merx.core.money import MoneyError, check_currency
from merx.core.settings import Settings
from merx.core.uow import UnitOfWork


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
    b = Brand(code=data.code, name=data.name, aliases=_aliases(data.aliases))
    uow.session.add(b)
    uow.session.flush()
    uow.audit("create", "brand", b.id, after={"code": b.code, "name": b.name, "aliases": b.aliases})
    uow.commit()
    return _brand_out(b)


def update_brand(uow: UnitOfWork, code: str, data: BrandPatch) -> BrandOut:
    """Rename a brand or set its aliases; its products are re-indexed by search (BrandUpdated)."""
    b = uow.session.scalar(sa.select(Brand).where(Brand.code == code))
    if b is None:
        raise NotFound(f"No brand {code!r}")
    before = {"name": b.name, "aliases": list(b.aliases or [])}
    if data.name is not None:
        b.name = data.name
    if data.aliases is not None:
        b.aliases = _aliases(data.aliases)
    after = {"name": b.name, "aliases": list(b.aliases or [])}
    if after != before:
        product_ids = list(uow.session.scalars(sa.select(Product.id).where(Product.brand_id == b.id).order_by(Product.id)))
        uow.emit(BrandUpdated(brand_id=b.id, code=b.code, name=b.name, aliases=after["aliases"], product_ids=product_ids))
        uow.audit("update", "brand", b.id, before=before, after=after)
        uow.commit()
    return _brand_out(b)


def _aliases(values: list[str]) -> list[str]:
    """Trimmed, without blanks or repeats (case-insensitive), in the order given."""
    seen: set[str] = set()
    out: list[str] = []
    for v in values:
        v = " ".join(v.split())
        if v and v.casefold() not in seen:
            seen.add(v.casefold())
            out.append(v)
    return out


def _brand_out(b: Brand) -> BrandOut:
    return BrandOut(id=b.id, code=b.code, name=b.name, aliases=list(b.aliases or []))


def list_brands(uow: UnitOfWork) -> list[BrandOut]:
    return [_brand_out(b) for b in uow.session.scalars(sa.select(Brand).order_by(Brand.id))]


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


def update_attribute(uow: UnitOfWork, code: str, data: AttributePatch) -> AttributeOut:
    """Rename an attribute, change a number's unit, or add options to an enum (audited). An
    option cannot be removed: products may carry it and would fail validation on their next edit."""
    a = uow.session.scalar(sa.select(Attribute).where(Attribute.code == code).with_for_update())
    if a is None:
        raise NotFound(f"No attribute with code {code!r}")
    before = _attribute_out(a).model_dump()
    sent = data.model_fields_set
    if "name" in sent and data.name is not None:
        a.name = data.name
    if "unit" in sent:
        if data.unit and a.type != "number":
            raise ValidationProblem.for_field("unit", "only number attributes have a unit")
        a.unit = data.unit or None
    if "options" in sent and data.options is not None:
        if a.type != "enum":
            raise ValidationProblem.for_field("options", "only enum attributes have options")
        options = [o.strip() for o in data.options if o.strip()]
        if len(set(options)) != len(options):
            raise ValidationProblem.for_field("options", "options must be distinct")
        removed = [o for o in (a.options or []) if o not in options]
        if removed:
            raise ValidationProblem.for_field("options", f"{', '.join(removed)} cannot be removed: products may carry "
                                                         "it; options can only be added")
        a.options = options
    after = _attribute_out(a).model_dump()
    if after != before:
        uow.audit("update", "attribute", a.id, before=before, after=after)
    uow.commit()
    return _attribute_out(a)


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
