"""Domain events the catalog emits (aggregate "product", version = the product's version)."""

from __future__ import annotations

from merx.core.events import describe_event

_COMMON = {
    "product_id": "int",
    "sku": "str: the default variant's SKU",
    "skus": "list[str]: every variant's SKU",
    "name": "str: name in the default locale",
    "status": "draft | active | archived",
    "category": "str | null: category code",
    "brand": "str | null: brand code",
    "seller_id": "int | null",
    "channels": "list[str]: channel codes the product is published to",
    "prices": "{sku: {currency: amount as decimal string}}",
}

PRODUCT_CREATED = describe_event("product.created", aggregate="product", payload=_COMMON,
                                 description="A product was created (API, import or bulk load).")
PRODUCT_UPDATED = describe_event("product.updated", aggregate="product",
                                 payload={**_COMMON, "changed": "list[str]: top-level fields that changed"},
                                 description="A product changed; emitted once per write that changed something.")
PRODUCT_PRICE_CHANGED = describe_event(
    "product.price_changed", aggregate="product",
    payload={"product_id": "int", "sku": "str", "currency": "str",
             "old_amount": "str | null (null: the price is new)", "new_amount": "str | null (null: removed)"},
    description="One variant's price in one currency changed (alongside product.updated).")
PRODUCT_ARCHIVED = describe_event("product.archived", aggregate="product",
                                  payload={"product_id": "int", "skus": "list[str]"},
                                  description="A product was archived (DELETE /products/{id}); it leaves the public catalog.")
PRODUCT_DELETED = describe_event("product.deleted", aggregate="product",
                                 payload={"product_id": "int", "skus": "list[str]"},
                                 description="A product was removed for good (admin purge).")
