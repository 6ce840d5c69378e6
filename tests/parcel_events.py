"""Neutral, test-only events for the plumbing tests (relay, horizon, webhooks, NATS, the
dispatcher): a "parcel" aggregate moving through steps, and a "crate" aggregate, so no other
context's handlers are fed fake orders. Typed like every event (uow.emit takes Event
instances); not part of Merx, so not in the generated catalog."""

from __future__ import annotations

from typing import ClassVar

from merx.core.events import Event


class _ParcelEvent(Event):
    aggregate_type: ClassVar[str] = "parcel"
    aggregate_field: ClassVar[str] = "parcel_id"

    parcel_id: int | str
    n: int | str | None = None
    step: int | None = None


class ParcelRegistered(_ParcelEvent):
    event_type: ClassVar[str] = "parcel.registered"


class ParcelPicked(_ParcelEvent):
    event_type: ClassVar[str] = "parcel.picked"


class ParcelInTransit(_ParcelEvent):
    event_type: ClassVar[str] = "parcel.in_transit"


class ParcelDelivered(_ParcelEvent):
    event_type: ClassVar[str] = "parcel.delivered"


class CrateRegistered(Event):
    event_type: ClassVar[str] = "crate.registered"
    aggregate_type: ClassVar[str] = "crate"
    aggregate_field: ClassVar[str] = "crate_id"

    crate_id: int
    n: int | None = None


REGISTERED = {"parcel": ParcelRegistered, "crate": CrateRegistered}
