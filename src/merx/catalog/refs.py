"""Reference data caches: codes resolved to rows once per unit of work or import run (`Refs`),
and the channels every installation has (`ensure_default_channels`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from merx.catalog.models import Attribute, Brand, Category, Channel
from merx.core.settings import Settings
from merx.core.uow import UnitOfWork

# Channels every installation has; created on first use (tests and fresh databases start empty).
DEFAULT_CHANNELS: tuple[dict[str, Any], ...] = (
    {"code": "web", "name": "Web shop", "requires_media": False},
    {"code": "store", "name": "Physical stores", "requires_media": False},
    {"code": "marketplace", "name": "Marketplaces", "requires_media": True},
    {"code": "b2b", "name": "B2B portal", "requires_media": False},
)



@dataclass
class Refs:
    """Codes resolved to rows, cached for the duration of one operation (an import of
    thousands of rows resolves each category once)."""

    uow: UnitOfWork
    settings: Settings
    categories: dict[str, Category | None] = field(default_factory=dict)
    brands: dict[str, Brand | None] = field(default_factory=dict)
    attributes: dict[str, Attribute] | None = None
    channels: dict[str, Channel] | None = None
    sellers: dict[int, bool] = field(default_factory=dict)

    def category(self, code: str) -> Category | None:
        if code not in self.categories:
            self.categories[code] = self.uow.session.scalar(sa.select(Category).where(Category.code == code))
        return self.categories[code]

    def brand(self, code: str) -> Brand | None:
        if code not in self.brands:
            self.brands[code] = self.uow.session.scalar(sa.select(Brand).where(Brand.code == code))
        return self.brands[code]

    def attribute_map(self) -> dict[str, Attribute]:
        if self.attributes is None:
            self.attributes = {a.code: a for a in self.uow.session.scalars(sa.select(Attribute))}
        return self.attributes

    def channel_map(self) -> dict[str, Channel]:
        if self.channels is None:
            self.channels = {c.code: c for c in self.uow.session.scalars(sa.select(Channel))}
        return self.channels

    def seller_exists(self, seller_id: int) -> bool:
        if seller_id not in self.sellers:
            from merx.marketplace import public as marketplace

            self.sellers[seller_id] = marketplace.get_seller(self.uow, seller_id) is not None
        return self.sellers[seller_id]


def ensure_default_channels(uow: UnitOfWork, settings: Settings | None = None) -> dict[str, Channel]:
    s = (settings or uow.settings)
    existing = {c.code: c for c in uow.session.scalars(sa.select(Channel))}
    for spec in DEFAULT_CHANNELS:
        if spec["code"] not in existing:
            ch = Channel(code=spec["code"], name=spec["name"], locales=[s.default_locale], currency=None,
                         requires_media=spec["requires_media"])
            uow.session.add(ch)
            existing[ch.code] = ch
    uow.session.flush()
    return existing
