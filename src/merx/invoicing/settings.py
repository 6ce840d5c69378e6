"""Invoicing settings (MERX_INVOICE_*)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class InvoicingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MERX_INVOICE_", extra="ignore")

    issue_on: Literal["payment", "shipment"] = Field(
        default="payment", description="Issue the invoice when the order is paid, or when it is shipped or collected.")
    series: str = Field(default="INV", max_length=16, description="Invoice number series (INV/2026/000001).")
    credit_series: str = Field(default="CN", max_length=16, description="Credit note number series.")
    seller_name: str = Field(default="Merx Demo Shop sp. z o.o.", max_length=200)
    seller_address: str = Field(default="ul. Prosta 1, 00-838 Warszawa, PL", max_length=300)
    seller_vat_id: str = Field(default="PL5250000000", max_length=20)


@lru_cache
def get_invoicing_settings() -> InvoicingSettings:
    return InvoicingSettings()
