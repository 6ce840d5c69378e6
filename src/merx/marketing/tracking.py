"""QR codes (segno) and touches: QR scans through the short redirect `/q/{code}`, clicks and
opens from messages (signed links), one-click unsubscribes (RFC 8058), and the link from a
browser's marketing cookie to the customer who then ordered.

segno, because it is a pure-Python QR encoder with no dependencies (no Pillow) that writes
SVG and PNG itself and follows ISO/IEC 18004; the images are made on request, nothing is stored."""

from __future__ import annotations

import datetime as dt
import io
import secrets
from typing import Any

import segno
import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.errors import NotFound, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.crm import public as crm
from merx.marketing.messages import unsign
from merx.marketing.models import Campaign, Message, QrCode, Touch
from merx.marketing.settings import get_marketing_settings

VISITOR_COOKIE = "merx_mkt"  # the browser's marketing id: touches before an order are linked to its customer
SOURCES = ("flyer", "poster", "packaging", "business_card", "other")
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes (l/1, o/0): codes get typed too


def _check_target(url: str) -> str:
    url = url.strip()
    if url.startswith("/") and not url.startswith("//"):
        return url
    if url.startswith(("https://", "http://")) and len(url) <= 1000:
        return url
    raise ValidationProblem.for_field("target_url", "a path on the shop (/...) or an http(s) URL")


def create_qr(uow: UnitOfWork, *, label: str, source: str, target_url: str, campaign_id: int | None = None) -> QrCode:
    if source not in SOURCES:
        raise ValidationProblem.for_field("source", f"one of {', '.join(SOURCES)}")
    if campaign_id is not None and uow.session.get(Campaign, campaign_id) is None:
        raise ValidationProblem.for_field("campaign_id", "no such campaign", "unknown_campaign")
    qr = QrCode(code="".join(secrets.choice(_ALPHABET) for _ in range(8)), label=label, source=source,
                target_url=_check_target(target_url), campaign_id=campaign_id)
    uow.session.add(qr)
    uow.session.flush()
    uow.audit("create", "qr_code", qr.id, after={"code": qr.code, "label": label, "source": source})
    uow.created("qr_code", qr.id)
    uow.commit()
    return qr


def get_qr(uow: UnitOfWork, qr_id: int) -> QrCode:
    qr = uow.session.get(QrCode, qr_id)
    if qr is None:
        raise NotFound(f"No QR code {qr_id}")
    return qr


def short_url(code: str) -> str:
    return f"{get_marketing_settings().shop_url.rstrip('/')}/q/{code}"


def qr_image(qr: QrCode, fmt: str, scale: int = 8) -> tuple[bytes, str]:
    """The QR code for the short URL as SVG or PNG (error correction M: survives a smudge)."""
    code = segno.make(short_url(qr.code), error="m", micro=False)
    buf = io.BytesIO()
    if fmt == "svg":
        code.save(buf, kind="svg", scale=scale, border=4)
        return buf.getvalue(), "image/svg+xml"
    if fmt == "png":
        code.save(buf, kind="png", scale=scale, border=4)
        return buf.getvalue(), "image/png"
    raise ValidationProblem.for_field("format", "svg or png")


def record_scan(uow: UnitOfWork, code: str, visitor: str, at: dt.datetime | None = None) -> str:
    """Records a `qr_scan` touch and returns where to send the browser. Commits."""
    qr = uow.session.scalar(sa.select(QrCode).where(QrCode.code == code))
    if qr is None:
        raise NotFound("This code is not one of ours (or it was removed).")
    uow.session.add(Touch(kind="qr_scan", campaign_id=qr.campaign_id, qr_code_id=qr.id, visitor=visitor[:40],
                          occurred_at=at or utcnow()))
    uow.commit()
    return qr.target_url


def _message(uow: UnitOfWork, idem_key: Any) -> Message | None:
    if not isinstance(idem_key, str):
        return None
    return uow.session.scalar(sa.select(Message).where(Message.idem_key == idem_key))


def record_click(uow: UnitOfWork, token: str, visitor: str, at: dt.datetime | None = None) -> str:
    data = unsign(uow.settings, "click", token)
    if data is None or not isinstance(data.get("u"), str):
        raise NotFound("This link is not valid.")
    m = _message(uow, data.get("k"))
    now = at or utcnow()
    if m is not None:
        m.clicked_at = m.clicked_at or now
        uow.session.add(Touch(kind="click", campaign_id=m.campaign_id, message_id=m.id, customer_id=m.customer_id,
                              visitor=visitor[:40], occurred_at=now))
    uow.commit()
    return data["u"]


def record_open(uow: UnitOfWork, token: str) -> None:
    data = unsign(uow.settings, "open", token)
    m = _message(uow, (data or {}).get("k"))
    if m is not None and m.opened_at is None:
        m.opened_at = utcnow()
        uow.commit()


def unsubscribe_target(uow: UnitOfWork, token: str) -> dict[str, Any]:
    data = unsign(uow.settings, "unsubscribe", token)
    if data is None or not isinstance(data.get("c"), int) or data.get("ch") not in crm.CONSENT_CHANNELS:
        raise NotFound("This unsubscribe link is not valid.")
    return data


def unsubscribe(uow: UnitOfWork, token: str) -> dict[str, Any]:
    """One-click unsubscribe: the consent is withdrawn in CRM at once (its event cancels
    queued marketing messages of that channel; the sender checks consent before each send)."""
    data = unsubscribe_target(uow, token)
    m = _message(uow, data.get("k"))
    if m is not None:
        m.unsubscribed_at = m.unsubscribed_at or utcnow()
        uow.session.add(Touch(kind="unsubscribe", campaign_id=m.campaign_id, message_id=m.id,
                              customer_id=data["c"], occurred_at=utcnow()))
    crm.record_consent(uow, data["c"], channel=data["ch"], granted=False, source="unsubscribe link")  # commits
    return data


def link_visitor(uow: UnitOfWork, visitor: str | None, customer_id: int | None) -> int:
    """The customer who just ordered from this browser owns its earlier touches (attribution),
    and the browser shows the customer's in-app messages. Commits."""
    if not visitor or customer_id is None:
        return 0
    from merx.marketing import inapp

    inapp.link_browser(uow, visitor, customer_id)  # its in-app inbox shows the customer's messages
    n = uow.session.execute(sa.update(Touch).where(Touch.visitor == visitor[:40], Touch.customer_id.is_(None))
                            .values(customer_id=customer_id)).rowcount or 0
    uow.commit()
    return n
