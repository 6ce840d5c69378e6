"""Referral codes. A referred customer's code is applied before (or at) their first order;
the referrer is rewarded when that customer's first order is paid. Refused: referring
oneself (also via a merged duplicate), a referred customer who shares the referrer's email
(ignoring case, dots and +tags of the local part) or phone, and a first order paid with the
same payment method (fingerprint) as one of the referrer's orders. The reward is taken back
(the referral becomes `revoked`) when that order is cancelled, or returned or refunded in
full, as points earned on an order are."""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa

from merx.core.auth import Role
from merx.core.db import utcnow
from merx.core.errors import Conflict, Forbidden, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.crm.events import ReferralCreated, ReferralRevoked, ReferralRewarded
from merx.crm.identity import survivor
from merx.crm.models import Identity, LoyaltyProgram, OrderFact, Referral, ReferralCode
from merx.customers import public as customers

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def referral_code(uow: UnitOfWork, customer_id: int) -> ReferralCode:
    customers.get_customer(uow, customer_id)  # visibility and existence
    code = uow.session.scalars(sa.select(ReferralCode).where(ReferralCode.customer_id == customer_id)
                               .order_by(ReferralCode.id)).first()
    if code is None:
        code = ReferralCode(customer_id=customer_id, code="".join(secrets.choice(_ALPHABET) for _ in range(8)))
        uow.session.add(code)
        uow.session.flush()
        uow.audit("create", "referral_code", code.id, after={"customer_id": customer_id, "code": code.code})
        uow.commit()
    return code


def _canonical_email(email: str) -> str:
    local, _, domain = email.lower().partition("@")
    local = local.split("+", 1)[0].replace(".", "")
    return f"{local}@{domain}"


def _contacts(uow: UnitOfWork, customer_id: int) -> tuple[set[str], set[str]]:
    emails, phones = set(), set()
    record = customers.raw_customer(uow, customer_id)
    if record is not None:
        if record.email:
            emails.add(_canonical_email(record.email))
        if record.phone:
            phones.add(record.phone)
    for kind, value in uow.session.execute(sa.select(Identity.kind, Identity.value).where(
            Identity.customer_id == customer_id, Identity.kind.in_(("email", "phone")))):
        (emails if kind == "email" else phones).add(_canonical_email(value) if kind == "email" else value)
    return emails, phones


def apply_code(uow: UnitOfWork, code: str, referred_customer_id: int) -> Referral:
    """Record that `referred_customer_id` came through `code`; a customer applies a code to
    itself only. Commits."""
    actor = uow.actor
    if actor.role == Role.customer and actor.customer_id != referred_customer_id:
        raise Forbidden("A customer applies a referral code to itself only")
    row = uow.session.scalars(sa.select(ReferralCode).where(ReferralCode.code == code.strip().upper())).first()
    if row is None:
        raise ValidationProblem.for_field("code", "is not a referral code")
    customers.get_customer(uow, referred_customer_id)
    referrer = survivor(uow, row.customer_id)
    referred = survivor(uow, referred_customer_id)
    if referrer is None:
        raise ValidationProblem.for_field("code", "the referrer's profile no longer exists")
    if referrer == referred:
        raise ValidationProblem.for_field("code", "a customer cannot refer themselves", "self_referral")
    r_emails, r_phones = _contacts(uow, referrer)
    d_emails, d_phones = _contacts(uow, referred)
    if r_emails & d_emails:
        raise ValidationProblem.for_field("code", "the referred customer has the referrer's email address", "same_email")
    if r_phones & d_phones:
        raise ValidationProblem.for_field("code", "the referred customer has the referrer's phone number", "same_phone")
    if uow.session.scalar(sa.select(Referral.id).where(Referral.referred_id == referred)) is not None:
        raise Conflict("This customer was already referred", type_slug="already-referred")
    if uow.session.scalar(sa.select(OrderFact.order_id).where(OrderFact.customer_id == referred,
                                                               OrderFact.paid_at.is_not(None))) is not None:
        raise ValidationProblem.for_field("referred_customer_id", "has already paid an order; referrals are for new customers",
                                          "not_new")
    referral = Referral(code=row.code, referrer_id=referrer, referred_id=referred, status="pending")
    uow.session.add(referral)
    uow.session.flush()
    uow.audit("create", "referral", referral.id, after={"referrer_id": referrer, "referred_id": referred})
    uow.emit(ReferralCreated(referral_id=referral.id, referrer_id=referrer, referred_id=referred))
    uow.commit()
    return referral


