"""Events the CRM context emits: identity and consent of customers, segments, RFM runs,
loyalty and referrals."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import Field

from merx.core.events import Event


class _CustomerEvent(Event):
    aggregate_type: ClassVar[str] = "customer"
    aggregate_field: ClassVar[str] = "customer_id"


class CustomerIdentified(_CustomerEvent):
    """An anonymous visitor was linked to a profile; its past events were re-keyed."""

    event_type: ClassVar[str] = "customer.identified"

    customer_id: int
    anonymous_id: str | None
    created: bool
    merged_from: list[int]


class QrScanTracked(_CustomerEvent):
    """A known customer's tracked `qr_scan` named a campaign (a flyer or trade-fair code): sales
    makes it a lead of that campaign. Anonymous scans carry no contact, so they emit nothing."""

    event_type: ClassVar[str] = "customer.qr_scanned"

    customer_id: int
    campaign: str = Field(max_length=120)
    qr_id: str | None = Field(None, max_length=200)
    scanned_at: dt.datetime


class CustomerMerged(_CustomerEvent):
    """A duplicate profile was merged into another; everything it had moved with it (`moved`:
    counts of events, identifiers, orders, points moved)."""

    event_type: ClassVar[str] = "customer.merged"
    aggregate_field: ClassVar[str] = "into_customer_id"

    merge_id: int
    from_customer_id: int
    into_customer_id: int
    rule: str
    moved: dict[str, int | None]


class CustomerUnmerged(_CustomerEvent):
    """A manual merge was undone: `customer_id` is back, split from `from_customer_id`."""

    event_type: ClassVar[str] = "customer.unmerged"

    merge_id: int
    customer_id: int
    from_customer_id: int


class CustomerConsentChanged(_CustomerEvent):
    """Marketing consent for a channel was granted or withdrawn."""

    event_type: ClassVar[str] = "customer.consent_changed"

    customer_id: int
    channel: str
    granted: bool
    source: str


class CustomerErased(_CustomerEvent):
    """A customer's personal data was anonymised on request; order amounts are kept."""

    event_type: ClassVar[str] = "customer.erased"

    customer_id: int


class _SegmentEvent(Event):
    aggregate_type: ClassVar[str] = "segment"
    aggregate_field: ClassVar[str] = "segment_id"

    segment_id: int
    members: int


class SegmentCreated(_SegmentEvent):
    """A customer segment was defined."""

    event_type: ClassVar[str] = "segment.created"

    name: str


class SegmentUpdated(_SegmentEvent):
    """A segment's definition or membership count changed."""

    event_type: ClassVar[str] = "segment.updated"


class RfmComputed(Event):
    """RFM scores and segments were recomputed (`segments`: segment name -> customers)."""

    event_type: ClassVar[str] = "crm.rfm_computed"
    aggregate_type: ClassVar[str] = "crm"

    reference_date: dt.date
    customers: int
    segments: dict[str, int]

    def aggregate_id(self) -> str:
        return "rfm"


class LoyaltyProgramCreated(Event):
    """A loyalty program was created."""

    event_type: ClassVar[str] = "loyalty.program_created"
    aggregate_type: ClassVar[str] = "loyalty_program"
    aggregate_field: ClassVar[str] = "program_id"

    program_id: int
    code: str


class _LoyaltyAccountEvent(Event):
    aggregate_type: ClassVar[str] = "loyalty_account"
    aggregate_field: ClassVar[str] = "account_id"

    account_id: int  # the member's account
    customer_id: int


class LoyaltyPointsChanged(_LoyaltyAccountEvent):
    """A member's points balance changed (`kind`: earn, redeem, expire, adjust, merge,
    reversal (spent points given back), clawback (earned points taken back when the order's
    goods or money came back; the balance may go below zero); `points` negative when spent)."""

    event_type: ClassVar[str] = "loyalty.points_changed"

    program_id: int
    kind: str
    points: int
    balance: int
    tier: str | None


class LoyaltyTierChanged(_LoyaltyAccountEvent):
    """A member moved to another tier."""

    event_type: ClassVar[str] = "loyalty.tier_changed"

    from_tier: str | None = Field(alias="from")
    to: str | None


class _ReferralEvent(Event):
    aggregate_type: ClassVar[str] = "referral"
    aggregate_field: ClassVar[str] = "referral_id"

    referral_id: int
    referrer_id: int
    referred_id: int


class ReferralCreated(_ReferralEvent):
    """A customer signed up with another customer's referral code."""

    event_type: ClassVar[str] = "referral.created"


class ReferralRewarded(_ReferralEvent):
    """The referred customer's first paid order rewarded the referrer."""

    event_type: ClassVar[str] = "referral.rewarded"

    order_id: int


class ReferralRevoked(_ReferralEvent):
    """The order that rewarded the referrer was cancelled, or returned or refunded in full:
    the reward's points were taken back (`points`)."""

    event_type: ClassVar[str] = "referral.revoked"

    order_id: int
    points: int
    reason: str
