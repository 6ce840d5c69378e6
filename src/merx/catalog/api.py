"""Catalog routes: products, categories, brands, attributes, attribute sets, channels,
completeness, bulk import/export and channel feeds. Routes parse, authorise and call the
service; record-level rules (a seller's own products, public visibility) live in the service."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError as PydanticValidationError

from merx.catalog import completeness, costs, feeds, importexport, products, reference_data, rules
from merx.catalog.schemas import (AttributeCreate, AttributeOut, AttributePatch, AttributeSetCreate, AttributeSetOut, BrandCreate, BrandPatch,
                                  BrandOut, CategoryCreate, CategoryOut, CategoryPatch, ChannelCreate, ChannelOut,
                                  CompletenessOut, CostAtOut, CostCoverageOut, CostCreate, CostImport, CostImportReport,
                                  CostOut, ImportReport, ProductCreate, ProductOut, ProductPatch, plausible_time)
from merx.core.auth import Principal, Role
from merx.core.errors import FieldError, Forbidden, ValidationProblem
from merx.core.pagination import check_limit, page_list
from merx.core.schemas import Page
from merx.core.settings import Settings
from merx.core.uow import UnitOfWork
from merx.core.validation import DbId
from merx.core.web import get_read_uow, get_settings_dep, get_uow, require

router = APIRouter(tags=["catalog"])

PRODUCT_WRITERS = (Role.admin, Role.staff, Role.seller)
CATALOG_ADMINS = (Role.admin, Role.staff)


def read_locale(request: Request, locale: str | None = Query(None, description="Locale to read texts in; "
                                                                               "falls back to the default locale."),
                settings: Settings = Depends(get_settings_dep)) -> str:
    chosen, ok = rules.pick_locale(locale, request.headers.get("accept-language"), settings.locales,
                                   settings.default_locale)
    if not ok:
        raise ValidationProblem.for_field("locale", f"unknown locale {chosen!r}; supported: "
                                          + ", ".join(settings.locales), code="unknown_locale")
    return chosen


def _if_match(value: str | None) -> int | None:
    if value is None:
        return None
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not text.isdigit():
        raise ValidationProblem.for_field("If-Match", "must be the product's ETag (its version), e.g. \"3\"")
    return int(text)


def _etag(response: Response, product: ProductOut) -> ProductOut:
    response.headers["ETag"] = f'"{product.version}"'
    response.headers["Content-Language"] = product.locale
    return product


# -- products ---------------------------------------------------------------------------------


@router.post("/products", response_model=ProductOut, status_code=201)
def create_product(body: ProductCreate, response: Response, uow: UnitOfWork = Depends(get_uow),
                   settings: Settings = Depends(get_settings_dep), locale: str = Depends(read_locale),
                   _: Principal = Depends(require(*PRODUCT_WRITERS))) -> ProductOut:
    out = products.create_product(uow, body, settings=settings, locale=locale)
    response.headers["Location"] = f"/api/v1/products/{out.id}"
    return _etag(response, out)


@router.get("/products", response_model=Page[ProductOut])
def list_products(category: str | None = None, brand: str | None = None, status: str | None = None,
                  seller_id: DbId | None = Query(None, alias="seller"), q: str | None = None,
                  sku: str | None = None, channel: str | None = None,
                  limit: int | None = Query(None), cursor: str | None = None,
                  uow: UnitOfWork = Depends(get_read_uow), settings: Settings = Depends(get_settings_dep),
                  locale: str = Depends(read_locale)) -> Page[ProductOut]:
    """Public: active products only for anonymous callers and customers; a seller sees its own."""
    return products.list_products(uow, limit=limit, cursor=cursor, locale=locale, settings=settings, category=category,
                                 brand=brand, status=status, seller_id=seller_id, q=q, sku=sku, channel=channel)


@router.post("/products/import", response_model=ImportReport)
async def import_products(request: Request, format: Literal["csv", "xlsx", "json"] | None = None,
                          uow: UnitOfWork = Depends(get_uow), settings: Settings = Depends(get_settings_dep),
                          _: Principal = Depends(require(*PRODUCT_WRITERS))) -> ImportReport:
    """Upload a CSV or XLSX file (multipart field `file`, or the raw body with its content
    type). Each row is imported on its own; bad rows are reported with row, field and message."""
    ctype = request.headers.get("content-type", "")
    filename = None
    if ctype.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ValidationProblem.for_field("file", "send the file in a multipart field named 'file'")
        raw = await upload.read()
        filename = upload.filename
        ctype = upload.content_type or ""
    else:
        raw = await request.body()
    fmt = format or importexport.detect_format(raw, filename, ctype)
    return await run_in_threadpool(importexport.import_bytes, uow, raw, fmt, settings)


@router.get("/products/export")
def export_products(format: Literal["csv", "xlsx"] = "csv", status: str | None = None,
                    uow: UnitOfWork = Depends(get_read_uow), settings: Settings = Depends(get_settings_dep),
                    _: Principal = Depends(require(*PRODUCT_WRITERS))) -> Response:
    """Every product the caller may edit (a seller: its own), in the import's column layout."""
    data = importexport.export_bytes(uow, format, settings, status=status)
    media = "text/csv; charset=utf-8" if format == "csv" else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(data, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="products.{format}"'})


@router.get("/products/{product_id}", response_model=ProductOut)
def get_product(product_id: DbId, response: Response, uow: UnitOfWork = Depends(get_read_uow),
                settings: Settings = Depends(get_settings_dep), locale: str = Depends(read_locale)) -> ProductOut:
    return _etag(response, products.get_product(uow, product_id, locale=locale, settings=settings))


@router.patch("/products/{product_id}", response_model=ProductOut)
def update_product(product_id: DbId, body: ProductPatch, response: Response,
                   if_match: str | None = Header(None, alias="If-Match"), uow: UnitOfWork = Depends(get_uow),
                   settings: Settings = Depends(get_settings_dep), locale: str = Depends(read_locale),
                   _: Principal = Depends(require(*PRODUCT_WRITERS))) -> ProductOut:
    out = products.update_product(uow, product_id, body, if_match=_if_match(if_match), settings=settings,
                                 locale=locale)
    return _etag(response, out)


@router.delete("/products/{product_id}", response_model=None)
def delete_product(product_id: DbId, purge: bool = False, uow: UnitOfWork = Depends(get_uow),
                   settings: Settings = Depends(get_settings_dep),
                   principal: Principal = Depends(require(*PRODUCT_WRITERS))) -> Any:
    """Archives the product (it leaves the public catalog, orders keep their SKUs).
    `?purge=true` (admin only) removes it for good."""
    if purge:
        if principal.role != Role.admin:
            raise Forbidden("Only an admin may purge a product", errors=[FieldError("purge", "admin only", "forbidden")])
        products.delete_product(uow, product_id)
        return Response(status_code=204)
    return products.archive_product(uow, product_id, settings=settings)


@router.get("/products/{product_id}/completeness", response_model=list[CompletenessOut])
def product_completeness(product_id: DbId, channel: str | None = None, locale: str | None = None,
                         uow: UnitOfWork = Depends(get_read_uow), settings: Settings = Depends(get_settings_dep),
                         _: Principal = Depends(require(Role.admin, Role.staff, Role.seller, Role.sales_rep,
                                                        Role.support_agent))) -> list[CompletenessOut]:
    """For each channel and each of its locales (or the ones asked for): what is missing and
    the percentage complete."""
    if uow.actor.role == Role.seller:
        products._writable(uow, product_id)  # a seller checks its own products only
    return completeness.product_completeness(uow, product_id, channel=channel, locale=locale, settings=settings)


# -- categories, brands, attributes, attribute sets ----------------------------------------------


@router.post("/categories", response_model=CategoryOut, status_code=201)
def create_category(body: CategoryCreate, uow: UnitOfWork = Depends(get_uow),
                    settings: Settings = Depends(get_settings_dep),
                    _: Principal = Depends(require(*CATALOG_ADMINS))) -> CategoryOut:
    return reference_data.create_category(uow, body, settings=settings)


@router.get("/categories", response_model=Page[CategoryOut])
def list_categories(limit: int | None = Query(None), cursor: str | None = None,
                    uow: UnitOfWork = Depends(get_read_uow), settings: Settings = Depends(get_settings_dep),
                    locale: str = Depends(read_locale)) -> Page[CategoryOut]:
    items, nxt = page_list(reference_data.list_categories(uow, locale=locale, settings=settings), lambda c: c.id,
                           limit=check_limit(limit, settings.page_size_default, settings.page_size_max), cursor=cursor)
    return Page[CategoryOut](items=items, next_cursor=nxt)


@router.get("/categories/{code}", response_model=CategoryOut)
def get_category(code: str, uow: UnitOfWork = Depends(get_read_uow)) -> CategoryOut:
    return reference_data.get_category(uow, code)


@router.patch("/categories/{code}", response_model=CategoryOut)
def update_category(code: str, body: CategoryPatch, uow: UnitOfWork = Depends(get_uow),
                    settings: Settings = Depends(get_settings_dep),
                    _: Principal = Depends(require(*CATALOG_ADMINS))) -> CategoryOut:
    return reference_data.update_category(uow, code, body, settings=settings)


@router.post("/brands", response_model=BrandOut, status_code=201)
def create_brand(body: BrandCreate, uow: UnitOfWork = Depends(get_uow),
                 _: Principal = Depends(require(*CATALOG_ADMINS))) -> BrandOut:
    return reference_data.create_brand(uow, body)


@router.patch("/brands/{code}", response_model=BrandOut)
def update_brand(code: str, body: BrandPatch, uow: UnitOfWork = Depends(get_uow),
                 _: Principal = Depends(require(*CATALOG_ADMINS))) -> BrandOut:
    return reference_data.update_brand(uow, code, body)


@router.get("/brands", response_model=Page[BrandOut])
def list_brands(limit: int | None = Query(None), cursor: str | None = None,
                uow: UnitOfWork = Depends(get_read_uow)) -> Page[BrandOut]:
    items, nxt = page_list(reference_data.list_brands(uow), lambda b: b.id, limit=_limit(uow, limit), cursor=cursor)
    return Page[BrandOut](items=items, next_cursor=nxt)


@router.post("/attributes", response_model=AttributeOut, status_code=201)
def create_attribute(body: AttributeCreate, uow: UnitOfWork = Depends(get_uow),
                     _: Principal = Depends(require(*CATALOG_ADMINS))) -> AttributeOut:
    return reference_data.create_attribute(uow, body)


@router.get("/attributes", response_model=Page[AttributeOut])
def list_attributes(limit: int | None = Query(None), cursor: str | None = None,
                    uow: UnitOfWork = Depends(get_read_uow)) -> Page[AttributeOut]:
    items, nxt = page_list(reference_data.list_attributes(uow), lambda a: a.id, limit=_limit(uow, limit), cursor=cursor)
    return Page[AttributeOut](items=items, next_cursor=nxt)


@router.patch("/attributes/{code}", response_model=AttributeOut)
def update_attribute(code: str, body: AttributePatch, uow: UnitOfWork = Depends(get_uow),
                     _: Principal = Depends(require(*CATALOG_ADMINS))) -> AttributeOut:
    """Rename, change a number's `unit`, or add `options` to an enum (the full list; removing one
    is refused: products may carry it). Code and type do not change."""
    return reference_data.update_attribute(uow, code, body)


@router.post("/attribute-sets", response_model=AttributeSetOut, status_code=201)
def create_attribute_set(body: AttributeSetCreate, uow: UnitOfWork = Depends(get_uow),
                         _: Principal = Depends(require(*CATALOG_ADMINS))) -> AttributeSetOut:
    return reference_data.create_attribute_set(uow, body)


@router.get("/attribute-sets", response_model=Page[AttributeSetOut])
def list_attribute_sets(limit: int | None = Query(None), cursor: str | None = None,
                        uow: UnitOfWork = Depends(get_read_uow)) -> Page[AttributeSetOut]:
    items, nxt = page_list(reference_data.list_attribute_sets(uow), lambda a: a.id, limit=_limit(uow, limit),
                           cursor=cursor)
    return Page[AttributeSetOut](items=items, next_cursor=nxt)


# -- channels and feeds ---------------------------------------------------------------------------


@router.get("/channels", response_model=Page[ChannelOut])
def list_channels(limit: int | None = Query(None), cursor: str | None = None, uow: UnitOfWork = Depends(get_uow),
                  settings: Settings = Depends(get_settings_dep)) -> Page[ChannelOut]:
    items, nxt = page_list(reference_data.list_channels(uow, settings=settings), lambda c: c.id,
                           limit=_limit(uow, limit), cursor=cursor)
    return Page[ChannelOut](items=items, next_cursor=nxt)


@router.post("/channels", response_model=ChannelOut, status_code=201)
def create_channel(body: ChannelCreate, uow: UnitOfWork = Depends(get_uow),
                   settings: Settings = Depends(get_settings_dep),
                   _: Principal = Depends(require(Role.admin))) -> ChannelOut:
    return reference_data.create_channel(uow, body, settings=settings)


@router.get("/channels/{code}/feed")
def channel_feed(code: str, format: Literal["csv", "json"] = "json", uow: UnitOfWork = Depends(get_read_uow),
                 settings: Settings = Depends(get_settings_dep), locale: str = Depends(read_locale)) -> Response:
    """Active products published to the channel, with texts in the locale (falling back to
    the default locale) and their prices: what a marketplace or comparison site ingests."""
    data, media = feeds.channel_feed(uow, code, fmt=format, locale=locale, settings=settings)
    return Response(data, media_type=media, headers={"Content-Language": locale})


def _limit(uow: UnitOfWork, limit: int | None) -> int:
    return check_limit(limit, uow.settings.page_size_default, uow.settings.page_size_max)


# -- costs (catalog/costs.py): the back office only; a cost shows the shop's margin ------------

COST_READERS = (Role.admin, Role.staff)


@router.get("/products/{product_id}/costs", response_model=Page[CostOut])
def product_costs(product_id: DbId, currency: str | None = Query(None, min_length=3, max_length=3),
                  uow: UnitOfWork = Depends(get_read_uow),
                  _: Principal = Depends(require(*COST_READERS))) -> Page[CostOut]:
    """The product's cost history (its own and its variants'), newest effective date first.
    One product's history is read whole: `next_cursor` is always null."""
    return Page(items=costs.cost_history(uow, product_id, currency=currency))


@router.post("/products/{product_id}/costs", response_model=CostOut, status_code=201)
def add_product_cost(product_id: DbId, body: CostCreate, uow: UnitOfWork = Depends(get_uow),
                     _: Principal = Depends(require(*COST_READERS))) -> CostOut:
    """A new cost from `effective_from` (now when omitted); `sku` for one variant's own cost.
    The same effective time again corrects that entry instead of adding one."""
    return costs.add_product_cost(uow, product_id, body)


@router.get("/product-costs/at", response_model=CostAtOut)
def cost_at(sku: str = Query(min_length=1, max_length=100), currency: str = Query(min_length=3, max_length=3),
            at: dt.datetime | None = None, uow: UnitOfWork = Depends(get_read_uow),
            _: Principal = Depends(require(*COST_READERS))) -> CostAtOut:
    """The unit cost of a SKU in force at `at` (now); `amount` null when none was known then."""
    try:
        at = plausible_time(at)
    except ValueError as e:
        raise ValidationProblem.for_field("at", str(e)) from None
    fact = costs.cost_facts_at(uow, [sku], currency, at).get(sku)
    return CostAtOut(sku=sku, currency=currency, at=at, amount=str(fact.amount) if fact else None,
                     effective_from=fact.effective_from if fact else None,
                     per_variant=fact.per_variant if fact else None)


@router.post("/product-costs/import", response_model=CostImportReport)
async def import_product_costs(request: Request, uow: UnitOfWork = Depends(get_uow),
                               _: Principal = Depends(require(*COST_READERS))) -> CostImportReport:
    """Costs by SKU: a JSON body `{"rows": [{"sku", "amount", "currency", "effective_from"?,
    "reference"?}], "source"?, "reference"?}` or a CSV (text/csv body or multipart `file`) with
    those columns. Each row on its own: bad rows are reported (row, field, message)."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        try:
            body = CostImport.model_validate_json(await request.body())
        except PydanticValidationError as e:
            raise ValidationProblem("invalid cost import", errors=[
                FieldError(".".join(str(p) for p in err["loc"]) or "body", err["msg"]) for err in e.errors()]) from None
        return await run_in_threadpool(costs.import_costs, uow, body)
    filename = None
    if ctype.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ValidationProblem.for_field("file", "send the file in a multipart field named 'file'")
        raw, filename = await upload.read(), upload.filename
    else:
        raw = await request.body()
    return await run_in_threadpool(costs.import_cost_csv, uow, raw, reference=filename)


@router.get("/product-costs/coverage", response_model=CostCoverageOut)
def cost_coverage(currency: str | None = Query(None, min_length=3, max_length=3),
                  uow: UnitOfWork = Depends(get_read_uow), settings: Settings = Depends(get_settings_dep),
                  _: Principal = Depends(require(*COST_READERS))) -> CostCoverageOut:
    """Which active variants have a cost now, per category, and the average cost share of price."""
    return costs.cost_coverage(uow, currency or settings.default_currency)
