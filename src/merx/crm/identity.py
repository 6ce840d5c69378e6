"""Identity stitching: the identifiers of a profile, `identify` (anonymous id -> profile,
re-keying past events) and profile merges that move everything and can be undone.

Deterministic merge rules, in order:
1. `identify` called with identifiers that belong to two or more profiles merges them only
   when the identifiers are *verified* (a back-office caller says so, e.g. after a login or a
   double opt-in): same verified email, same verified phone. The oldest profile survives.
2. An anonymous id already stitched to a profile whose identifiers are all unverified is
   merged into the verified profile it is identified with (the visitor logged in).
3. Anything else is reported as a conflict and nothing is merged: unverified input never
   joins two known people.
Anonymous callers (the storefront without a key) link an anonymous id to a known profile only
through a verified identifier: a link token (`link_token`, issued to a signed-in shopper or in a
verified-email link by the shop's back office). Identifiers they merely claim (an email typed
into a form) are not attached and never looked up, so the answer is the same whether or not
someone holds them (`identify_anonymous`). A customer's own key links to itself only.
A merge asks every context's lifecycle participant (merx.core.lifecycle) to move its records:
the CRM's identities, events, order facts, loyalty ledgers, consents and referral codes,
orders' orders and carts. Every moved id is recorded per participant in `crm_merges.moved`
so staff can un-merge, and un-merge gives back exactly those."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import sqlalchemy as sa

from itsdangerous import BadSignature, URLSafeTimedSerializer

from merx.core.auth import BACK_OFFICE_ROLES, Role
from merx.core.db import utcnow
from merx.core.errors import Conflict, Forbidden, NotFound, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.core import lifecycle
from merx.crm.events import CustomerIdentified, CustomerMerged, CustomerUnmerged
from merx.crm.models import Identity, Merge, TrackedEvent
from merx.customers import public as customers
from merx.customers.public import CustomerCreate, normalize_email, normalize_phone
from merx.crm.schemas import MergeOut

KINDS = ("email", "phone", "loyalty_card", "store_customer", "marketplace_buyer", "messaging_openid", "anonymous")
# Which identifier wins when unverified identifiers point at different profiles.
STRENGTH = ("customer_id", "email", "phone", "loyalty_card", "store_customer", "marketplace_buyer",
            "messaging_openid", "anonymous")


def normalise(uow: UnitOfWork, kind: str, value: str, field: str | None = None) -> str:
    name = field or kind
    if kind not in KINDS:
        raise ValidationProblem.for_field(name, f"unknown identifier kind; use one of {', '.join(KINDS)}")
    if not isinstance(value, str) or not value.strip():
        raise ValidationProblem.for_field(name, "must not be empty")
    if kind == "email":
        return normalize_email(value, name)
    if kind == "phone":
        return normalize_phone(value, uow.settings.default_phone_region, name)
    value = value.strip()
    if len(value) > 320:
        raise ValidationProblem.for_field(name, "longer than 320 characters")
    return value


def survivor(uow: UnitOfWork, customer_id: int) -> int | None:
    """Follows merges to the profile that holds a customer's data now (None if erased/missing)."""
    seen = set()
    current = customer_id
    while current not in seen:
        seen.add(current)
        record = customers.raw_customer(uow, current)
        if record is None:
            return None
        if record.merged_into_id is None:
            return current
        current = record.merged_into_id
    return None


def survivors(uow: UnitOfWork, customer_ids: Iterable[int]) -> dict[int, int | None]:
    """`survivor` for many customers, one query per step along merge chains (usually one)."""
    result: dict[int, int | None] = {}
    chains = {cid: (cid, {cid}) for cid in set(customer_ids)}  # start -> (current, seen)
    while chains:
        records = customers.raw_customers(uow, {current for current, _ in chains.values()})
        following = {}
        for start, (current, seen) in chains.items():
            record = records.get(current)
            if record is None:
                result[start] = None
            elif record.merged_into_id is None:
                result[start] = current
            elif record.merged_into_id in seen:
                result[start] = None  # a merge cycle: nothing holds the data
            else:
                following[start] = (record.merged_into_id, seen | {record.merged_into_id})
        chains = following
    return result


