"""Catalog API shapes. Input models forbid unknown fields; money is `MoneyIn`
({"amount": "19.99", "currency": "EUR"}, decimal strings only)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, BaseModel, Field, field_validator

from merx.core.schemas import MoneyIn, MoneyOut, PatchModel, StrictModel
from merx.core.validation import DbId

Status = Literal["draft", "active", "archived"]
AttributeType = Literal["text", "number", "enum", "bool"]
Code = Field(min_length=1, max_length=100)


def _check_url(url: str) -> str:
    # An absolute http(s) URL, or a path on this shop ("/media/..."): never "//host" (another
    # site without a scheme) or "javascript:".
    same_site = url.startswith("/") and not url.startswith("//")
    if not (url.startswith("https://") or url.startswith("http://") or same_site) or " " in url or len(url) > 2000:
        raise ValueError("must be an http(s) URL or a path on this shop starting with /")
    return url


class TranslationIn(StrictModel):
    name: str | None = Field(None, max_length=500)
    description: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class VariantIn(StrictModel):
    sku: str = Field(min_length=1, max_length=100)
    ean: str | None = Field(None, max_length=14)
    options: dict[str, str] = Field(default_factory=dict)
    price: MoneyIn | None = None
    prices: list[MoneyIn] | None = None


class ProductCreate(StrictModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{
        "sku": "LIG-00048", "name": "Nordic Desk Lamp", "category": "lighting", "brand": "lumen",
        "prices": [{"amount": "49.00", "currency": "EUR"}, {"amount": "209.00", "currency": "PLN"}],
        "attributes": {"color": "black"},
        "translations": {"pl": {"name": "Lampka biurkowa nordycka"}}}]})

    sku: str | None = Field(None, min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=500)
    description: str | None = None
    price: MoneyIn | None = None
    prices: list[MoneyIn] | None = None
    ean: str | None = Field(None, max_length=14)
    category: str | None = None
    brand: str | None = None
    status: Status = "active"
    attributes: dict[str, Any] = Field(default_factory=dict)
    translations: dict[str, TranslationIn] = Field(default_factory=dict)
    variants: list[VariantIn] | None = None
    media: list[str] = Field(default_factory=list)
    seller_id: DbId | None = None
    channels: list[str] | None = None
    # Early access (catalog/early_access.py): hidden from the public until launch_at (UTC; a
    # time without a zone is read as UTC), visible and for sale before it to the members of
    # the CRM segment with id early_access_segment.
    launch_at: dt.datetime | None = None
    early_access_segment: DbId | None = None

    @field_validator("media")
    @classmethod
    def _media(cls, v: list[str]) -> list[str]:
        return [_check_url(u) for u in v]

    @field_validator("launch_at")
    @classmethod
    def _launch(cls, v: dt.datetime | None) -> dt.datetime | None:
        return plausible_time(v)


class ProductPatch(PatchModel):
    """Partial update: only the fields sent change. `attributes` and `translations` merge
    (a null value removes an attribute); `variants` lists every variant to keep (matched by
    SKU; variants left out are removed). `version`, when sent, must be the current one."""

    NOT_NULL = frozenset({"name", "status", "media"})

    sku: str | None = Field(None, min_length=1, max_length=100)
    name: str | None = Field(None, min_length=1, max_length=500)
    description: str | None = None
    price: MoneyIn | None = None
    prices: list[MoneyIn] | None = None
    ean: str | None = Field(None, max_length=14)
    category: str | None = None
    brand: str | None = None
    status: Status | None = None
    attributes: dict[str, Any] | None = None
    translations: dict[str, TranslationIn | None] | None = None
    variants: list[VariantIn] | None = None
    media: list[str] | None = None
    seller_id: DbId | None = None
    channels: list[str] | None = None
    launch_at: dt.datetime | None = None  # null: launched (public now)
    early_access_segment: DbId | None = None
    version: int | None = None

    @field_validator("media")
    @classmethod
    def _media(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else [_check_url(u) for u in v]

    @field_validator("launch_at")
    @classmethod
    def _launch(cls, v: dt.datetime | None) -> dt.datetime | None:
        return plausible_time(v)


class VariantOut(BaseModel):
    id: int
    sku: str
    ean: str | None
    options: dict[str, str]
    prices: list[MoneyOut]


class ProductOut(BaseModel):
    id: int
    sku: str
    name: str
    description: str | None
    locale: str
    status: str
    category: str | None
    brand: str | None
    seller_id: int | None
    price: MoneyOut | None
    prices: list[MoneyOut]
    attributes: dict[str, Any]
    translations: dict[str, Any]
    variants: list[VariantOut]
    media: list[str]
    channels: list[str]
    launch_at: dt.datetime | None = None
    early_access_segment: int | None = None
    # True while launch_at is ahead: only the back office and the segment's members see it
    # (the storefront shows them an "Early access" badge).
    early_access: bool = False
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class CategoryCreate(StrictModel):
    code: str = Code
    name: str = Field(min_length=1, max_length=200)
    parent: str | None = None
    attribute_set: str | None = None
    translations: dict[str, str] = Field(default_factory=dict, description="locale -> name")


class CategoryPatch(StrictModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    parent: str | None = None
    attribute_set: str | None = None
    translations: dict[str, str] | None = None


class CategoryOut(BaseModel):
    id: int
    code: str
    name: str
    parent: str | None
    path: list[str]
    attribute_set: str | None
    effective_attribute_set: str | None
    translations: dict[str, str]


BrandAlias = Annotated[str, Field(min_length=1, max_length=100)]


class BrandCreate(StrictModel):
    code: str = Code
    name: str = Field(min_length=1, max_length=200)
    aliases: list[BrandAlias] = Field(default_factory=list, max_length=20, description=(
        "Other names shoppers type for the brand (transliterations, local spellings); search finds the "
        "brand's products by them"), examples=[["Самсунг", "三星"]])


class BrandPatch(StrictModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    aliases: list[BrandAlias] | None = Field(None, max_length=20)


class BrandOut(BaseModel):
    id: int
    code: str
    name: str
    aliases: list[str] = []


class AttributeCreate(StrictModel):
    code: str = Code
    name: str = Field(min_length=1, max_length=200)
    type: AttributeType
    unit: str | None = Field(None, max_length=32)
    options: list[str] | None = None
    localizable: bool = False


class AttributePatch(StrictModel):
    """What changes in an attribute: its label, a number's unit, and an enum's options, which
    may grow but not lose a value (products may carry it). Code and type stay."""
    name: str | None = Field(None, min_length=1, max_length=200)
    unit: str | None = Field(None, max_length=32)
    options: list[str] | None = None


class AttributeOut(BaseModel):
    id: int
    code: str
    name: str
    type: str
    unit: str | None
    options: list[str] | None
    localizable: bool


class AttributeSetItemIn(StrictModel):
    attribute: str
    required: bool = False


class AttributeSetCreate(StrictModel):
    code: str = Code
    name: str = Field(min_length=1, max_length=200)
    attributes: list[AttributeSetItemIn] = Field(default_factory=list)


class AttributeSetItemOut(BaseModel):
    attribute: str
    required: bool


class AttributeSetOut(BaseModel):
    id: int
    code: str
    name: str
    attributes: list[AttributeSetItemOut]


class ChannelCreate(StrictModel):
    code: str = Code
    name: str = Field(min_length=1, max_length=200)
    locales: list[str] = Field(default_factory=list)
    currency: str | None = None
    requires_media: bool = False


class ChannelOut(BaseModel):
    id: int
    code: str
    name: str
    locales: list[str]
    currency: str | None
    requires_media: bool


class CompletenessOut(BaseModel):
    channel: str
    locale: str
    required: int
    missing: list[str]
    percent: int


class ImportErrorOut(BaseModel):
    row: int
    field: str
    message: str
    value: Any = None


class ImportReport(BaseModel):
    rows: int
    created: int
    updated: int
    unchanged: int
    failed: int
    errors: list[ImportErrorOut]


# -- costs (catalog/costs.py) ------------------------------------------------------------------


class CostCreate(MoneyIn):
    """One cost, in force from `effective_from` (now when omitted) until a later one for the
    same product or variant and currency. `sku` names a variant; without it the cost is the
    product's, for every variant that has no cost of its own."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{
        "amount": "21.40", "currency": "EUR", "effective_from": "2026-01-01T00:00:00Z", "reference": "ERP PO-1182"}]})

    sku: str | None = Field(None, min_length=1, max_length=100)
    effective_from: dt.datetime | None = None
    reference: str | None = Field(None, max_length=200)

    @field_validator("effective_from")
    @classmethod
    def _aware(cls, v: dt.datetime | None) -> dt.datetime | None:
        # a date without a zone is read as UTC: an ERP export rarely says
        return plausible_time(v)


