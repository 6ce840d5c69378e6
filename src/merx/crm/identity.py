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
A merge moves identities, events, CRM order facts, orders (orders service), tickets (support
service, when present), loyalty ledgers, consents, referral codes, and records every moved
id in `crm_merges.moved` so staff can un-merge."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Iterable, Callable

import sqlalchemy as sa

from merx.core.auth import Role
from merx.core.db import utcnow
from merx.core.errors import Conflict, NotFound, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.crm.models import Consent, Identity, Merge, OrderFact, ReferralCode, Referral, RfmScore, TrackedEvent
from merx.customers import service as customers
from merx.customers.rules import normalize_email, normalize_phone
from merx.crm.schemas import MergeOut
from merx.customers.schemas import CustomerCreate

KINDS = ("email", "phone", "loyalty_card", "store_customer", "marketplace_buyer", "messaging_openid", "anonymous")
# Which identifier wins when unverified identifiers point at different profiles.
STRENGTH = ("customer_id", "email", "phone", "loyalty_card", "store_customer", "marketplace_buyer",
            "messaging_openid", "anonymous")


def optional_service(context: str, function: str) -> Callable[..., Any] | None:
    """Another context's service function, when that context (and function) exists yet."""
    try:
        module = importlib.import_module(f"merx.{context}.service")
    except ImportError:
        return None
    return getattr(module, function, None)


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
    uow.emit("customer.identified", "customer", target,
             {"customer_id": target, "anonymous_id": anonymous_id, "created": created, "merged_from": merged_from})
    from merx.crm.segments import service as segments

    segments.refresh_profiles(uow, [target])
    if commit:
        uow.commit()
    return IdentifyResult(customer_id=target, created=created, events_rekeyed=rekeyed, merged_from=merged_from,
                          conflicts=conflicts)


def _move(uow: UnitOfWork, model: Any, column: str, ids: list[int], to_id: int, pk: str = "id") -> None:
    for i in range(0, len(ids), 500):
        uow.session.execute(sa.update(model).where(getattr(model, pk).in_(ids[i:i + 500])).values({column: to_id}))


def _ids(uow: UnitOfWork, model: Any, column: str, customer_id: int, pk: str = "id") -> list[int]:
    return list(uow.session.scalars(sa.select(getattr(model, pk)).where(getattr(model, column) == customer_id)))


def merge_profiles(uow: UnitOfWork, from_id: int, into_id: int, *, rule: str = "manual", commit: bool = True) -> Merge:
    """Merge profile `from_id` into `into_id`: everything moves, nothing is lost, and the
    duplicate stays as a hidden record pointing at the survivor."""
    from merx.crm import loyalty, profiles
    from merx.crm.segments import service as segments

    if from_id == into_id:
        raise ValidationProblem.for_field("duplicate_id", "a profile cannot be merged into itself")
    source = customers.raw_customer(uow, from_id)
    target = customers.raw_customer(uow, into_id)
    for name, record in (("duplicate_id", source), ("customer_id", target)):
        if record is None or record.merged_into_id is not None:
            raise NotFound(f"{name}: the profile does not exist or was already merged")
    moved: dict[str, Any] = {
        "identities": _ids(uow, Identity, "customer_id", from_id),
        "events": _ids(uow, TrackedEvent, "customer_id", from_id),
        "order_facts": _ids(uow, OrderFact, "customer_id", from_id, pk="order_id"),
        "consents": _ids(uow, Consent, "customer_id", from_id),
        "referral_codes": _ids(uow, ReferralCode, "customer_id", from_id),
        "referrals_as_referrer": _ids(uow, Referral, "referrer_id", from_id),
    }
    _move(uow, Identity, "customer_id", moved["identities"], into_id)
    _move(uow, TrackedEvent, "customer_id", moved["events"], into_id)
    _move(uow, OrderFact, "customer_id", moved["order_facts"], into_id, pk="order_id")
    _move(uow, Consent, "customer_id", moved["consents"], into_id)
    _move(uow, ReferralCode, "customer_id", moved["referral_codes"], into_id)
    _move(uow, Referral, "referrer_id", moved["referrals_as_referrer"], into_id)
    # A profile is referred at most once; the duplicate's referral moves only if the survivor has none.
    referred = uow.session.scalar(sa.select(Referral.id).where(Referral.referred_id == from_id))
    if referred is not None and uow.session.scalar(sa.select(Referral.id).where(Referral.referred_id == into_id)) is None:
        _move(uow, Referral, "referred_id", [referred], into_id)
        moved["referral_as_referred"] = referred
    moved["loyalty"] = loyalty.move_ledgers(uow, from_id, into_id)

    orders_of = optional_service("orders", "orders_for_customer")
    reassign = optional_service("orders", "reassign_customer")
    if reassign is not None:
        moved["orders"] = [o["id"] if isinstance(o, dict) else o.id for o in orders_of(uow, from_id)] \
            if orders_of is not None else None
        moved["orders_moved"] = reassign(uow, from_id, into_id)
    else:
        moved["orders_moved"] = None  # the orders context is not installed: nothing to move there
    tickets = optional_service("support", "reassign_customer")
    moved["tickets_moved"] = tickets(uow, from_id, into_id) if tickets is not None else None

    uow.session.execute(sa.delete(RfmScore).where(RfmScore.customer_id == from_id))
    segments.forget_profile(uow, from_id)
    customers.mark_merged(uow, from_id, into_id)
    merge = Merge(from_customer_id=from_id, into_customer_id=into_id, rule=rule, actor_user_id=uow.actor.user_id,
                  moved=moved)
    uow.session.add(merge)
    uow.session.flush()
    profiles.recompute_stats(uow, [into_id, from_id])
    counts = {k: (len(v) if isinstance(v, list) else v) for k, v in moved.items() if k != "loyalty"}
    counts["loyalty_points"] = sum(p["points"] for p in moved["loyalty"])
    uow.audit("merge", "customer", into_id, before={"duplicate_id": from_id}, after={"merge_id": merge.id,
                                                                                     "rule": rule, "moved": counts})
    uow.emit("customer.merged", "customer", into_id, {"merge_id": merge.id, "from_customer_id": from_id,
                                                      "into_customer_id": into_id, "rule": rule, "moved": counts})
    segments.refresh_profiles(uow, [into_id])
    if commit:
        uow.commit()
    return merge


