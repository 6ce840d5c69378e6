"""Marketing consent per channel (append-only history, the latest record is in force) and the
data-subject rights: export everything Merx holds about a customer, and erase (anonymise)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from merx.core import lifecycle
from merx.core.db import utcnow
from merx.core.errors import ValidationProblem
from merx.core.uow import UnitOfWork
from merx.crm.events import CustomerConsentChanged, CustomerErased
from merx.crm.models import Consent
from merx.customers import public as customers

CHANNELS = ("email", "sms", "phone", "push", "messaging", "post", "inapp")  # inapp: marketing's storefront inbox


def record_consent(uow: UnitOfWork, customer_id: int, *, channel: str, granted: bool, source: str) -> Consent:
    from merx.crm.segments import service as segments

    if channel not in CHANNELS:
        raise ValidationProblem.for_field("channel", f"must be one of {', '.join(CHANNELS)}")
    customers.get_customer(uow, customer_id)
    consent = Consent(customer_id=customer_id, channel=channel, granted=granted, source=source,
                      actor_user_id=uow.actor.user_id, recorded_at=utcnow())
    uow.session.add(consent)
    uow.session.flush()
    uow.audit("consent", "customer", customer_id, after={"channel": channel, "granted": granted, "source": source})
    uow.emit(CustomerConsentChanged(customer_id=customer_id, channel=channel, granted=granted, source=source))
    segments.refresh_profiles(uow, [customer_id])
    uow.commit()
    return consent


def current_consents(uow: UnitOfWork, customer_id: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in uow.session.scalars(sa.select(Consent).where(Consent.customer_id == customer_id)
                                 .order_by(Consent.recorded_at, Consent.id)):
        out[c.channel] = {"granted": c.granted, "source": c.source, "recorded_at": c.recorded_at}
    return out


def consented_ids(uow: UnitOfWork, customer_ids: list[int], channel: str) -> set[int]:
    """Which of these customers' latest consent record for `channel` grants it (marketing
    checks this at send time, in bulk). No record is no consent."""
    latest: dict[int, bool] = {}
    ids = sorted(set(customer_ids))
    for start in range(0, len(ids), 500):
        for cid, granted in uow.session.execute(
                sa.select(Consent.customer_id, Consent.granted)
                .where(Consent.channel == channel, Consent.customer_id.in_(ids[start:start + 500]))
                .order_by(Consent.recorded_at, Consent.id)):
            latest[cid] = granted
    return {cid for cid, granted in latest.items() if granted}


def consent_history(uow: UnitOfWork, customer_id: int) -> list[dict[str, Any]]:
    return [{"channel": c.channel, "granted": c.granted, "source": c.source, "recorded_at": c.recorded_at,
             "actor_user_id": c.actor_user_id}
            for c in uow.session.scalars(sa.select(Consent).where(Consent.customer_id == customer_id).order_by(Consent.id))]


def consents_of(uow: UnitOfWork, customer_id: int) -> dict[str, Any]:
    """Current consents and their history, for a customer the caller may see (404 otherwise)."""
    customers.get_customer(uow, customer_id)
    return {"current": current_consents(uow, customer_id), "history": consent_history(uow, customer_id)}


def export_customer(uow: UnitOfWork, customer_id: int) -> dict[str, Any]:
    """Everything Merx holds about one customer, as JSON-ready data (right of access/portability):
    the customer record and each context's part (see merx.core.lifecycle)."""
    record = customers.get_customer(uow, customer_id)
    return {"exported_at": utcnow(), "customer": record.model_dump(mode="json"), **lifecycle.export(uow, customer_id)}


def erase_customer(uow: UnitOfWork, customer_id: int) -> dict[str, int]:
    """Anonymise on request: every context anonymises its records (see merx.core.lifecycle;
    contact details go, amounts and consent proofs stay), then the customer record itself.
    Returns how many records of each kind were anonymised."""
    customers.get_customer(uow, customer_id)
    counts: dict[str, int] = {}
    for kinds in lifecycle.erase(uow, customer_id).values():
        for kind, n in kinds.items():
            counts[kind] = counts.get(kind, 0) + n
    customers.erase_customer(uow, customer_id)
    uow.audit("erase", "customer_data", customer_id, after=counts)
    uow.emit(CustomerErased(customer_id=customer_id))
    uow.commit()
    return counts