def plausible_time(v: dt.datetime | None) -> dt.datetime | None:
    """An aware UTC time between the years 1900 and 2200 (a typo such as 0202 or 20266 is
    refused here, not by the database)."""
    if v is None:
        return None
    if v.tzinfo is None:
        v = v.replace(tzinfo=dt.timezone.utc)
    if not 1900 <= v.year <= 2200:
        raise ValueError("must be a date between the years 1900 and 2200")
    return v.astimezone(dt.timezone.utc)


class CostRowIn(CostCreate):
    """One row of a cost import (CSV, API batch, ERP connector): always names its SKU."""

    sku: str = Field(min_length=1, max_length=100)


class CostImport(StrictModel):
    rows: list[CostRowIn] = Field(min_length=1, max_length=10000)
    source: Literal["api", "csv", "erp"] = "api"
    reference: str | None = Field(None, max_length=200)


class CostOut(BaseModel):
    id: int
    product_id: int
    sku: str | None  # null: the product's cost, for variants without their own
    amount: str
    currency: str
    effective_from: dt.datetime
    source: str
    reference: str | None
    created_at: dt.datetime


class CostImportReport(BaseModel):
    recorded: int
    errors: list[dict[str, Any]]  # {"row", "field", "message"}


class CostCoverageOut(BaseModel):
    """How much of the catalog has a cost in `currency` now, per category."""

    currency: str
    variants: int
    with_cost: int
    categories: list[dict[str, Any]]  # {"category", "variants", "with_cost", "avg_cost_ratio"}
    missing: list[dict[str, Any]]  # {"sku", "product_id", "name", "category", "price"} (first 200)


class CostAtOut(BaseModel):
    sku: str
    currency: str
    at: dt.datetime | None  # null: now
    amount: str | None  # null: no cost was known at that time
    effective_from: dt.datetime | None
    per_variant: bool | None  # the variant's own cost (true) or its product's (false)
