"""Console catalog: filtered product list and the product editor (variants, attributes,
translations, completeness). A seller sees and edits only its own products: the catalog
service scopes every read and write by the signed-in principal."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from merx.core.auth import Role
from merx.core.errors import Problem
from merx.core.money import MoneyError, check_currency, exponent, parse_amount
from merx.catalog import public as catalog
from merx.crm import public as crm
from merx.inventory import public as inventory
from merx.web.common import PageRoute, csrf_form, console_user, problem_sentence, redirect, render, unit_of_work
from merx.web.views.helpers import form_refusal, page_of, text_or_none, validation_sentence

router = APIRouter(route_class=PageRoute)
CATALOG_ROLES = (Role.admin, Role.staff, Role.seller)
PAGE_SIZE = 25  # each row is a full product document (variants, prices): keep pages light


def product_rows(uow: Any, ids: list[int], currency: str) -> list[dict[str, Any]]:
    rows = []
    for doc in catalog.iter_product_documents(uow, product_ids=ids):
        first = doc.variants[0] if doc.variants else {}
        prices = first.get("prices", {})
        cur = currency if currency in prices else next(iter(prices), None)
        rows.append({"id": doc.product_id, "name": doc.name, "status": doc.status, "sku": first.get("sku"),
                     "category": doc.category, "category_path": doc.category_path, "brand": doc.brand,
                     "seller_id": doc.seller_id, "variants": len(doc.variants), "attributes": doc.attributes,
                     "price": prices.get(cur) if cur else None, "currency": cur, "all_variants": doc.variants})
    order = {pid: i for i, pid in enumerate(ids)}
    rows.sort(key=lambda r: order.get(r["id"], 0))
    return rows


@router.get("/console/catalog")
def catalog_list(request: Request, q: str | None = None, category: str | None = None, brand: str | None = None,
                 status: str | None = None, cursor: str | None = None) -> Response:
    me = console_user(request, *CATALOG_ROLES)
    with unit_of_work(request, me, readonly=True) as uow:
        stmt = catalog.list_products_stmt(uow, q=text_or_none(q), category=text_or_none(category),
                                          brand=text_or_none(brand), status=text_or_none(status))
        products, next_cursor = page_of(uow, stmt, limit=PAGE_SIZE, cursor=cursor)
        ids = [p.id for p in products]
        rows = product_rows(uow, ids, uow.settings.default_currency)
        categories = catalog.list_categories(uow)
        brands = catalog.list_brands(uow)
    ctx = {"rows": rows, "next_cursor": next_cursor, "categories": categories, "brands": brands,
           "filters": {"q": q or "", "category": category or "", "brand": brand or "", "status": status or ""}}
    template = "console/catalog_rows.html" if request.headers.get("hx-request") else "console/catalog.html"
    return render(request, template, ctx, principal=me)


def _editor_context(uow: Any, product_id: int) -> dict[str, Any]:
    product = catalog.get_product(uow, product_id)
    if uow.actor.role == Role.seller and product.seller_id != uow.actor.seller_id:
        # Active products are public, but a seller's console edits only its own.
        raise Problem(f"Product {product_id} does not exist", status=404, title="Not found")
    completeness = catalog.product_completeness(uow, product_id)
    attributes = {a.code: a for a in catalog.list_attributes(uow)}
    availability = inventory.aggregate_statuses(uow, [v.sku for v in product.variants])
    return {"product": product, "completeness": completeness, "attribute_defs": attributes,
            "categories": catalog.list_categories(uow), "brands": catalog.list_brands(uow),
            "locales": list(uow.settings.locales), "availability": availability,
            "currency": uow.settings.default_currency,
            "currencies": price_currencies(product, uow.settings.default_currency),
            "prices_of": {v.id: {p.currency: p.amount for p in v.prices} for v in product.variants},
            # early access: the shop's CRM segments (a seller neither sees nor sets them)
            "early_access_editable": uow.actor.role != Role.seller,
            "segments": ([] if uow.actor.role == Role.seller else
                         [{"id": sg.id, "name": sg.name, "members": sg.member_count} for sg in crm.list_segments(uow)])}


def price_currencies(product: Any, default: str) -> list[str]:
    """The editor's price columns: the shop's currency first, then every other currency the
    product already has a price in (a PLN price set by import is shown and editable)."""
    others = sorted({p.currency for v in product.variants for p in v.prices} - {default})
    return [default, *others]


def _price_cell(form: dict[str, Any], sku: str, currency: str, name: str) -> str | None:
    raw = str(form.get(name, "")).strip().replace(",", ".") if name in form else None
    if raw:
        try:
            parse_amount(raw, currency)
        except MoneyError as e:
            raise Problem(f"The {currency} price of {sku} must be an amount like 19.99 ({e}).",
                          status=422, title="Invalid input") from None
    return raw


@router.get("/console/catalog/{product_id}")
def product_editor(request: Request, product_id: int) -> Response:
    me = console_user(request, *CATALOG_ROLES)
    with unit_of_work(request, me, readonly=True) as uow:
        ctx = _editor_context(uow, product_id)
    return render(request, "console/product.html", ctx, principal=me)


def _patch_from_form(form: dict[str, Any], product: Any, currency: str) -> dict[str, Any]:
    multi = form["__multi__"]
    patch: dict[str, Any] = {"version": int(form.get("version") or product.version)}
    for key in ("name", "description", "status"):
        if key in form:
            patch[key] = str(form[key]).strip() or (None if key == "description" else "")
    for key in ("category", "brand"):
        if key in form:
            patch[key] = text_or_none(form[key])
    # early access: the launch time is typed in UTC (a time without a zone is read as UTC)
    if "launch_at" in form:
        patch["launch_at"] = text_or_none(form["launch_at"])
    if "early_access_segment" in form:
        patch["early_access_segment"] = text_or_none(form["early_access_segment"])
    attributes: dict[str, Any] = dict(product.attributes or {})
    for code, value in zip(multi.getlist("attr_code"), multi.getlist("attr_value")):
        code = str(code).strip()
        if not code:
            continue
        value = str(value).strip()
        if value == "":
            attributes.pop(code, None)
        else:
            attributes[code] = _typed(value)
    patch["attributes"] = attributes
    variants = []
    new_currency = str(form.get("new_currency", "")).strip().upper()
    if new_currency:
        try:
            check_currency(new_currency)
        except MoneyError:
            raise Problem(f"{new_currency} is not a currency code like EUR, PLN or USD.", status=422,
                          title="Invalid input") from None
    for v in product.variants:
        prices = {p.currency: p.amount for p in v.prices}
        # One cell per shown currency: a filled cell sets the price, an emptied one removes it.
        # `price_<id>` (no currency) is the shop's currency, as forms before multi-currency sent.
        cells = [(c, f"price_{v.id}_{c}") for c in price_currencies(product, currency)] + [(currency, f"price_{v.id}")]
        if new_currency:
            cells.append((new_currency, f"price_{v.id}_new"))
        for cur, name in cells:
            raw = _price_cell(form, v.sku, cur, name)
            if raw is None or (raw == "" and name.endswith("_new")):
                continue
            if raw:
                prices[cur] = raw
            else:
                prices.pop(cur, None)
        variants.append({"sku": v.sku, "ean": v.ean, "options": v.options,
                         "prices": [{"amount": a, "currency": c} for c, a in prices.items()]})
    new_sku = str(form.get("new_variant_sku", "")).strip()
    if new_sku:
        price = str(form.get("new_variant_price", "")).strip()
        options = {}
        for pair in str(form.get("new_variant_options", "")).split(","):
            if "=" in pair:
                k, _, val = pair.partition("=")
                options[k.strip()] = val.strip()
        variants.append({"sku": new_sku, "options": options,
                         "prices": [{"amount": price, "currency": currency}] if price else None})
    patch["variants"] = variants
    translations: dict[str, Any] = {}
    for loc in multi.getlist("tr_locale"):
        name = str(form.get(f"tr_name_{loc}", "")).strip()
        desc = str(form.get(f"tr_description_{loc}", "")).strip()
        if name or desc:
            existing = (product.translations or {}).get(loc, {}) or {}
            translations[loc] = {"name": name or None, "description": desc or None,
                                 "attributes": dict(existing.get("attributes") or {})}
        elif loc in (product.translations or {}):
            translations[loc] = None
    patch["translations"] = translations
    return patch


def _typed(value: str) -> Any:
    lowered = value.lower()
    if lowered in ("true", "yes"):
        return True
    if lowered in ("false", "no"):
        return False
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value


BULK_STATUS = {"publish": "active", "archive": "archived", "draft": "draft"}
MAX_BULK = 200


def repriced(amount: str, currency: str, percent: Decimal) -> str:
    """The amount changed by `percent` (+10 raises by 10 %), rounded half-even to the
    currency's minor unit; never below one minor unit."""
    places = Decimal(1).scaleb(-exponent(currency))
    new = (Decimal(amount) * (Decimal(100) + percent) / Decimal(100)).quantize(places)
    return str(max(new, places))