def find_profile(uow: UnitOfWork, kind: str, value: str) -> int | None:
    """The live profile holding an identifier (`value` already normalised)."""
    if kind == "customer_id":
        return survivor(uow, int(value))
    owner = uow.session.scalar(sa.select(Identity.customer_id).where(Identity.kind == kind, Identity.value == value))
    if owner is None and kind in ("email", "phone"):
        found = customers.find_customer(uow, **{kind: value})
        owner = found.id if found is not None else None
    return survivor(uow, owner) if owner is not None else None


def identities_of(uow: UnitOfWork, customer_id: int) -> list[Identity]:
    """The identifiers of a customer the caller may see (404 otherwise)."""
    customers.get_customer(uow, customer_id)
    return list(uow.session.scalars(sa.select(Identity).where(Identity.customer_id == customer_id).order_by(Identity.id)))


def add_identity(uow: UnitOfWork, customer_id: int, kind: str, value: str, *, verified: bool = False,
                 source: str | None = None) -> Identity | None:
    """Attach an identifier (normalised) to a profile. Returns None when another profile holds it."""
    existing = uow.session.scalars(sa.select(Identity).where(Identity.kind == kind, Identity.value == value)).first()
    if existing is not None:
        if existing.customer_id != customer_id:
            return None
        if verified and not existing.verified:
            existing.verified = True
        return existing
    identity = Identity(customer_id=customer_id, kind=kind, value=value, verified=verified, source=source)
    uow.session.add(identity)
    uow.session.flush()
    return identity


def add_identities(uow: UnitOfWork, items: Iterable[tuple[int, str, str]], *, source: str | None = None) -> int:
    """`add_identity` (unverified) for many (customer_id, kind, value) at once: one query for
    the identifiers already held, then the new rows. An identifier another profile holds is
    left with it. Returns how many were added. Does not commit."""
    wanted: dict[tuple[str, str], int] = {}
    for customer_id, kind, value in items:
        wanted.setdefault((kind, value), customer_id)
    if not wanted:
        return 0
    held = {(kind, value) for kind, value in uow.session.execute(sa.select(Identity.kind, Identity.value).where(
        Identity.value.in_(sorted({v for _, v in wanted}))))}
    new = [Identity(customer_id=cid, kind=kind, value=value, verified=False, source=source)
           for (kind, value), cid in wanted.items() if (kind, value) not in held]
    uow.session.add_all(new)
    return len(new)


def _has_verified(uow: UnitOfWork, customer_id: int) -> bool:
    return uow.session.scalar(sa.select(sa.func.count()).select_from(Identity).where(
        Identity.customer_id == customer_id, Identity.verified.is_(True), Identity.kind.in_(("email", "phone")))) > 0


def rekey_events(uow: UnitOfWork, anonymous_id: str, customer_id: int) -> int:
    result = uow.session.execute(sa.update(TrackedEvent).where(
        TrackedEvent.anonymous_id == anonymous_id, TrackedEvent.customer_id.is_(None)).values(customer_id=customer_id))
    return result.rowcount or 0


@dataclass
class IdentifyResult:
    customer_id: int
    created: bool
    events_rekeyed: int
    merged_from: list[int] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)