def unmerge(uow: UnitOfWork, customer_id: int, *, commit: bool = True) -> Merge:
    """Undo the latest merge of `customer_id` (the duplicate): its own identities, events,
    orders, loyalty entries and the rest go back to it."""
    from merx.crm import loyalty, profiles
    from merx.crm.segments import service as segments

    merge = uow.session.scalars(sa.select(Merge).where(Merge.from_customer_id == customer_id, Merge.undone_at.is_(None))
                                .order_by(Merge.id.desc())).first()
    if merge is None:
        raise NotFound("This profile has no merge to undo")
    into_id = merge.into_customer_id
    if customers.raw_customer(uow, into_id) is None or customers.raw_customer(uow, into_id).merged_into_id is not None:
        raise Conflict("The surviving profile was merged again since; undo that merge first", type_slug="unmerge-order")
    moved = merge.moved
    _move(uow, Identity, "customer_id", moved["identities"], customer_id)
    _move(uow, TrackedEvent, "customer_id", moved["events"], customer_id)
    _move(uow, OrderFact, "customer_id", moved["order_facts"], customer_id, pk="order_id")
    _move(uow, Consent, "customer_id", moved["consents"], customer_id)
    _move(uow, ReferralCode, "customer_id", moved["referral_codes"], customer_id)
    _move(uow, Referral, "referrer_id", moved["referrals_as_referrer"], customer_id)
    if moved.get("referral_as_referred"):
        _move(uow, Referral, "referred_id", [moved["referral_as_referred"]], customer_id)
    loyalty.restore_ledgers(uow, moved["loyalty"], customer_id, into_id)
    notes = []
    if moved.get("orders"):
        restore = optional_service("orders", "reassign_orders")
        if restore is not None:
            restore(uow, moved["orders"], customer_id)
        else:
            notes.append("orders stay with the surviving profile: the orders service has no reassign_orders")
    customers.restore_merged(uow, customer_id)
    merge.undone_at = utcnow()
    profiles.recompute_stats(uow, [customer_id, into_id])
    uow.audit("unmerge", "customer", customer_id, before={"merged_into_id": into_id}, after={"merge_id": merge.id,
                                                                                            "notes": notes})
    uow.emit("customer.unmerged", "customer", customer_id, {"merge_id": merge.id, "customer_id": customer_id,
                                                            "from_customer_id": into_id})
    segments.refresh_profiles(uow, [customer_id, into_id])
    if commit:
        uow.commit()
    merge.moved = {**moved, "notes": notes}
    return merge


def merge_out(m: Merge) -> MergeOut:
    return MergeOut(id=m.id, from_customer_id=m.from_customer_id, into_customer_id=m.into_customer_id, rule=m.rule,
                    created_at=m.created_at, undone_at=m.undone_at, moved=m.moved)


def merges_of(uow: UnitOfWork, customer_id: int) -> list[Merge]:
    return list(uow.session.scalars(sa.select(Merge).where(sa.or_(
        Merge.from_customer_id == customer_id, Merge.into_customer_id == customer_id)).order_by(Merge.id)))
