"""Editing templates, previewing one with a real customer's profile, and a test send."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.errors import FieldError, NotFound, ValidationProblem
from merx.core.ids import new_ulid
from merx.core.uow import UnitOfWork
from merx.customers import public as customers
from merx.marketing import defaults
from merx.marketing.messages import customer_context, insert_rows, message_row, shop_context
from merx.marketing.models import MessageTemplate
from merx.marketing.templating import RenderError, TemplateBook, check_syntax

# What a preview or test send shows for the parts of the context only a real event has.
SAMPLE = {
    "order": {"id": 1001, "number": "M-1001", "total": "129.90", "currency": "EUR", "status": "confirmed",
              "lines": [{"sku": "TSHIRT-BLUE-M", "quantity": 2, "line_total": "59.90"},
                        {"sku": "MUG-WHITE", "quantity": 1, "line_total": "70.00"}]},
    "payment": {"amount": "129.90", "currency": "EUR"},
    "store": {"code": "WAW-1", "name": "Warsaw Centre", "address": "ul. Marszałkowska 100, Warsaw",
              "hours": "Mon 09:00-20:00; Sat 10:00-16:00"},
    "tracking": {"carrier": "DPD", "number": "0123456789", "url": "https://tracking.example/0123456789"},
    "refund": {"amount": "59.90", "currency": "EUR"},
    "giveaway": {"id": 1, "name": "Summer giveaway"},
    "campaign": {"id": 1, "name": "Sample campaign"},
    "journey": {"key": "abandoned_cart", "name": "Abandoned cart", "reference": "cart:1"},
}


def list_templates(uow: UnitOfWork, channel: str = "email") -> list[dict[str, Any]]:
    edited = {(t.key, t.locale): t for t in uow.session.scalars(sa.select(MessageTemplate).where(
        MessageTemplate.channel == channel))}
    keys = sorted(set(defaults.BUILT_IN) | {k for k, _ in edited})
    out = []
    for key in keys:
        locales = sorted(set(defaults.BUILT_IN.get(key, {})) | {loc for k, loc in edited if k == key})
        out.append({"key": key, "kind": defaults.kind_of(key), "channel": channel, "locales": locales,
                    "edited": sorted(loc for k, loc in edited if k == key)})
    return out


def get_template(uow: UnitOfWork, key: str, locale: str, channel: str = "email") -> dict[str, Any]:
    src = TemplateBook(uow, channel).source(key, locale)
    return {"key": key, "locale": src.locale, "requested_locale": locale, "channel": channel,
            "kind": defaults.kind_of(key), "subject": src.subject, "body_text": src.text, "body_html": src.html,
            "edited": src.edited}


def save_template(uow: UnitOfWork, key: str, locale: str, *, subject: str, body_text: str, body_html: str | None,
                  channel: str = "email") -> dict[str, Any]:
    if locale not in uow.settings.locales:
        raise ValidationProblem.for_field("locale", f"{locale!r} is not a supported locale")
    problems = check_syntax(subject, body_text, body_html)
    if problems:
        raise ValidationProblem("The template does not compile", errors=[FieldError(f, m, "template_syntax")
                                                                         for f, m in problems])
    row = uow.session.scalar(sa.select(MessageTemplate).where(MessageTemplate.key == key,
                                                              MessageTemplate.locale == locale,
                                                              MessageTemplate.channel == channel))
    before = None
    if row is None:
        row = MessageTemplate(key=key, locale=locale, channel=channel, kind=defaults.kind_of(key), subject=subject,
                              body_text=body_text, body_html=body_html, version=1, updated_at=utcnow())
        uow.session.add(row)
    else:
        before = {"subject": row.subject, "version": row.version}
        row.subject, row.body_text, row.body_html = subject, body_text, body_html
        row.version += 1
        row.updated_at = utcnow()
    uow.session.flush()
    uow.audit("update", "message_template", row.id, before=before, after={"key": key, "locale": locale,
                                                                            "subject": subject, "version": row.version})
    uow.commit()
    return get_template(uow, key, locale, channel)


def _profile(uow: UnitOfWork, customer_id: int | None) -> dict[str, Any]:
    if customer_id is None:
        return {"id": None, "first_name": "Alex", "last_name": "Sample", "email": "alex@example.com", "locale": None}
    try:
        customers.get_customer(uow, customer_id)  # visibility check (404 for a record the caller may not see)
    except NotFound:
        raise ValidationProblem.for_field("customer_id", "no such customer", "unknown_customer") from None
    found = customers.customer_attributes(uow, [customer_id])
    return found[0] if found else {"id": customer_id}


def preview(uow: UnitOfWork, key: str, locale: str | None, customer_id: int | None) -> dict[str, Any]:
    person = _profile(uow, customer_id)
    book = TemplateBook(uow)
    try:
        rendered = book.render(key, locale or person.get("locale"), dict(SAMPLE, customer=customer_context(person),
                                                                         shop=shop_context()))
    except RenderError as e:
        raise ValidationProblem.for_field("template", str(e), "render_failed") from None
    return {"key": key, "locale": rendered.locale, "subject": rendered.subject, "body_text": rendered.text,
            "body_html": rendered.html, "customer_id": person.get("id")}


def test_send(uow: UnitOfWork, key: str, locale: str | None, to: str, customer_id: int | None) -> dict[str, Any]:
    """Queues one message (kind "test", no consent or window rules: it goes to staff) that the
    sender delivers on its next pass. Commits."""
    person = _profile(uow, customer_id)
    book = TemplateBook(uow)
    idem = f"test:{new_ulid()}"
    row = message_row(uow, book, idem_key=idem, kind="test", channel="email", customer=dict(person, locale=locale or person.get("locale")),
                      address=to, template_key=key, due_at=utcnow(),
                      context=dict(SAMPLE, customer=customer_context(person), shop=shop_context()))
    if row["status"] != "queued":
        raise ValidationProblem.for_field("template", row["reason"] or "cannot be rendered", "render_failed")
    row["customer_id"] = None  # a test is not a message to the customer: no cap, no report
    insert_rows(uow, [row])
    uow.audit("test_send", "message_template", key, after={"to": to, "locale": locale})
    uow.commit()
    return {"idem_key": idem, "status": "queued", "to": to}
