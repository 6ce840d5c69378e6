"""Channel feeds: the active products published to a channel, one item per variant (what
marketplaces and price-comparison sites ingest), with texts in the requested locale
falling back to the default locale."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import sqlalchemy as sa

from merx.catalog import rules
from merx.catalog.models import Category, Channel, Product, ProductChannel
from merx.catalog.refs import DEFAULT_CHANNELS
from merx.core.db import utcnow
from merx.core.errors import NotFound
from merx.core.money import Money
from merx.core.settings import Settings
from merx.core.spreadsheet import safe_row
from merx.core.uow import UnitOfWork

FEED_COLUMNS = ("id", "product_id", "title", "description", "brand", "category", "price", "currency", "ean",
                "options", "image_url", "additional_image_urls", "attributes")


def feed_items(uow: UnitOfWork, code: str, *, locale: str, settings: Settings) -> list[dict[str, Any]]:
    channel = uow.session.scalar(sa.select(Channel).where(Channel.code == code))
    if channel is None:
        if code in {c["code"] for c in DEFAULT_CHANNELS}:
            return []  # a default channel not created yet has nothing published to it
        raise NotFound(f"No channel with code {code!r}")
    categories = {c.id: c for c in uow.session.scalars(sa.select(Category))}
    dl = settings.default_locale
    items: list[dict[str, Any]] = []
    stmt = (sa.select(Product).join(ProductChannel, ProductChannel.product_id == Product.id)
            .where(ProductChannel.channel_id == channel.id, Product.status == "active",
                   # a feed is public: a product joins it at its launch, not before (early access)
                   sa.or_(Product.launch_at.is_(None), Product.launch_at <= utcnow()))
            .order_by(Product.id))
    for p in uow.session.scalars(stmt):
        path: list[str] = []
        cid = p.category_id
        while cid is not None and cid in categories and len(path) < 50:
            c = categories[cid]
            path.insert(0, rules.localized({loc: {"name": n} for loc, n in (c.translations or {}).items()},
                                           locale, dl, "name", c.name))
            cid = c.parent_id
        title = rules.localized(p.translations, locale, dl, "name", p.name)
        description = rules.localized(p.translations, locale, dl, "description", p.description)
        attributes = rules.localized_attributes(p.attributes, p.translations, locale, dl)
        for v in p.variants:
            prices = {pr.currency: pr.amount_minor for pr in v.prices}
            currency = channel.currency if channel.currency in prices else (
                settings.default_currency if settings.default_currency in prices else
                (sorted(prices)[0] if prices else None))
            if channel.currency and currency != channel.currency:
                continue  # not priced in the channel's currency: the channel cannot sell it
            options = dict(v.options or {})
            items.append({
                "id": v.sku, "product_id": p.id,
                "title": title + (" - " + ", ".join(options.values()) if options else ""),
                "description": description or "", "brand": p.brand.name if p.brand else "",
                "category": " > ".join(path),
                "price": Money.from_minor(prices[currency], currency).as_dict()["amount"] if currency else "",
                "currency": currency or "", "ean": v.ean or "", "options": options,
                "image_url": (p.media or [""])[0], "additional_image_urls": list((p.media or [])[1:]),
                "attributes": attributes,
            })
    return items


def channel_feed(uow: UnitOfWork, code: str, *, fmt: str, locale: str, settings: Settings) -> tuple[bytes, str]:
    items = feed_items(uow, code, locale=locale, settings=settings)
    if fmt == "json":
        body = {"channel": code, "locale": locale, "count": len(items), "items": items}
        return json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/json"
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(FEED_COLUMNS)
    for it in items:
        writer.writerow(safe_row([
            it["id"], it["product_id"], it["title"], it["description"], it["brand"], it["category"], it["price"],
            it["currency"], it["ean"], "|".join(f"{k}={v}" for k, v in it["options"].items()), it["image_url"],
            "|".join(it["additional_image_urls"]), json.dumps(it["attributes"], ensure_ascii=False, sort_keys=True),
        ]))
    return buf.getvalue().encode("utf-8"), "text/csv; charset=utf-8"
