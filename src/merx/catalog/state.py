"""Product state: validation, comparison and writing.

A product write works on a *state*: a plain dict describing everything a user can change
(texts, codes, normalized attribute values, variants with prices in minor units, channel
codes). An update computes the new state from the old one; when they are equal nothing is
written (no version bump, no event, no audit row), which is what makes imports idempotent."""

from __future__ import annotations

import copy
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from merx.catalog import early_access, rules
from merx.catalog.events import ProductArchived, ProductCreated, ProductPriceChanged, ProductUpdated
from merx.catalog.models import Product, ProductChannel, Variant, VariantPrice
from merx.catalog.refs import Refs, ensure_default_channels
from merx.catalog.schemas import ProductCreate, ProductPatch, VariantIn
from merx.core.auth import Principal, Role
from merx.core.db import utcnow
from merx.core.errors import Conflict, FieldError, Forbidden, ValidationProblem
from merx.core.money import minor_to_str
from merx.core.schemas import MoneyIn
from merx.core.uow import UnitOfWork

# A product created without `channels` is published to the web shop only.
DEFAULT_PUBLICATION = ("web",)



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
        "launch_at": p.launch_at,
        "early_access_segment": p.early_access_segment_id,
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
        "launch_at": data.launch_at, "early_access_segment": data.early_access_segment,
    }


def _state_after_patch(old: dict[str, Any], patch: ProductPatch) -> dict[str, Any]:
    new = copy.deepcopy(old)
    sent = patch.model_fields_set
    for name in ("name", "description", "status", "category", "brand", "seller_id", "media", "launch_at",
                 "early_access_segment"):
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
    p.launch_at = state.get("launch_at")
    p.early_access_segment_id = state.get("early_access_segment")
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


def _check_early_access(refs: Refs, state: dict[str, Any], old: dict[str, Any] | None) -> None:
    """A segment named for early access must exist (checked when it is set or changed: a
    segment CRM deleted later does not block unrelated edits)."""
    segment = state.get("early_access_segment")
    changed = segment != (old or {}).get("early_access_segment")
    if changed and refs.uow.actor.role == Role.seller:  # the shop's customer segments are not a seller's
        raise Forbidden("A seller does not choose the shop's customer segments",
                        errors=[FieldError("early_access_segment", "may not be set by a seller", "forbidden")])
    if segment is not None and changed and not early_access.segment_exists(refs.uow, segment):
        raise ValidationProblem.for_field("early_access_segment", f"no CRM segment with id {segment}",
                                          "unknown_segment")


def _audit_state(state: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(state)
    if out.get("launch_at") is not None:
        out["launch_at"] = out["launch_at"].isoformat()
    for v in out["variants"]:
        v["prices"] = {c: minor_to_str(m, c) for c, m in v["prices"].items()}
    return out


def _flush(uow: UnitOfWork) -> None:
    try:
        uow.session.flush()
    except IntegrityError as e:  # a concurrent writer took the SKU between our check and insert
        raise Conflict("A SKU in this product was taken by a concurrent write; retry",
                       type_slug="duplicate-sku", errors=[FieldError("sku", "already exists", "duplicate")]) from e


# Sellers do not put new products on sale themselves: staff moderate them (sellers/proposals.py).
_PROPOSE = ("A seller's new product goes on sale once staff approve it: propose it with POST "
            "/api/v1/product-proposals (or create it as a draft)")


def _check_seller_scope(actor: Principal, state: dict[str, Any], *, creating: bool, owner: int | None) -> None:
    if actor.role != Role.seller:
        return
    if creating:
        if state["seller_id"] not in (None, actor.seller_id):
            raise Forbidden("A seller creates products for itself only",
                            errors=[FieldError("seller_id", "must be your own seller id", "forbidden")])
        if state["status"] == "active":
            raise Forbidden(_PROPOSE, errors=[FieldError("status", "a seller creates drafts only", "forbidden")])
        state["seller_id"] = actor.seller_id
    elif state["seller_id"] != owner:
        raise Forbidden("A seller cannot hand a product to another seller",
                        errors=[FieldError("seller_id", "may not be changed by a seller", "forbidden")])


def _create_from_state(refs: Refs, state: dict[str, Any]) -> Product:
    p = _stage_create(refs, state)
    _flush(refs.uow)
    _announce_created(refs.uow, p, state)
    return p


def _stage_create(refs: Refs, state: dict[str, Any]) -> Product:
    """A new product checked and added to the session, not yet flushed (no id yet)."""
    uow = refs.uow
    _check_seller_scope(uow.actor, state, creating=True, owner=None)
    _validate_state(refs, state, product_id=None)
    _check_early_access(refs, state, None)
    p = Product(status=state["status"], name=state["name"], version=1, attributes={}, translations={}, media=[])
    p.variants = []
    p.publications = []
    uow.session.add(p)
    _apply_state(refs, p, state)
    p.created_at = p.updated_at
    return p


def _announce_created(uow: UnitOfWork, p: Product, state: dict[str, Any]) -> None:
    """The event and audit entry of a product created and flushed."""
    uow.emit(ProductCreated(**_event_payload(p, state)), version=p.version)
    uow.audit("create", "product", p.id, after=_audit_state(state))


def _update_from_state(refs: Refs, p: Product, old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Writes `new` when it differs from `old`; returns whether anything changed."""
    uow = refs.uow
    _check_seller_scope(uow.actor, new, creating=False, owner=p.seller_id)
    if uow.actor.role == Role.seller and new["status"] == "active" and old["status"] != "active":
        raise Forbidden(_PROPOSE, errors=[FieldError("status", "a seller cannot put a product on sale", "forbidden")])
    _validate_state(refs, new, product_id=p.id)
    _check_early_access(refs, new, old)
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
        "launch_at": state.get("launch_at"), "early_access_segment": state.get("early_access_segment"),
        "prices": {v["sku"]: {c: minor_to_str(m, c) for c, m in v["prices"].items()} for v in state["variants"]},
    }
