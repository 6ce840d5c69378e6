"""The event catalog in the docs (docs/events.md and a JSON Schema per event) is generated
from the event classes and kept up to date; the classes are a registry with one class per
type and version."""

from __future__ import annotations

import json

import pytest

from merx.core.events import Event, event_class
from merx.integration.catalog_doc import DOC_PATH, SCHEMA_DIR, load_catalog, render_markdown, render_schemas


def test_docs_event_catalog_and_schemas_are_up_to_date():
    assert DOC_PATH.exists(), "docs/events.md is missing: run `merx events catalog`"
    assert DOC_PATH.read_text() == render_markdown(), "docs/events.md is stale: run `merx events catalog`"
    expected = render_schemas()
    on_disk = {p.name: p.read_text() for p in SCHEMA_DIR.glob("*.json")}
    assert sorted(on_disk) == sorted(expected), "docs/events/ is stale: run `merx events catalog`"
    for name, text in expected.items():
        assert on_disk[name] == text, f"docs/events/{name} is stale: run `merx events catalog`"


def test_catalog_lists_every_declared_type_with_its_payload(client, admin):
    catalog = load_catalog()
    assert catalog["webhook_endpoint.disabled"]["payload"]["endpoint_id"] == "integer"
    assert catalog["order.returned"]["payload"]["refund"] == "Money {amount, currency} or null"
    assert catalog["order.paid"]["payload"]["payment_fingerprint"] == "string or null"
    schema = json.loads((SCHEMA_DIR / "order.placed.v1.json").read_text())
    assert schema["additionalProperties"] is False and "lines" in schema["required"]
    served = client.get("/api/v1/events/catalog", headers=admin).json()
    assert set(served) == set(catalog)
    for event_type, spec in catalog.items():
        assert f"### `{event_type}`" in render_markdown(catalog)
        assert spec["aggregate"] and event_class(event_type).event_type == event_type


def test_a_second_class_for_the_same_type_and_version_is_refused():
    from typing import ClassVar

    with pytest.raises(TypeError, match="declared twice"):
        class AnotherOrderPaid(Event):  # noqa: F841 - declaring it is the test
            event_type: ClassVar[str] = "order.paid"
            aggregate_type: ClassVar[str] = "order"
            aggregate_field: ClassVar[str] = "order_id"

            order_id: int


def test_handlers_subscribe_to_classes_and_strings_only_for_catch_alls():
    from merx.core.events import MessageBus
    from merx.orders.events import OrderPaid

    bus = MessageBus()
    seen: list[str] = []
    bus.subscribe(OrderPaid, lambda event, _db: seen.append(type(event.data).__name__))
    bus.subscribe("order.*", lambda event, _db: seen.append(event.type))
    for wrong in ("order.paid", "order", OrderPaid.__mro__[1]):  # a name, a bare aggregate, a shared base
        with pytest.raises(TypeError):
            bus.subscribe(wrong, lambda event, _db: None)
    from merx.core.events import DomainEvent
    from merx.core.money import Money

    paid = OrderPaid(order_id=1, number="M-1", customer_id=None, status="paid", previous_status="confirmed",
                     total="5.00", currency="EUR", amount=Money.of("5.00", "EUR"), provider="test",
                     payment_fingerprint=None)
    bus.dispatch([DomainEvent.of(paid)])
    assert seen == ["OrderPaid", "order.paid"]
