"""The CRM's part in the customer lifecycle (see merx.core.lifecycle): its own records of a
profile (identities, tracked events, order facts, consents, referral codes and referrals,
loyalty ledgers, RFM scores and segment memberships) move on merge, come back on un-merge,
are anonymised on erasure and listed in the export. The CRM also runs these operations for
every context (crm.identity, crm.consent)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from merx.core.lifecycle import MovedRefs
from merx.core.uow import UnitOfWork
from merx.crm.models import (Consent, Identity, LoyaltyAccount, Merge, OrderFact, Referral, ReferralCode, RfmScore,
                             SegmentMember, TrackedEvent)

# (key in the moved refs, model, customer column, primary key)
MOVABLE = (
    ("identities", Identity, "customer_id", "id"),
    ("events", TrackedEvent, "customer_id", "id"),
    ("order_facts", OrderFact, "customer_id", "order_id"),
    ("consents", Consent, "customer_id", "id"),
    ("referral_codes", ReferralCode, "customer_id", "id"),
    ("referrals_as_referrer", Referral, "referrer_id", "id"),
)
BATCH = 500


def _move(uow: UnitOfWork, model: Any, column: str, ids: list[int], to_id: int, pk: str = "id") -> None:
    for i in range(0, len(ids), BATCH):
        uow.session.execute(sa.update(model).where(getattr(model, pk).in_(ids[i:i + BATCH])).values({column: to_id}))


def _ids(uow: UnitOfWork, model: Any, column: str, customer_id: int, pk: str = "id") -> list[int]:
    return list(uow.session.scalars(sa.select(getattr(model, pk)).where(getattr(model, column) == customer_id)))


class CrmParticipant:
    name = "crm"

    def on_merge(self, uow: UnitOfWork, from_id: int, into_id: int) -> MovedRefs:
        from merx.crm import loyalty
        from merx.crm.segments import service as segments

        moved: dict[str, Any] = {key: _ids(uow, model, column, from_id, pk) for key, model, column, pk in MOVABLE}
        for key, model, column, pk in MOVABLE:
            _move(uow, model, column, moved[key], into_id, pk)
        # A profile is referred at most once; the duplicate's referral moves only if the survivor has none.
        referred = uow.session.scalar(sa.select(Referral.id).where(Referral.referred_id == from_id))
        if referred is not None and uow.session.scalar(
                sa.select(Referral.id).where(Referral.referred_id == into_id)) is None:
            _move(uow, Referral, "referred_id", [referred], into_id)
            moved["referral_as_referred"] = referred
        moved["loyalty"] = loyalty.move_ledgers(uow, from_id, into_id)
        # scores and memberships are derived: the survivor's are recomputed by the caller
        uow.session.execute(sa.delete(RfmScore).where(RfmScore.customer_id == from_id))
        segments.forget_profile(uow, from_id)
        return moved

    def on_unmerge(self, uow: UnitOfWork, moved: MovedRefs, restored_id: int, survivor_id: int) -> None:
        from merx.crm import loyalty

        for key, model, column, pk in MOVABLE:
            _move(uow, model, column, list(moved.get(key) or []), restored_id, pk)
        if moved.get("referral_as_referred"):
            _move(uow, Referral, "referred_id", [moved["referral_as_referred"]], restored_id)
        loyalty.restore_ledgers(uow, moved.get("loyalty") or [], restored_id, survivor_id)

    def on_erase(self, uow: UnitOfWork, customer_id: int) -> dict[str, int]:
        """Contact details, identifiers, event properties and anonymous ids go; order amounts,
        loyalty ledger sums and consent proofs (channel, time, source) stay for accounting and
        for proof of lawful processing."""
        from merx.crm.segments import service as segments

        counts = {
            "identifiers": uow.session.execute(sa.delete(Identity).where(Identity.customer_id == customer_id)).rowcount or 0,
            "events": uow.session.execute(sa.update(TrackedEvent).where(TrackedEvent.customer_id == customer_id).values(
                properties=sa.null(), anonymous_id=None, source=None, campaign=None)).rowcount or 0,
            "order_summaries": uow.session.execute(sa.update(OrderFact).where(OrderFact.customer_id == customer_id)
                                                   .values(payment_fingerprint=None)).rowcount or 0,
            "referral_codes": uow.session.execute(
                sa.delete(ReferralCode).where(ReferralCode.customer_id == customer_id)).rowcount or 0,
        }
        uow.session.execute(sa.delete(RfmScore).where(RfmScore.customer_id == customer_id))
        segments.forget_profile(uow, customer_id)
        counts["loyalty_accounts"] = uow.session.scalar(sa.select(sa.func.count()).select_from(LoyaltyAccount)
                                                        .where(LoyaltyAccount.customer_id == customer_id)) or 0
        return counts

    def on_export(self, uow: UnitOfWork, customer_id: int) -> dict[str, Any]:
        from merx.crm import loyalty, referrals
        from merx.crm.consent import consent_history
        from merx.crm.profiles import event_out

        return {
            "identifiers": [{"kind": i.kind, "value": i.value, "verified": i.verified, "source": i.source,
                             "added_at": i.created_at}
                            for i in uow.session.scalars(sa.select(Identity).where(Identity.customer_id == customer_id))],
            "consents": consent_history(uow, customer_id),
            "events": [event_out(e) for e in uow.session.scalars(
                sa.select(TrackedEvent).where(TrackedEvent.customer_id == customer_id).order_by(TrackedEvent.occurred_at))],
            "order_summaries": [{"order_id": o.order_id, "number": o.number, "status": o.status, "currency": o.currency,
                                 "total_minor": o.total_minor, "refunded_minor": o.refunded_minor,
                                 "placed_at": o.placed_at, "paid_at": o.paid_at, "lines": o.lines}
                                for o in uow.session.scalars(sa.select(OrderFact).where(OrderFact.customer_id == customer_id))],
            "loyalty": {"accounts": loyalty.accounts_out(uow, customer_id), "ledger": loyalty.ledger(uow, customer_id)},
            "referrals": referrals.referrals_of(uow, customer_id),
            "referral_codes": list(uow.session.scalars(
                sa.select(ReferralCode.code).where(ReferralCode.customer_id == customer_id))),
            "segments": list(uow.session.scalars(
                sa.select(SegmentMember.segment_id).where(SegmentMember.customer_id == customer_id))),
            "merges": [{"id": m.id, "from_customer_id": m.from_customer_id, "into_customer_id": m.into_customer_id,
                        "rule": m.rule, "at": m.created_at, "undone_at": m.undone_at}
                       for m in uow.session.scalars(sa.select(Merge).where(sa.or_(
                           Merge.from_customer_id == customer_id, Merge.into_customer_id == customer_id)))],
        }


PARTICIPANT = CrmParticipant()
