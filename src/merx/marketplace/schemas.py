from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from merx.core.schemas import StrictModel


class SellerCreate(StrictModel):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    name: str = Field(min_length=1, max_length=200)
    city: str | None = None
    region: str | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    premium: bool = False
    rating: Decimal | None = Field(default=None, ge=0, le=5)


class SellerUpdate(StrictModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    premium: bool | None = None
    rating: Decimal | None = Field(default=None, ge=0, le=5)
    violations: int | None = Field(default=None, ge=0)
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