@router.post("/console/catalog/bulk")
def bulk_products(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """Publish, archive or reprice a selection of products in one step; all or nothing."""
    me = console_user(request, *CATALOG_ROLES)
    ids = [int(i) for i in form["__multi__"].getlist("id") if str(i).isdigit()][:MAX_BULK]
    action = str(form.get("action", ""))
    if not ids or action not in (*BULK_STATUS, "reprice"):
        return redirect("/console/catalog", flash="Choose products and an action.")
    percent = None
    if action == "reprice":
        try:
            percent = Decimal(str(form.get("percent", "")).replace(",", ".").replace("%", "").strip())
            if not percent.is_finite() or not Decimal(-90) <= percent <= Decimal(500) or percent == 0:
                raise InvalidOperation
        except InvalidOperation:
            return redirect("/console/catalog", flash="Not changed: give a price change between -90 % and +500 %, "
                                                      "like -10 or 5.")
    try:
        with unit_of_work(request, me) as uow:
            for pid in ids:
                product = catalog.get_product(uow, pid)
                if me.role == Role.seller and product.seller_id != me.seller_id:
                    raise Problem(f"Product {pid} does not exist", status=404, title="Not found")
                if percent is None:
                    patch = catalog.ProductPatch(status=BULK_STATUS[action])
                else:
                    patch = catalog.ProductPatch(variants=[
                        {"sku": v.sku, "ean": v.ean, "options": v.options,
                         "prices": [{"amount": repriced(p.amount, p.currency, percent), "currency": p.currency}
                                    for p in v.prices]} for v in product.variants])
                catalog.update_product(uow, pid, patch, commit=False)
            uow.commit()
    except ValidationError as e:
        return redirect("/console/catalog", flash=f"Nothing changed: {validation_sentence(e)}")
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect("/console/catalog", flash=f"Nothing changed: {problem_sentence(e)}")
    done = {"publish": "published", "archive": "archived", "draft": "set to draft"}.get(action)
    what = done or f"repriced by {percent:+}%"
    return redirect("/console/catalog", flash=f"{len(ids)} product{'s' if len(ids) != 1 else ''} {what}.")


@router.post("/console/catalog/{product_id}")
def save_product(request: Request, product_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *CATALOG_ROLES)
    with unit_of_work(request, me) as uow:
        product = catalog.get_product(uow, product_id)
        error = form_refusal(uow, lambda: catalog.update_product(uow, product_id, catalog.ProductPatch(
            **_patch_from_form(form, product, uow.settings.default_currency))))
    if error is None:
        return redirect(f"/console/catalog/{product_id}", flash="Product saved.")
    with unit_of_work(request, me, readonly=True) as uow:
        ctx = _editor_context(uow, product_id)
    ctx["error"] = error
    return render(request, "console/product.html", ctx, status=422, principal=me)