def identify(uow: UnitOfWork, *, anonymous_id: str | None, identifiers: dict[str, str], verified: bool = False,
             traits: dict[str, Any] | None = None, source: str = "identify", commit: bool = True) -> IdentifyResult:
    """Link an anonymous id (and identifiers) to one profile, creating it if needed, re-keying
    the anonymous id's past events, and merging duplicates under the rules above."""
    from merx.crm import profiles

    actor = uow.actor
    if actor.role == Role.customer:
        verified = False
    if anonymous_id is not None:
        anonymous_id = normalise(uow, "anonymous", anonymous_id, "anonymous_id")
    clean: dict[str, str] = {}
    for kind, value in identifiers.items():
        if kind == "customer_id":
            clean[kind] = str(int(value))
        else:
            clean[kind] = normalise(uow, kind, value)
    if anonymous_id is None and not clean:
        raise ValidationProblem.for_field("anonymous_id", "give an anonymous_id or at least one identifier")
    owners: dict[str, int] = {}
    for kind, value in clean.items():
        owner = find_profile(uow, kind, value)
        if owner is not None:
            owners[kind] = owner
        elif kind == "customer_id":
            raise ValidationProblem.for_field("customer_id", f"no customer {value}")
    anon_owner = find_profile(uow, "anonymous", anonymous_id) if anonymous_id else None
    if actor.role == Role.customer:
        own = actor.customer_id
        if any(o != own for o in owners.values()) or (anon_owner is not None and anon_owner != own
                                                     and _has_verified(uow, anon_owner)):
            raise Conflict("These identifiers belong to another customer", type_slug="identity-conflict")
        owners["customer_id"] = own  # type: ignore[assignment]
    conflicts: list[dict[str, Any]] = []
    merged_from: list[int] = []
    created = False
    known = sorted(set(owners.values()))
    if not known and anon_owner is None:
        fields = dict(traits or {})
        if "email" in clean:
            fields["email"] = clean["email"]
        if "phone" in clean:
            fields["phone"] = clean["phone"]
        record = customers.create_customer(uow, CustomerCreate(**fields), commit=False)
        target = record.id
        created = True
    elif not known:
        target = anon_owner  # type: ignore[assignment]
    else:
        if len(known) > 1:
            if verified:
                target = known[0]
                for other in known[1:]:
                    rule = "same_verified_email" if "email" in owners and owners["email"] in (other, target) else "same_verified_phone"
                    merge_profiles(uow, other, target, rule=rule, commit=False)
                    merged_from.append(other)
            else:
                strongest = next(k for k in STRENGTH if k in owners)
                target = owners[strongest]
                conflicts.extend({"identifier": k, "customer_id": v, "reason": "belongs to another profile; not merged "
                                  "because the identifiers are not verified"} for k, v in owners.items() if v != target)
        else:
            target = known[0]
        if anon_owner is not None and anon_owner != target and anon_owner not in merged_from:
            if verified or not _has_verified(uow, anon_owner):
                merge_profiles(uow, anon_owner, target, rule="identify", commit=False)
                merged_from.append(anon_owner)
            else:
                conflicts.append({"identifier": "anonymous_id", "customer_id": anon_owner,
                                  "reason": "the anonymous id belongs to another verified profile"})
    for kind, value in clean.items():
        if kind == "customer_id" or owners.get(kind) not in (None, target) and owners.get(kind) not in merged_from:
            continue
        add_identity(uow, target, kind, value, verified=verified, source=source)
    rekeyed = 0
    if anonymous_id is not None and (anon_owner is None or anon_owner == target or anon_owner in merged_from):
        add_identity(uow, target, "anonymous", anonymous_id, source=source)
        rekeyed = rekey_events(uow, anonymous_id, target)
    profiles.recompute_stats(uow, [target])
    uow.audit("identify", "customer", target, after={"anonymous_id": anonymous_id, "identifiers": sorted(clean),
                                                     "created": created, "merged_from": merged_from,
                                                     "events_rekeyed": rekeyed})
    uow.emit(CustomerIdentified(customer_id=target, anonymous_id=anonymous_id, created=created,
                                merged_from=merged_from))
    from merx.crm.segments import service as segments

    segments.refresh_profiles(uow, [target])
    if commit:
        uow.commit()
    return IdentifyResult(customer_id=target, created=created, events_rekeyed=rekeyed, merged_from=merged_from,
                          conflicts=conflicts)


LINK_TOKEN_MAX_AGE_SECONDS = 7 * 24 * 3600
_LINK_SALT = "merx.crm.identify-link"


def _link_serializer(uow: UnitOfWork) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(uow.settings.secret_key.get_secret_value(), salt=_LINK_SALT)


def issue_link_token(uow: UnitOfWork, customer_id: int) -> str:
    """A signed, expiring proof that whoever holds it is this customer (after a sign-in, or
    in a verified-email link): the storefront passes it to identify to link its anonymous id.
    A customer gets one for itself only: another customer's id is a 404."""
    customers.get_customer(uow, customer_id)
    return _link_serializer(uow).dumps({"customer_id": int(customer_id)})


