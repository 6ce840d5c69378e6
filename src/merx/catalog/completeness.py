"""Completeness: which required texts, attributes, media and prices a product still lacks
per channel and locale (the rules themselves are in catalog/rules.py)."""

from __future__ import annotations

import sqlalchemy as sa

from merx.catalog import rules
from merx.catalog.models import AttributeSet, Category, Channel
from merx.catalog.products import readable_product
from merx.catalog.refs import DEFAULT_CHANNELS
from merx.catalog.schemas import CompletenessOut
from merx.core.errors import ValidationProblem
from merx.core.settings import Settings
from merx.core.uow import UnitOfWork


def effective_attribute_set(uow: UnitOfWork, category: Category | None) -> AttributeSet | None:
    """A category without its own set inherits its nearest ancestor's."""
    seen = set()
    while category is not None and category.id not in seen:
        seen.add(category.id)
        if category.attribute_set_id is not None:
            return uow.session.get(AttributeSet, category.attribute_set_id)
        category = uow.session.get(Category, category.parent_id) if category.parent_id else None
    return None


def product_completeness(uow: UnitOfWork, product_id: int, *, channel: str | None = None,
                         locale: str | None = None, settings: Settings | None = None) -> list[CompletenessOut]:
    s = (settings or uow.settings)
    p = readable_product(uow, product_id)
    channels = {c.code: c for c in uow.session.scalars(sa.select(Channel).order_by(Channel.id))}
    if not channels:
        channels = {spec["code"]: Channel(code=spec["code"], name=spec["name"], locales=[s.default_locale],
                                          currency=None, requires_media=spec["requires_media"])
                    for spec in DEFAULT_CHANNELS}
    if channel is not None:
        if channel not in channels:
            raise ValidationProblem.for_field("channel", f"no channel with code {channel!r}")
        channels = {channel: channels[channel]}
    if locale is not None and locale not in s.locales:
        raise ValidationProblem.for_field("locale", f"unknown locale {locale!r}")
    aset = effective_attribute_set(uow, p.category)
    required = [rules.RequiredAttribute(i.attribute.code, i.attribute.localizable)
                for i in (aset.items if aset else []) if i.required]
    prices = {pr.currency for pr in p.variants[0].prices} if p.variants else set()
    out = []
    for ch in channels.values():
        for loc in ([locale] if locale else (ch.locales or [s.default_locale])):
            c = rules.completeness(channel=ch.code, locale=loc, default_locale=s.default_locale, name=p.name,
                                   description=p.description, attributes=p.attributes, translations=p.translations,
                                   required_attributes=required, media=p.media, requires_media=ch.requires_media,
                                   prices=prices, currency=ch.currency)
            out.append(CompletenessOut(channel=c.channel, locale=c.locale, required=c.required, missing=c.missing,
                                       percent=c.percent))
    return out
