from __future__ import annotations

import datetime as dt
from typing import Any

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


# -- storefront accounts (customers/accounts.py, customers/addresses.py) --------------------------


class AccountSignUp(StrictModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{
        "email": "anna.nowak@example.pl", "password": "correct horse battery", "first_name": "Anna",
        "last_name": "Nowak", "locale": "pl"}]})

    email: str = Field(max_length=320)
    password: str = Field(max_length=256)
    first_name: str | None = Field(default=None, max_length=120)
    last_name: str | None = Field(default=None, max_length=120)
    locale: str | None = Field(default=None, max_length=8)


class AccountSignIn(StrictModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=256)


class AccountVerify(StrictModel):
    token: str = Field(max_length=500)
    password: str = Field(max_length=256, description="The password chosen at sign-up: a link alone does not "
                                                      "activate an account someone else opened with your email")


class AccountEmail(StrictModel):
    email: str = Field(max_length=320)


class AccountReset(StrictModel):
    token: str = Field(max_length=500)
    password: str = Field(max_length=256)


class AccountPasswordChange(StrictModel):
    current_password: str = Field(max_length=256)
    new_password: str = Field(max_length=256)


class AccountOut(BaseModel):
    id: int
    email: str
    status: str  # pending | active
    customer_id: int | None
    first_name: str | None
    last_name: str | None
    locale: str | None
    email_verified_at: dt.datetime | None
    created_at: dt.datetime


class AccountMailOut(BaseModel):
    """What sign-up, resend and reset requests answer, whether or not an account exists
    (the answer never tells who has an account)."""

    status: str = "sent"
    detail: str


class ShopperSessionOut(BaseModel):
    """A signed-in shopper: `token` is the bearer for /api/v1 (`Authorization: Bearer mxs_...`)."""

    token: str
    expires_at: dt.datetime
    account: AccountOut


class AddressIn(StrictModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{
        "label": "Home", "name": "Anna Nowak", "line1": "ul. Długa 5", "city": "Kraków", "postal_code": "31-147",
        "country": "PL", "default_shipping": True}]})

    label: str | None = Field(default=None, max_length=60)
    name: str = Field(min_length=1, max_length=200)
    company: str | None = Field(default=None, max_length=200)
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=120)
    postal_code: str | None = Field(default=None, max_length=20)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    phone: str | None = Field(default=None, max_length=40)
    default_shipping: bool = False
    default_billing: bool = False


class AddressOut(BaseModel):
    id: int
    customer_id: int
    label: str | None
    name: str
    company: str | None
    line1: str
    line2: str | None
    city: str
    postal_code: str | None
    country: str
    phone: str | None
    default_shipping: bool
    default_billing: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class SavedCartLine(StrictModel):
    sku: str = Field(min_length=1, max_length=100)
    quantity: int = Field(ge=1, le=99)


class SavedCartIn(StrictModel):
    name: str | None = Field(default=None, max_length=120)
    lines: list[SavedCartLine] = Field(min_length=1, max_length=50)


class SavedCartOut(BaseModel):
    id: int
    customer_id: int
    name: str
    lines: list[dict[str, Any]]
    created_at: dt.datetime