def customer_of_link_token(uow: UnitOfWork, token: str) -> int:
    try:
        data = _link_serializer(uow).loads(token, max_age=LINK_TOKEN_MAX_AGE_SECONDS)
    except BadSignature:  # includes SignatureExpired
        raise ValidationProblem.for_field("link_token", "is not valid or has expired") from None
    customer_id = survivor(uow, int(data["customer_id"]))
    if customer_id is None:
        raise ValidationProblem.for_field("link_token", "is not valid or has expired")
    return customer_id


def identify_anonymous(uow: UnitOfWork, *, anonymous_id: str | None, claimed: dict[str, str],
                       traits: dict[str, Any] | None = None, link_token: str | None = None) -> IdentifyResult:
    """Identify for a caller without a credential. With a valid link token the anonymous id
    joins that customer (its anonymous profile, if unverified, merges in). Without one the
    anonymous id keeps (or gets) a profile of its own; the claimed identifiers are not
    attached, looked up or reported, so nothing in the answer depends on whether they exist."""
    if anonymous_id is None:
        raise ValidationProblem.for_field("anonymous_id", "required without an API key")
    if link_token is not None:
        customer_id = customer_of_link_token(uow, link_token)
        result = identify(uow, anonymous_id=anonymous_id, identifiers={"customer_id": str(customer_id)},
                          source="link_token", commit=False)
    else:
        anonymous_id = normalise(uow, "anonymous", anonymous_id, "anonymous_id")
        owner = find_profile(uow, "anonymous", anonymous_id)
        if owner is None:
            result = identify(uow, anonymous_id=anonymous_id, identifiers={}, traits=traits, commit=False)
        else:
            result = IdentifyResult(customer_id=owner, created=False, events_rekeyed=rekey_events(uow, anonymous_id, owner))
    if claimed:  # kept as a fact for staff, without the values: an unverified claim proves nothing
        uow.audit("identify_claim", "customer", result.customer_id, after={"claimed_kinds": sorted(claimed)})
    uow.commit()
    return IdentifyResult(customer_id=result.customer_id, created=result.created, events_rekeyed=result.events_rekeyed)


def moved_counts(moved: dict[str, Any]) -> dict[str, int]:
    """How many records of each kind a merge moved (for the audit trail and the event)."""
    counts: dict[str, int] = {}
    for refs in moved.values():
        for key, value in refs.items():
            if key == "loyalty":
                counts["loyalty_points"] = sum(p["points"] for p in value)
            elif isinstance(value, list):
                counts[key] = len(value)
            elif value is not None:
                counts[key] = 1
    return counts


def moved_by_participant(moved: dict[str, Any]) -> dict[str, Any]:
    """A merge record's refs per lifecycle participant. Merges recorded before the lifecycle
    registry kept one flat dict: the CRM's refs, and the moved order ids under "orders"."""
    if "crm" in moved:
        return moved
    return {"crm": moved, "orders": {"orders": moved.get("orders") or [], "carts": []}}


def merge_profiles(uow: UnitOfWork, from_id: int, into_id: int, *, rule: str = "manual", commit: bool = True) -> Merge:
    """Merge profile `from_id` into `into_id`: everything moves, nothing is lost, and the
    duplicate stays as a hidden record pointing at the survivor."""
    from merx.crm import profiles
    from merx.crm.segments import service as segments

    if from_id == into_id:
        raise ValidationProblem.for_field("duplicate_id", "a profile cannot be merged into itself")
    source = customers.raw_customer(uow, from_id)
    target = customers.raw_customer(uow, into_id)
    for name, record in (("duplicate_id", source), ("customer_id", target)):
        if record is None or record.merged_into_id is not None:
            raise NotFound(f"{name}: the profile does not exist or was already merged")
    moved = lifecycle.merge(uow, from_id, into_id)
    customers.mark_merged(uow, from_id, into_id)
    merge = Merge(from_customer_id=from_id, into_customer_id=into_id, rule=rule, actor_user_id=uow.actor.user_id,
                  moved=moved)
    uow.session.add(merge)
    uow.session.flush()
    profiles.recompute_stats(uow, [into_id, from_id])
    counts = moved_counts(moved)
    uow.audit("merge", "customer", into_id, before={"duplicate_id": from_id}, after={"merge_id": merge.id,
                                                                                     "rule": rule, "moved": counts})
    uow.emit(CustomerMerged(merge_id=merge.id, from_customer_id=from_id, into_customer_id=into_id, rule=rule,
                            moved=counts))
    segments.refresh_profiles(uow, [into_id])
    if commit:
        uow.commit()
    return merge


