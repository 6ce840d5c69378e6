"""Catalog (PIM) tables: categories, brands, typed attributes and attribute sets, channels,
products with their variants, prices and channel publications.

Product-level texts in the default locale live in columns; other locales live in the
`translations` JSON ({locale: {"name", "description", "attributes"}}) so that reading a
product in any locale is one row, and fallback to the default locale is a dictionary lookup.
Prices are integer minor units per (variant, currency)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from merx.core.db import Base, IdPK, JSONType, UTCDateTime, utcnow


class AttributeSet(Base):
    __tablename__ = "catalog_attribute_sets"

    id: Mapped[IdPK]
    code: Mapped[str] = mapped_column(sa.String(100), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    items: Mapped[list["AttributeSetItem"]] = relationship(
        back_populates="attribute_set", cascade="all, delete-orphan", order_by="AttributeSetItem.position",
        lazy="selectin")


class Attribute(Base):
    __tablename__ = "catalog_attributes"

    id: Mapped[IdPK]
    code: Mapped[str] = mapped_column(sa.String(100), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    type: Mapped[str] = mapped_column(sa.String(16))  # text | number | enum | bool
    unit: Mapped[str | None] = mapped_column(sa.String(32))  # for numbers: "kg", "cm", "ml"...
    options: Mapped[Any] = mapped_column(JSONType, nullable=True)  # allowed values of an enum
    localizable: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AttributeSetItem(Base):
    __tablename__ = "catalog_attribute_set_items"

    attribute_set_id: Mapped[int] = mapped_column(
        sa.ForeignKey("catalog_attribute_sets.id", ondelete="CASCADE"), primary_key=True)
    attribute_id: Mapped[int] = mapped_column(
        sa.ForeignKey("catalog_attributes.id", ondelete="CASCADE"), primary_key=True, index=True)
    required: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    position: Mapped[int] = mapped_column(sa.Integer, default=0)

    attribute_set: Mapped[AttributeSet] = relationship(back_populates="items")
    attribute: Mapped[Attribute] = relationship(lazy="joined")


class Category(Base):
    __tablename__ = "catalog_categories"

    id: Mapped[IdPK]
    code: Mapped[str] = mapped_column(sa.String(100), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("catalog_categories.id"), index=True)
    attribute_set_id: Mapped[int | None] = mapped_column(sa.ForeignKey("catalog_attribute_sets.id"), index=True)
    translations: Mapped[Any] = mapped_column(JSONType, default=dict)  # {locale: {"name": ...}}
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Brand(Base):
    __tablename__ = "catalog_brands"

    id: Mapped[IdPK]
    code: Mapped[str] = mapped_column(sa.String(100), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # Other names shoppers type for the brand (transliterations, local spellings: "Самсунг",
    # "三星"); search indexes them beside the name.
    aliases: Mapped[Any] = mapped_column(JSONType, default=list, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Channel(Base):
    __tablename__ = "catalog_channels"

    id: Mapped[IdPK]
    code: Mapped[str] = mapped_column(sa.String(50), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # What "complete" means for this channel: the locales it publishes in, the currency a
    # product must be priced in, and whether it needs at least one image.
    locales: Mapped[Any] = mapped_column(JSONType, default=list)
    currency: Mapped[str | None] = mapped_column(sa.String(3))
    requires_media: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Product(Base):
    __tablename__ = "catalog_products"

    id: Mapped[IdPK]
    status: Mapped[str] = mapped_column(sa.String(16), index=True)  # draft | active | archived
    name: Mapped[str] = mapped_column(sa.String(500))  # in the default locale
    description: Mapped[str | None] = mapped_column(sa.Text)
    category_id: Mapped[int | None] = mapped_column(sa.ForeignKey("catalog_categories.id"), index=True)
    brand_id: Mapped[int | None] = mapped_column(sa.ForeignKey("catalog_brands.id"), index=True)
    seller_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)  # marketplace seller, no FK
    attributes: Mapped[Any] = mapped_column(JSONType, default=dict)  # {code: value}, default locale
    translations: Mapped[Any] = mapped_column(JSONType, default=dict)
    media: Mapped[Any] = mapped_column(JSONType, default=list)  # image URLs, first is the main one
    # Early access (catalog/early_access.py): before `launch_at` only staff and the members of
    # the CRM segment `early_access_segment_id` (a plain id: CRM sits above the catalog) see
    # and buy the product; null launch_at: on sale as soon as it is active.
    launch_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    early_access_segment_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    variants: Mapped[list["Variant"]] = relationship(
        back_populates="product", cascade="all, delete-orphan", order_by="(Variant.position, Variant.id)",
        lazy="selectin")
    category: Mapped[Category | None] = relationship(lazy="joined")
    brand: Mapped[Brand | None] = relationship(lazy="joined")
    publications: Mapped[list["ProductChannel"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin")


class Variant(Base):
    __tablename__ = "catalog_variants"

    id: Mapped[IdPK]
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("catalog_products.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str] = mapped_column(sa.String(100), unique=True)  # unique across the whole catalog
    ean: Mapped[str | None] = mapped_column(sa.String(14), index=True)
    options: Mapped[Any] = mapped_column(JSONType, default=dict)  # {"size": "M", "colour": "red"}
    position: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    product: Mapped[Product] = relationship(back_populates="variants")
    prices: Mapped[list["VariantPrice"]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="VariantPrice.currency")


class VariantPrice(Base):
    __tablename__ = "catalog_variant_prices"

    variant_id: Mapped[int] = mapped_column(sa.ForeignKey("catalog_variants.id", ondelete="CASCADE"),
                                            primary_key=True)
    currency: Mapped[str] = mapped_column(sa.String(3), primary_key=True)
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)


class ProductChannel(Base):
    __tablename__ = "catalog_product_channels"

    product_id: Mapped[int] = mapped_column(sa.ForeignKey("catalog_products.id", ondelete="CASCADE"),
                                            primary_key=True)
    channel_id: Mapped[int] = mapped_column(sa.ForeignKey("catalog_channels.id", ondelete="CASCADE"),
                                            primary_key=True, index=True)
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    channel: Mapped[Channel] = relationship(lazy="joined")


class ProductCost(Base):
    """What a product (variant_id null) or one variant costs the shop, per currency, from
    `effective_from` on: a history, never overwritten, so a sale takes the cost in force at
    its time (catalog/costs.py). A variant's own cost beats its product's."""

    __tablename__ = "catalog_costs"

    id: Mapped[IdPK]
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("catalog_products.id", ondelete="CASCADE"), index=True)
    variant_id: Mapped[int | None] = mapped_column(sa.ForeignKey("catalog_variants.id", ondelete="CASCADE"),
                                                   index=True)
    currency: Mapped[str] = mapped_column(sa.String(3))
    amount_minor: Mapped[int] = mapped_column(sa.BigInteger)
    effective_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(sa.String(32), default="manual")  # manual | csv | erp | demo
    reference: Mapped[str | None] = mapped_column(sa.String(200))  # the ERP's document, the file name...
    created_by_user_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.CheckConstraint("amount_minor >= 0", name="cost_not_negative"),
                      sa.Index("ix_catalog_costs_lookup", "product_id", "currency", "effective_from"))
