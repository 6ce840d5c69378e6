"""Domain events the catalog emits (aggregate "product", version = the product's version)."""

from __future__ import annotations

from typing import ClassVar, Literal

from merx.core.events import Amount, Currency, Event, Timestamp

ProductStatus = Literal["draft", "active", "archived"]


class _ProductEvent(Event):
    aggregate_type: ClassVar[str] = "product"
    aggregate_field: ClassVar[str] = "product_id"

    product_id: int


class _ProductState(_ProductEvent):
    sku: str  # the default variant's SKU
    skus: list[str]  # every variant's SKU
    name: str  # in the default locale
    status: ProductStatus
    category: str | None  # category code
    brand: str | None  # brand code
    seller_id: int | None
    channels: list[str]  # channel codes the product is published to
    prices: dict[str, dict[Currency, Amount]]  # {sku: {currency: amount}}
    # Early access: before launch_at only the members of CRM segment early_access_segment
    # (and the back office) see and buy the product; null launch_at: public once active.
    launch_at: Timestamp | None = None
    early_access_segment: int | None = None


class ProductCreated(_ProductState):
    """A product was created (API, import or bulk load)."""

    event_type: ClassVar[str] = "product.created"


class ProductUpdated(_ProductState):
    """A product changed; emitted once per write that changed something. `changed` names the
    top-level fields that changed."""

    event_type: ClassVar[str] = "product.updated"

    changed: list[str]


class ProductPriceChanged(_ProductEvent):
    """One variant's price in one currency changed (alongside product.updated). `old_amount`
    is null when the price is new, `new_amount` when it was removed."""

    event_type: ClassVar[str] = "product.price_changed"

    sku: str
    currency: Currency
    old_amount: Amount | None
    new_amount: Amount | None


class ProductArchived(_ProductEvent):
    """A product was archived (DELETE /products/{id}); it leaves the public catalog."""

    event_type: ClassVar[str] = "product.archived"

    skus: list[str]


class ProductDeleted(_ProductEvent):
    """A product was removed for good (admin purge)."""

    event_type: ClassVar[str] = "product.deleted"

    skus: list[str]


class BrandUpdated(Event):
    """A brand's name or aliases changed: its products' search documents change with it
    (search re-indexes them). `product_ids`: the brand's products at the time."""

    aggregate_type: ClassVar[str] = "brand"
    aggregate_field: ClassVar[str] = "brand_id"
    event_type: ClassVar[str] = "brand.updated"

    brand_id: int
    code: str
    name: str
    aliases: list[str]
    product_ids: list[int]