def unmerge(uow: UnitOfWork, customer_id: int, *, commit: bool = True) -> Merge:
    """Undo the latest merge of `customer_id` (the duplicate): its own identities, events,
    orders, loyalty entries and the rest go back to it."""
    from merx.crm import profiles
    from merx.crm.segments import service as segments

    merge = uow.session.scalars(sa.select(Merge).where(Merge.from_customer_id == customer_id, Merge.undone_at.is_(None))
                                .order_by(Merge.id.desc())).first()
    if merge is None:
        raise NotFound("This profile has no merge to undo")
    into_id = merge.into_customer_id
    if customers.raw_customer(uow, into_id) is None or customers.raw_customer(uow, into_id).merged_into_id is not None:
        raise Conflict("The surviving profile was merged again since; undo that merge first", type_slug="unmerge-order")
    lifecycle.unmerge(uow, moved_by_participant(merge.moved), customer_id, into_id)
    customers.restore_merged(uow, customer_id)
    merge.undone_at = utcnow()
    profiles.recompute_stats(uow, [customer_id, into_id])
    uow.audit("unmerge", "customer", customer_id, before={"merged_into_id": into_id}, after={"merge_id": merge.id})
    uow.emit(CustomerUnmerged(merge_id=merge.id, customer_id=customer_id, from_customer_id=into_id))
    segments.refresh_profiles(uow, [customer_id, into_id])
    if commit:
        uow.commit()
    return merge


def merge_out(m: Merge) -> MergeOut:
    return MergeOut(id=m.id, from_customer_id=m.from_customer_id, into_customer_id=m.into_customer_id, rule=m.rule,
                    created_at=m.created_at, undone_at=m.undone_at, moved=m.moved)


def merges_of(uow: UnitOfWork, customer_id: int) -> list[Merge]:
    return list(uow.session.scalars(sa.select(Merge).where(sa.or_(
        Merge.from_customer_id == customer_id, Merge.into_customer_id == customer_id)).order_by(Merge.id)))


def add_identifier(uow: UnitOfWork, customer_id: int, kind: str, value: str, *, verified: bool) -> IdentifyResult:
    """Attach an identifier to a customer the caller may see, by hand (`anonymous_id` links
    a visitor). A verified email or phone of another profile merges the two (see identify)."""
    customers.get_customer(uow, customer_id)
    if kind == "anonymous_id":
        return identify(uow, anonymous_id=value, identifiers={"customer_id": str(customer_id)}, verified=verified,
                        source="staff")
    return identify(uow, anonymous_id=None, identifiers={"customer_id": str(customer_id), kind: value},
                    verified=verified, source="staff")


def merge_into(uow: UnitOfWork, customer_id: int, duplicate_id: int) -> MergeOut:
    """Merge `duplicate_id` into `customer_id`, a customer the caller may see (by hand, `rule=manual`)."""
    customers.get_customer(uow, customer_id)
    return merge_out(merge_profiles(uow, duplicate_id, customer_id, rule="manual"))


def identify_caller(uow: UnitOfWork, *, anonymous_id: str | None, identifiers: dict[str, Any], verified: bool,
                    traits: dict[str, Any], link_token: str | None) -> IdentifyResult:
    """`POST /identify` for whoever calls: a customer may name only its own customer id, the
    back office any; a caller without a key goes through identify_anonymous (link tokens)."""
    actor = uow.actor
    named = identifiers.get("customer_id")
    if named is not None and actor.role not in BACK_OFFICE_ROLES and not (
            actor.role == Role.customer and actor.customer_id == named):
        raise Forbidden("Only back-office keys may name a customer id")
    if actor.is_anonymous:
        return identify_anonymous(uow, anonymous_id=anonymous_id, claimed=identifiers, traits=traits,
                                  link_token=link_token)
    if link_token is not None:
        raise ValidationProblem.for_field("link_token", "is for callers without an API key")
    return identify(uow, anonymous_id=anonymous_id, identifiers=identifiers, verified=verified, traits=traits)
