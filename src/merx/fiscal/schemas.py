"""API shapes of the fiscal context (taxes and shipping)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from merx.core.schemas import StrictModel

TaxClass = Literal["standard", "reduced", "zero"]


class TaxRateIn(StrictModel):
    country: str = Field(pattern=r"^[A-Z]{2}$")
    tax_class: TaxClass
    rate: str = Field(pattern=r"^[0-9]{1,2}(\.[0-9]{1,2})?$", description="percent, e.g. \"23\" or \"5.5\"")
    valid_from: dt.date
    valid_to: dt.date | None = None
    note: str | None = Field(None, max_length=200)


class TaxRateOut(BaseModel):
    id: int
    country: str
    tax_class: str
    rate: str
    valid_from: dt.date
    valid_to: dt.date | None
    note: str | None


class ChannelTaxModeIn(StrictModel):
    prices_include_tax: bool


class ChannelTaxModeOut(BaseModel):
    channel: str
    prices_include_tax: bool


class ZoneIn(StrictModel):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=200)
    countries: list[str] = Field(min_length=1, max_length=250)
    postcode_prefixes: list[str] = Field(default_factory=list, max_length=500)

    @field_validator("countries")
    @classmethod
    def _countries(cls, v: list[str]) -> list[str]:
        for c in v:
            if len(c) != 2 or not c.isascii() or not c.isalpha() or not c.isupper():
                raise ValueError(f"{c!r} is not an ISO 3166 alpha-2 country code")
        return v


class Bracket(StrictModel):
    from_: str = Field(alias="from", pattern=r"^[0-9]{1,9}(\.[0-9]{1,3})?$")
    price: str = Field(pattern=r"^[0-9]{1,9}(\.[0-9]{1,4})?$")


class MethodIn(StrictModel):
    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=200)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    basis: Literal["flat", "weight", "subtotal", "items"]
    brackets: list[Bracket] = Field(min_length=1, max_length=50)
    free_over: str | None = Field(None, pattern=r"^[0-9]{1,9}(\.[0-9]{1,4})?$")


class ZonePatch(StrictModel):
    """What changes in a zone (its code stays: methods and orders name it)."""
    name: str | None = Field(None, min_length=1, max_length=200)
    countries: list[str] | None = Field(None, min_length=1, max_length=250)
    postcode_prefixes: list[str] | None = Field(None, max_length=500)

    @field_validator("countries")
    @classmethod
    def _countries(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else ZoneIn._countries(v)


class MethodPatch(StrictModel):
    """What changes in a method: its name, rate table, free-over amount (null: never free) and
    whether checkout offers it. Code and currency stay (a new method for another currency)."""
    name: str | None = Field(None, min_length=1, max_length=200)
    basis: Literal["flat", "weight", "subtotal", "items"] | None = None
    brackets: list[Bracket] | None = Field(None, min_length=1, max_length=50)
    free_over: str | None = Field(None, pattern=r"^[0-9]{1,9}(\.[0-9]{1,4})?$")
    active: bool | None = None


class MethodOut(BaseModel):
    id: int
    zone: str
    code: str
    name: str
    currency: str
    basis: str
    brackets: list[dict]
    free_over: str | None
    active: bool


class ZoneOut(BaseModel):
    id: int
    code: str
    name: str
    countries: list[str]
    postcode_prefixes: list[str]
    methods: list[MethodOut]


class TaxLineOut(BaseModel):
    country: str
    tax_class: str
    rate: str
    net: str
    tax: str
    currency: str
    reverse_charge: bool