def on_first_paid_order(uow: UnitOfWork, customer_id: int, order_id: int, fingerprint: str | None) -> Referral | None:
    """Called from the order.paid handler (after CRM recorded the order fact). Does not commit."""
    from merx.crm import loyalty

    referral = uow.session.scalars(sa.select(Referral).where(Referral.referred_id == customer_id,
                                                             Referral.status == "pending")).first()
    if referral is None:
        return None
    earlier = uow.session.scalar(sa.select(sa.func.count()).select_from(OrderFact).where(
        OrderFact.customer_id == customer_id, OrderFact.paid_at.is_not(None), OrderFact.order_id != order_id))
    if earlier:
        return None
    if fingerprint and uow.session.scalar(sa.select(OrderFact.order_id).where(
            OrderFact.customer_id == referral.referrer_id, OrderFact.payment_fingerprint == fingerprint)) is not None:
        referral.status, referral.reason, referral.order_id = "refused", "same payment method as the referrer", order_id
        uow.audit("refuse", "referral", referral.id, after={"reason": referral.reason})
        return referral
    program = uow.session.scalars(sa.select(LoyaltyProgram).where(LoyaltyProgram.active.is_(True),
                                                                  LoyaltyProgram.referral_reward_points > 0)
                                  .order_by(LoyaltyProgram.id)).first()
    if program is not None:
        loyalty.award(uow, referral.referrer_id, program.referral_reward_points, kind="referral",
                      reason=f"referred customer {customer_id}", program_code=program.code, order_ref=str(order_id))
    referral.status, referral.order_id, referral.rewarded_at = "rewarded", order_id, utcnow()
    uow.audit("reward", "referral", referral.id, after={"order_id": order_id,
                                                         "points": program.referral_reward_points if program else 0})
    uow.emit(ReferralRewarded(referral_id=referral.id, referrer_id=referral.referrer_id, referred_id=customer_id,
                              order_id=order_id))
    return referral


def on_order_undone(uow: UnitOfWork, order_id: int, *, reason: str) -> Referral | None:
    """The order that earned a referral reward was cancelled, or returned or refunded in full:
    the referrer's points for it go (a negative balance if spent, as with earned points) and
    the referral is `revoked`, so a second event takes nothing again. Does not commit."""
    from merx.crm import loyalty

    referral = uow.session.scalars(sa.select(Referral).where(Referral.order_id == order_id,
                                                             Referral.status == "rewarded")).first()
    if referral is None:
        return None
    points = loyalty.take_back_awarded(uow, "referral", str(order_id), reason=f"referral revoked: {reason}")
    referral.status, referral.reason = "revoked", reason[:200]
    uow.audit("revoke", "referral", referral.id, after={"order_id": order_id, "points": -points, "reason": reason})
    uow.emit(ReferralRevoked(referral_id=referral.id, referrer_id=referral.referrer_id, referred_id=referral.referred_id,
                             order_id=order_id, points=points, reason=referral.reason))
    return referral


def referrals_of(uow: UnitOfWork, customer_id: int) -> list[dict[str, Any]]:
    rows = uow.session.scalars(sa.select(Referral).where(sa.or_(Referral.referrer_id == customer_id,
                                                                Referral.referred_id == customer_id)).order_by(Referral.id))
    return [{"id": r.id, "code": r.code, "referrer_id": r.referrer_id, "referred_id": r.referred_id, "status": r.status,
             "reason": r.reason, "order_id": r.order_id, "created_at": r.created_at, "rewarded_at": r.rewarded_at}
            for r in rows]

