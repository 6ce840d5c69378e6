"""The OpenAPI document carries examples for the main request bodies (#20 Build 4), and each
example is a valid body: the model accepts it as it stands."""

from __future__ import annotations

import pytest

from merx.catalog.schemas import ProductCreate
from merx.customers.schemas import CustomerCreate
from merx.integration.schemas import WebhookCreate
from merx.orders.schemas import OrderCreate
from merx.pricing.schemas import PromotionCreate


@pytest.mark.parametrize("model", [OrderCreate, ProductCreate, CustomerCreate, WebhookCreate, PromotionCreate])
def test_examples_are_in_the_openapi_document_and_validate(app, model) -> None:
    schema = app.openapi()["components"]["schemas"][model.__name__]
    assert schema["examples"], model.__name__
    for example in schema["examples"]:
        model.model_validate(example)


def test_a_product_example_posted_as_is_creates_the_product(client, admin) -> None:
    example = dict(ProductCreate.model_json_schema()["examples"][0])
    for ref in ("category", "brand", "attributes"):  # reference data the empty test shop does not have
        example.pop(ref)
    r = client.post("/api/v1/products", json=example, headers=admin)
    assert r.status_code == 201, r.text
