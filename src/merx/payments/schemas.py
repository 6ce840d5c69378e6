"""API shapes of the payments context."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from merx.core.schemas import StrictModel


class MoneyOperationIn(StrictModel):
    amount: str | None = Field(None, max_length=20, description="decimal string; omitted: all that is left")
    reason: str | None = Field(None, max_length=300)


class IntentOut(BaseModel):
    id: int
    provider: str
    reference: str
    order_id: int
    order_number: str
    currency: str
    status: str
    amount: str
    authorized: str
    captured: str
    refunded: str
    action_url: str | None
    note: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


class OperationOut(BaseModel):
    id: int
    kind: str
    amount: str
    status: str
    idempotency_key: str
    provider_reference: str | None
    message: str | None
    created_at: dt.datetime


class IntentDetailOut(IntentOut):
    operations: list[OperationOut]
    notifications: list["NotificationOut"]


class NotificationOut(BaseModel):
    id: int
    provider: str
    event_id: str
    event_type: str
    reference: str
    intent_id: int | None
    amount: str | None
    outcome: str
    detail: str | None
    received_at: dt.datetime


class WebhookAck(BaseModel):
    received: int
    outcomes: list[str]


class StatementLineOut(BaseModel):
    id: int
    source: str
    entry_ref: str
    booked_on: dt.date | None
    amount: str
    currency: str
    remittance: str | None
    counterparty: str | None
    status: str
    reason: str | None
    order_number: str | None
    imported_at: dt.datetime


class StatementImportOut(BaseModel):
    lines: int
    matched: int
    queued: int
    already_imported: int
    items: list[StatementLineOut]


class ProviderOut(BaseModel):
    name: str
    label: str
    enabled: bool
    settles_later: bool
    webhook_url: str | None


IntentDetailOut.model_rebuild()
