from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from merx.core.schemas import PatchModel, StrictModel
from merx.core.validation import INT32_MAX, Rating

SellerStatus = Literal["pending", "active", "suspended"]
KycStatus = Literal["not_submitted", "submitted", "verified", "rejected"]


class SellerCreate(StrictModel):
    code: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    name: str = Field(min_length=1, max_length=200)
    city: str | None = Field(default=None, max_length=120)
    region: str | None = Field(default=None, max_length=64)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    premium: bool = False
    rating: Rating | None = None
    # Onboarding: staff register a seller as pending while its KYC is checked; "active" (the
    # default, as before) registers it ready to sell.
    status: Literal["pending", "active"] = "active"
    legal_name: str | None = Field(default=None, min_length=1, max_length=200)
    registration_number: str | None = Field(default=None, min_length=1, max_length=64)
    tax_id: str | None = Field(default=None, min_length=1, max_length=64)
    contact_email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    kyc_status: KycStatus = "not_submitted"


class SellerUpdate(PatchModel):
    NOT_NULL = frozenset({"name", "premium", "violations", "active", "status", "kyc_status"})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    premium: bool | None = None
    rating: Rating | None = None
    violations: int | None = Field(default=None, ge=0, le=INT32_MAX)
    active: bool | None = None
    status: SellerStatus | None = None
    legal_name: str | None = Field(default=None, min_length=1, max_length=200)
    registration_number: str | None = Field(default=None, min_length=1, max_length=64)
    tax_id: str | None = Field(default=None, min_length=1, max_length=64)
    contact_email: str | None = Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    kyc_status: KycStatus | None = None
    # Why (a suspension, a reinstatement, a rejected application): kept in the audit entry of
    # this change, not on the seller.
    reason: str | None = Field(default=None, min_length=1, max_length=500)


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
    status: str
    legal_name: str | None
    registration_number: str | None
    tax_id: str | None
    contact_email: str | None
    kyc_status: str
    rating_parts: dict[str, Any] | None
    rating_computed_at: dt.datetime | None
    version: int
