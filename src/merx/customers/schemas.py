from __future__ import annotations

import datetime as dt

from pydantic import ConfigDict, BaseModel, Field

from merx.core.schemas import StrictModel


class CustomerCreate(StrictModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{
        "email": "anna.nowak@example.pl", "phone": "+48 601 234 567", "first_name": "Anna", "last_name": "Nowak",
        "country": "PL", "locale": "pl"}]})

    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    first_name: str | None = Field(default=None, max_length=120)
    last_name: str | None = Field(default=None, max_length=120)
    company: str | None = Field(default=None, max_length=200)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    locale: str | None = None
    external_ref: str | None = Field(default=None, max_length=120)
    sales_rep_user_id: int | None = None


class CustomerUpdate(StrictModel):
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    first_name: str | None = Field(default=None, max_length=120)
    last_name: str | None = Field(default=None, max_length=120)
    company: str | None = Field(default=None, max_length=200)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    locale: str | None = None
    sales_rep_user_id: int | None = None


class CustomerOut(BaseModel):
    id: int
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    company: str | None
    country: str | None
    locale: str | None
    external_ref: str | None
    sales_rep_user_id: int | None
    is_guest: bool
    merged_into_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
