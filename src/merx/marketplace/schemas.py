from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from merx.core.schemas import PatchModel, StrictModel
from merx.core.validation import INT32_MAX, Rating


class SellerCreate(StrictModel):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    name: str = Field(min_length=1, max_length=200)
    city: str | None = Field(default=None, max_length=120)
    region: str | None = Field(default=None, max_length=64)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    premium: bool = False
    rating: Rating | None = None


class SellerUpdate(PatchModel):
    NOT_NULL = frozenset({"name", "premium", "violations", "active"})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    premium: bool | None = None
    rating: Rating | None = None
    violations: int | None = Field(default=None, ge=0, le=INT32_MAX)
    active: bool | None = None


class SellerOut(BaseModel):
    id: int
    code: str
    name: str
    city: str | None
    region: str | None
    country: str | None
    premium: bool
    rating: Decimal | None
    violations: int
    active: bool
    version: int
