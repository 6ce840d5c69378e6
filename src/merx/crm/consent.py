"""Marketing consent per channel (append-only history, the latest record is in force) and the
data-subject rights: export everything Merx holds about a customer, and erase (anonymise)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.errors import ValidationProblem
from merx.core.uow import UnitOfWork
from merx.crm.events import CustomerConsentChanged, CustomerErased
from merx.crm.models import (Consent, Identity, LoyaltyAccount, Merge, OrderFact, ReferralCode, RfmScore,
                             SegmentMember, TrackedEvent)
from merx.customers import service as customers

CHANNELS = ("email", "sms", "phone", "push", "messaging", "post")


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


def consent_history(uow: UnitOfWork, customer_id: int) -> list[dict[str, Any]]:
    return [{"channel": c.channel, "granted": c.granted, "source": c.source, "recorded_at": c.recorded_at,
             "actor_user_id": c.actor_user_id}
            for c in uow.session.scalars(sa.select(Consent).where(Consent.customer_id == customer_id).order_by(Consent.id))]


def export_customer(uow: UnitOfWork, customer_id: int) -> dict[str, Any]:
    """Everything Merx holds about one customer, as JSON-ready data (right of access/portability)."""
    from merx.crm import loyalty, referrals
    from merx.crm.identity import optional_service
    from merx.crm.profiles import event_out

    record = customers.get_customer(uow, customer_id)
    orders_of = optional_service("orders", "orders_for_customer")
    orders = [o.model_dump(mode="json") if hasattr(o, "model_dump") else o for o in orders_of(uow, customer_id)] \
        if orders_of is not None else None
    return {
        "exported_at": utcnow(),
        "customer": record.model_dump(mode="json"),
        "identifiers": [{"kind": i.kind, "value": i.value, "verified": i.verified, "source": i.source,
                         "added_at": i.created_at}
                        for i in uow.session.scalars(sa.select(Identity).where(Identity.customer_id == customer_id))],
        "consents": consent_history(uow, customer_id),
        "events": [event_out(e) for e in uow.session.scalars(
            sa.select(TrackedEvent).where(TrackedEvent.customer_id == customer_id).order_by(TrackedEvent.occurred_at))],
        "orders": orders,
        "order_summaries": [{"order_id": o.order_id, "number": o.number, "status": o.status, "currency": o.currency,
                             "total_minor": o.total_minor, "refunded_minor": o.refunded_minor, "placed_at": o.placed_at,
                             "paid_at": o.paid_at, "lines": o.lines}
                            for o in uow.session.scalars(sa.select(OrderFact).where(OrderFact.customer_id == customer_id))],
        "loyalty": {"accounts": loyalty.accounts_out(uow, customer_id), "ledger": loyalty.ledger(uow, customer_id)},
        "referrals": referrals.referrals_of(uow, customer_id),
        "referral_codes": list(uow.session.scalars(sa.select(ReferralCode.code).where(ReferralCode.customer_id == customer_id))),
        "segments": list(uow.session.scalars(sa.select(SegmentMember.segment_id).where(SegmentMember.customer_id == customer_id))),
        "merges": [{"id": m.id, "from_customer_id": m.from_customer_id, "into_customer_id": m.into_customer_id,
                    "rule": m.rule, "at": m.created_at, "undone_at": m.undone_at}
                   for m in uow.session.scalars(sa.select(Merge).where(sa.or_(
                       Merge.from_customer_id == customer_id, Merge.into_customer_id == customer_id)))],
    }


def erase_customer(uow: UnitOfWork, customer_id: int) -> dict[str, int]:
    """Anonymise on request: contact details, identifiers, event properties and anonymous ids
    go; order amounts, loyalty ledger sums and consent proofs (channel, time, source) stay for
    accounting and for proof of lawful processing."""
    from merx.crm.identity import optional_service
    from merx.crm.segments import service as segments

    customers.get_customer(uow, customer_id)
    counts = {
        "identifiers": uow.session.execute(sa.delete(Identity).where(Identity.customer_id == customer_id)).rowcount or 0,
        "events": uow.session.execute(sa.update(TrackedEvent).where(TrackedEvent.customer_id == customer_id)
                                      .values(properties=sa.null(), anonymous_id=None, source=None, campaign=None)).rowcount or 0,
        "order_summaries": uow.session.execute(sa.update(OrderFact).where(OrderFact.customer_id == customer_id)
                                               .values(payment_fingerprint=None)).rowcount or 0,
        "referral_codes": uow.session.execute(sa.delete(ReferralCode).where(ReferralCode.customer_id == customer_id)).rowcount or 0,
    }
    uow.session.execute(sa.delete(RfmScore).where(RfmScore.customer_id == customer_id))
    segments.forget_profile(uow, customer_id)
    anonymise_orders = optional_service("orders", "anonymise_customer")
    counts["orders"] = anonymise_orders(uow, customer_id) if anonymise_orders is not None else 0
    counts["loyalty_accounts"] = uow.session.scalar(sa.select(sa.func.count()).select_from(LoyaltyAccount)
                                                    .where(LoyaltyAccount.customer_id == customer_id)) or 0
    customers.erase_customer(uow, customer_id)
    uow.audit("erase", "customer_data", customer_id, after=counts)
    uow.emit(CustomerErased(customer_id=customer_id))
    uow.commit()
    return counts
