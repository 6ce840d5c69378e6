"""The tracked-event vocabulary, version 1: every event type a client may send to
`POST /api/v1/events`, with the properties each accepts.

A property spec is `(kind, required)`; kinds:
  str      text up to 500 characters         url      text up to 2,000 characters
  int      integer                           count    integer >= 0
  money    decimal string ("19.99"), never a float
  currency ISO 4217 code                     rating   integer 1..5
  bool     true/false                        list     list of up to 100 scalars

Unknown properties are rejected (a typo should fail loudly, not vanish); `custom` events take
any properties. System types (orders, tickets) are written by Merx itself from domain
events and cannot be posted by clients. Adding a type or an optional property keeps the
version; changing or removing one bumps VOCABULARY_VERSION."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from merx.core.money import CURRENCY_EXPONENTS

VOCABULARY_VERSION = 1

CHANNELS = ("web", "app", "store", "marketplace", "messaging", "email", "ads", "system")

IDENTIFIER_KINDS = ("email", "phone", "loyalty_card", "store_customer", "marketplace_buyer", "messaging_openid",
                    "customer_id")

_PRODUCT = {"product_id": ("str", False), "sku": ("str", False), "name": ("str", False), "category": ("str", False),
            "price": ("money", False), "currency": ("currency", False)}

EVENT_TYPES: dict[str, dict[str, Any]] = {
    "page_view": {"funnel": "visit", "properties": {"url": ("url", True), "title": ("str", False),
                                                     "referrer": ("url", False), "path": ("url", False)}},
    "product_view": {"funnel": "interest", "properties": {**_PRODUCT}},
    "search": {"funnel": "interest", "properties": {"query": ("str", True), "results": ("count", False)}},
    "add_to_cart": {"funnel": "cart", "properties": {**_PRODUCT, "quantity": ("count", False), "cart_id": ("str", False)}},
    "remove_from_cart": {"funnel": None, "properties": {**_PRODUCT, "quantity": ("count", False),
                                                         "cart_id": ("str", False)}},
    "checkout_started": {"funnel": "checkout", "properties": {"cart_id": ("str", False), "value": ("money", False),
                                                               "currency": ("currency", False),
                                                               "items": ("count", False)}},
    "purchase": {"funnel": "purchase", "properties": {"order_id": ("str", False), "value": ("money", True),
                                                       "currency": ("currency", True), "items": ("count", False)}},
    "refund": {"funnel": None, "properties": {"order_id": ("str", False), "value": ("money", True),
                                               "currency": ("currency", True)}},
    "ad_click": {"funnel": "visit", "properties": {"ad_id": ("str", False), "network": ("str", False),
                                                    "url": ("url", False)}},
    "qr_scan": {"funnel": "visit", "properties": {"qr_id": ("str", True), "placement": ("str", False),
                                                   "url": ("url", False)}},
    "email_open": {"funnel": None, "properties": {"message_id": ("str", False), "campaign_id": ("str", False)}},
    "email_click": {"funnel": "visit", "properties": {"message_id": ("str", False), "url": ("url", False)}},
    "message_received": {"funnel": None, "properties": {"platform": ("str", True), "text": ("str", False),
                                                         "message_id": ("str", False)}},
    "store_visit": {"funnel": "visit", "properties": {"store": ("str", True), "duration_s": ("count", False)}},
    "review": {"funnel": None, "properties": {"product_id": ("str", False), "sku": ("str", False),
                                               "rating": ("rating", True), "text": ("str", False)}},
    "signup": {"funnel": "interest", "properties": {"method": ("str", False)}},
    "login": {"funnel": None, "properties": {"method": ("str", False)}},
    "custom": {"funnel": None, "properties": None},
    # Written by Merx from domain events (orders, tickets), not accepted from clients.
    "order_placed": {"funnel": "purchase", "system": True, "properties": None},
    "order_paid": {"funnel": "purchase", "system": True, "properties": None},
    "order_cancelled": {"funnel": None, "system": True, "properties": None},
    "order_refunded": {"funnel": None, "system": True, "properties": None},
    "order_returned": {"funnel": None, "system": True, "properties": None},
    "order_fulfilled": {"funnel": None, "system": True, "properties": None},
    "ticket_opened": {"funnel": None, "system": True, "properties": None},
    "ticket_updated": {"funnel": None, "system": True, "properties": None},
    "ticket_closed": {"funnel": None, "system": True, "properties": None},
}

# The funnel's stages in order; a profile's stage is the furthest one its events reached.
FUNNEL_STAGES = ("visit", "interest", "cart", "checkout", "purchase")

MAX_PROPERTIES_BYTES = 8_192
_ENVELOPE = frozenset({"type", "anonymous_id", "customer", "channel", "timestamp", "properties", "source", "campaign",
                       "schema_version"})
MAX_ID_LEN = 64
_MONEY_RE = re.compile(r"^-?\d{1,15}(\.\d{1,8})?$")


def describe_vocabulary() -> dict[str, Any]:
    return {
        "version": VOCABULARY_VERSION,
        "channels": list(CHANNELS),
        "identifiers": list(IDENTIFIER_KINDS),
        "funnel_stages": list(FUNNEL_STAGES),
        "types": {
            name: {
                "funnel_stage": spec["funnel"],
                "system": bool(spec.get("system")),
                "properties": None if spec["properties"] is None else {
                    k: {"kind": kind, "required": req} for k, (kind, req) in spec["properties"].items()},
            }
            for name, spec in EVENT_TYPES.items()
        },
    }


def _check_value(kind: str, value: Any) -> str | None:
    """None when `value` fits `kind`, else what is wrong."""
    if kind in ("str", "url"):
        limit = 500 if kind == "str" else 2000
        if not isinstance(value, str):
            return "must be a string"
        return f"longer than {limit} characters" if len(value) > limit else None
    if kind in ("int", "count", "rating"):
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be an integer"
        if kind == "count" and value < 0:
            return "must not be negative"
        if kind == "rating" and not 1 <= value <= 5:
            return "must be between 1 and 5"
        return None
    if kind == "money":
        if not isinstance(value, str) or not _MONEY_RE.match(value):
            return 'must be a decimal string such as "19.99", not a float'
        return None
    if kind == "currency":
        return None if isinstance(value, str) and value in CURRENCY_EXPONENTS else "is not an ISO 4217 currency code"
    if kind == "bool":
        return None if isinstance(value, bool) else "must be true or false"
    if kind == "list":
        if not isinstance(value, list) or len(value) > 100:
            return "must be a list of at most 100 items"
        return None
    return f"unknown kind {kind}"


def parse_timestamp(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 timestamp string")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("must carry a UTC offset (for example 2026-01-31T12:00:00Z)")
    return parsed.astimezone(dt.timezone.utc)


def validate_event(item: Any, *, now: dt.datetime, allow_system: bool = False,
                   future_skew: dt.timedelta = dt.timedelta(minutes=10),
                   oldest: dt.timedelta = dt.timedelta(days=3650)) -> tuple[dict[str, Any] | None, list[dict[str, str]]]:
    """Checks one event of a batch. Returns (normalised event, []) or (None, errors); each
    error is {"field", "message"}. Hand-written rather than a Pydantic model per type: a
    batch of 1,000 is validated item by item so that bad items do not sink good ones, and
    this path is the ingestion hot loop."""
    errors: list[dict[str, str]] = []
    if not isinstance(item, dict):
        return None, [{"field": "", "message": "must be an object"}]
    if not item.keys() <= _ENVELOPE:
        errors.extend({"field": key, "message": "unknown field"} for key in item if key not in _ENVELOPE)
    etype = item.get("type")
    spec = EVENT_TYPES.get(etype) if isinstance(etype, str) else None
    if spec is None:
        errors.append({"field": "type", "message": f"{etype!r} is not an event type of vocabulary v{VOCABULARY_VERSION}"})
    elif spec.get("system") and not allow_system:
        errors.append({"field": "type", "message": f"{etype} is recorded by Merx itself and cannot be posted"})
    version = item.get("schema_version", VOCABULARY_VERSION)
    if version != VOCABULARY_VERSION:
        errors.append({"field": "schema_version", "message": f"only version {VOCABULARY_VERSION} is supported"})
    anon = item.get("anonymous_id")
    if anon is not None and (not isinstance(anon, str) or not anon.strip() or len(anon) > MAX_ID_LEN):
        errors.append({"field": "anonymous_id", "message": f"must be a non-empty string of at most {MAX_ID_LEN} characters"})
    customer = item.get("customer")
    identifiers: dict[str, str] = {}
    if customer is not None:
        if not isinstance(customer, dict):
            errors.append({"field": "customer", "message": "must be an object of identifiers"})
        else:
            for key, value in customer.items():
                if key not in IDENTIFIER_KINDS:
                    errors.append({"field": f"customer.{key}", "message": "unknown identifier kind"})
                elif key == "customer_id":
                    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                        errors.append({"field": "customer.customer_id", "message": "must be a positive integer"})
                    else:
                        identifiers[key] = str(value)
                elif not isinstance(value, str) or not value.strip() or len(value) > 320:
                    errors.append({"field": f"customer.{key}", "message": "must be a non-empty string"})
                else:
                    identifiers[key] = value.strip()
    if anon is None and not identifiers:
        errors.append({"field": "anonymous_id", "message": "an event needs an anonymous_id or a customer identifier"})
    channel = item.get("channel", "web")
    if channel not in CHANNELS:
        errors.append({"field": "channel", "message": f"must be one of {', '.join(CHANNELS)}"})
    occurred = now
    if "timestamp" in item:
        try:
            occurred = parse_timestamp(item["timestamp"])
            if occurred > now + future_skew:
                errors.append({"field": "timestamp", "message": "is in the future"})
            elif occurred < now - oldest:
                errors.append({"field": "timestamp", "message": "is more than ten years old"})
        except ValueError as e:
            errors.append({"field": "timestamp", "message": str(e) if "must" in str(e) else "is not an ISO 8601 timestamp"})
    for key in ("source", "campaign"):
        value = item.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > 100):
            errors.append({"field": key, "message": "must be a string of at most 100 characters"})
    props = item.get("properties", {})
    if props is None:
        props = {}
    if not isinstance(props, dict):
        errors.append({"field": "properties", "message": "must be an object"})
    elif spec is not None:
        schema = spec["properties"]
        if schema is not None:
            for key, value in props.items():
                if key not in schema:
                    errors.append({"field": f"properties.{key}", "message": f"unknown property for {etype}"})
                    continue
                problem = _check_value(schema[key][0], value)
                if problem:
                    errors.append({"field": f"properties.{key}", "message": problem})
            for key, (_kind, required) in schema.items():
                if required and key not in props:
                    errors.append({"field": f"properties.{key}", "message": "is required"})
        elif props:
            try:
                size = len(json.dumps(props))
            except (TypeError, ValueError):
                size = MAX_PROPERTIES_BYTES + 1
            if size > MAX_PROPERTIES_BYTES:
                errors.append({"field": "properties", "message": f"larger than {MAX_PROPERTIES_BYTES} bytes"})
    if errors:
        return None, errors
    return {
        "type": etype,
        "anonymous_id": anon.strip() if isinstance(anon, str) else None,
        "identifiers": identifiers,
        "channel": channel,
        "occurred_at": occurred,
        "source": item.get("source"),
        "campaign": item.get("campaign"),
        "properties": props or None,
    }, []


def money_value(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None
