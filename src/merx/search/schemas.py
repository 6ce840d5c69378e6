"""Search API shapes."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from merx.core.schemas import StrictModel
from merx.core.validation import DbId
from merx.search.analysis import SUPPORTED
from merx.search.boosts import RULE_KINDS


def _check_lang(v: str) -> str:
    lang = v.strip().lower()
    if lang not in SUPPORTED:
        raise ValueError(f"unsupported language {v!r}; one of {', '.join(sorted(SUPPORTED))}")
    return lang


class SynonymIn(StrictModel):
    lang: str
    terms: list[str] = Field(min_length=2, max_length=50)
    one_way: bool = False

    @field_validator("lang")
    @classmethod
    def _lang(cls, v: str) -> str:
        return _check_lang(v)

    @field_validator("terms")
    @classmethod
    def _terms(cls, v: list[str]) -> list[str]:
        cleaned = [t.strip() for t in v]
        if any(not t or len(t) > 200 for t in cleaned):
            raise ValueError("every term must have 1 to 200 characters")
        if len({t.casefold() for t in cleaned}) < 2:
            raise ValueError("needs at least two different terms")
        return cleaned


class SynonymOut(BaseModel):
    id: int
    lang: str
    terms: list[str]
    one_way: bool
    created_at: dt.datetime


class BoostRuleIn(StrictModel):
    kind: Literal[RULE_KINDS]  # type: ignore[valid-type]
    factor: str = Field(description="decimal string, e.g. \"1.05\" (boost) or \"0.9\" (deboost)")
    params: dict[str, Any] = Field(default_factory=dict)
    product_id: DbId | None = None
    seller_id: DbId | None = None
    active: bool = True

    @field_validator("factor")
    @classmethod
    def _factor(cls, v: Any) -> str:
        from decimal import Decimal, InvalidOperation

        if isinstance(v, float):
            raise ValueError("must be a decimal string such as \"1.05\"")
        try:
            d = Decimal(str(v))
        except InvalidOperation:
            raise ValueError("must be a decimal such as \"1.05\"") from None
        if not d.is_finite() or d <= 0 or d > 10:
            raise ValueError("must be greater than 0 and at most 10")
        return format(d, "f")


class BoostRuleOut(BaseModel):
    id: int
    kind: str
    factor: str
    params: dict[str, Any]
    product_id: int | None
    seller_id: int | None
    active: bool


class PinIn(StrictModel):
    query: str = Field(min_length=1, max_length=500)
    lang: str = "en"
    product_id: int = Field(gt=0)
    position: int | None = Field(None, ge=1, le=1000)
    hidden: bool = False

    @field_validator("lang")
    @classmethod
    def _lang(cls, v: str) -> str:
        return _check_lang(v)


class PinOut(BaseModel):
    id: int
    query: str
    query_key: str
    lang: str
    product_id: int
    position: int | None
    hidden: bool


class FeedbackIn(StrictModel):
    search_id: str = Field(min_length=1, max_length=26)
    product_id: int = Field(gt=0)
    action: Literal["click", "cart", "purchase", "favourite"]
    position: int | None = Field(None, ge=1)


class PriceOut(BaseModel):
    amount: str
    currency: str


class SearchItem(BaseModel):
    product_id: int
    sku: str | None
    name: str
    score: float
    position: int
    price: PriceOut | None = None
    category: str | None = None
    brand: str | None = None
    seller_id: int | None = None
    explain: dict[str, Any] | None = None


class SearchOut(BaseModel):
    search_id: str
    query: str
    lang: str
    mode: str
    total: int
    page: int
    limit: int
    items: list[SearchItem]
    facets: dict[str, Any]
    model: str
    suggestions: list[str] | None = None  # when nothing was found: queries and names to try instead
    retrieval: str = "lexical"  # lexical | semantic | hybrid: what stages 1-2 ran for this query
    timings_ms: dict[str, float] | None = None


class ZeroResultOut(BaseModel):
    query: str
    lang: str
    searches: int
    last_searched_at: dt.datetime
