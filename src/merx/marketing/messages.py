"""Recording messages before they are sent: one row per recipient and cause (`idem_key`),
inserted with ON CONFLICT DO NOTHING so a redelivered event or a resumed campaign batch adds
nothing twice. The content is rendered here, at queue time: a template that fails for one
recipient records that recipient as `skipped` with the reason (and logs it); the others go on."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from typing import Any, Iterable

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeSerializer

from merx.core.db import utcnow
from merx.core.uow import UnitOfWork
from merx.marketing.models import Message, Suppression
from merx.marketing.settings import get_marketing_settings
from merx.marketing.templating import RenderError, TemplateBook

log = logging.getLogger("merx.marketing")


def _insert(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    return insert


# -- signed tokens in links (click, unsubscribe, open) --------------------------------------------

def _serializer(settings: Any, purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(settings.verification_secrets(), salt=f"merx.marketing.{purpose}")


@functools.lru_cache(maxsize=32)
def _signer(secret: str, purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=f"merx.marketing.{purpose}")


def sign(settings: Any, purpose: str, payload: dict[str, Any]) -> str:
    return _signer(settings.current_secret, purpose).dumps(payload)


def unsign(settings: Any, purpose: str, token: str) -> dict[str, Any] | None:
    try:
        data = _serializer(settings, purpose).loads(token)
    except BadSignature:
        return None
    return data if isinstance(data, dict) else None


def tracked_link(settings: Any, idem_key: str) -> Any:
    base = get_marketing_settings().shop_url.rstrip("/")
    return lambda url: f"{base}/m/c/{sign(settings, 'click', {'k': idem_key, 'u': str(url)})}"


def unsubscribe_url(settings: Any, customer_id: int, channel: str, idem_key: str) -> str:
    base = get_marketing_settings().shop_url.rstrip("/")
    return f"{base}/m/u/{sign(settings, 'unsubscribe', {'c': customer_id, 'ch': channel, 'k': idem_key})}"


# -- suppression --------------------------------------------------------------------------------

def suppressed(uow: UnitOfWork, channel: str, addresses: Iterable[str]) -> set[str]:
    wanted = sorted({a for a in addresses if a})
    out: set[str] = set()
    for start in range(0, len(wanted), 500):
        out.update(uow.session.scalars(sa.select(Suppression.address).where(
            Suppression.channel == channel, Suppression.address.in_(wanted[start:start + 500]))))
    return out


def suppress(uow: UnitOfWork, channel: str, address: str, reason: str, detail: str | None = None) -> bool:
    """Adds the address to the suppression list (no-op when it is there). No commit."""
    result = uow.session.execute(_insert(uow.dialect)(Suppression).values(
        channel=channel, address=address.strip().lower(), reason=reason, detail=(detail or "")[:500] or None,
        created_at=utcnow()).on_conflict_do_nothing(index_elements=["channel", "address"]))
    return bool(result.rowcount)


# -- queueing -------------------------------------------------------------------------------------

def message_row(uow: UnitOfWork, book: TemplateBook, *, idem_key: str, kind: str, channel: str,
                customer: dict[str, Any] | None, address: str | None, template_key: str, context: dict[str, Any],
                due_at: dt.datetime, campaign_id: int | None = None, enrolment_id: int | None = None,
                variant: str | None = None, status: str | None = None, reason: str | None = None) -> dict[str, Any]:
    """The row to insert for one recipient: rendered (status queued) or skipped with a reason."""
    now = utcnow()
    row: dict[str, Any] = {
        "idem_key": idem_key[:200], "kind": kind, "channel": channel,
        "customer_id": customer.get("id") if customer else None, "address": address, "locale": None,
        "template_key": template_key, "campaign_id": campaign_id, "enrolment_id": enrolment_id, "variant": variant,
        "subject": None, "body_text": None, "body_html": None, "status": status or "queued", "reason": reason,
        "due_at": due_at, "attempts": 0, "created_at": now}
    if status is None and not address:
        row.update(status="skipped", reason=f"no {channel} address")
    if row["status"] != "queued":
        return row
    locale = (customer or {}).get("locale")
    try:
        link = tracked_link(uow.settings, idem_key) if kind == "marketing" else None
        rendered = book.render(template_key, locale, context, link=link)
    except RenderError as e:
        log.warning("message %s to customer %s skipped: %s", idem_key, row["customer_id"], e)
        row.update(status="skipped", reason=str(e)[:500])
        return row
    row.update(subject=rendered.subject, body_text=rendered.text, body_html=rendered.html, locale=rendered.locale)
    return row


def insert_rows(uow: UnitOfWork, rows: list[dict[str, Any]]) -> int:
    """Inserts the rows whose idem_key is new (one executemany per 500 rows: the statement is
    compiled once, not per batch). Returns how many rows were new where the driver reports it."""
    if not rows:
        return 0
    stmt = _insert(uow.dialect)(Message).on_conflict_do_nothing(index_elements=["idem_key"])
    inserted = 0
    for start in range(0, len(rows), 500):
        result = uow.session.connection().execute(stmt, rows[start:start + 500])
        inserted += max(result.rowcount or 0, 0)
    return inserted


def customer_context(customer: dict[str, Any]) -> dict[str, Any]:
    return {"id": customer.get("id"), "first_name": customer.get("first_name"),
            "last_name": customer.get("last_name"), "email": customer.get("email")}


def shop_context() -> dict[str, Any]:
    ms = get_marketing_settings()
    return {"name": ms.shop_name, "url": ms.shop_url.rstrip("/")}
