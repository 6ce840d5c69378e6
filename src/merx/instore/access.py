"""Who may act in which store. A store associate is a user with the `store_associate` role
bound to one or more stores (`instore_associate_stores`); admins and staff may act in any
store. An associate's request for a store it is not bound to is refused (403); a record of
another store (a pickup waiting elsewhere) is as absent as one that does not exist (404).

The orders, inventory and customers contexts know the back-office roles, not this one: after
this context has checked the store, it calls them with `acting_for_store`, the associate's own
user id under the staff role, so their audit rows and `placed_by_user_id` still name the
associate, and nothing an associate does reaches past the checks made here."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator

import sqlalchemy as sa

from merx.core.auth import Principal, Role
from merx.core.errors import FieldError, Forbidden, NotFound, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.instore.models import AssociateStore
from merx.inventory import public as inventory

STORE_MANAGERS = (Role.admin, Role.staff)
IN_STORE_ROLES = (Role.admin, Role.staff, Role.store_associate)


@dataclass(frozen=True)
class Store:
    id: int
    code: str
    name: str
    lat: float | None
    lon: float | None
    pickup: bool
    accepts_returns: bool


def _store(loc: object) -> Store:
    return Store(id=loc.id, code=loc.code, name=loc.name, lat=loc.lat, lon=loc.lon,  # type: ignore[attr-defined]
                 pickup=loc.pickup, accepts_returns=loc.accepts_returns)  # type: ignore[attr-defined]


def stores_of(uow: UnitOfWork, user_id: int | None) -> list[Store]:
    """The stores an associate works in (by name)."""
    if user_id is None:
        return []
    ids = list(uow.session.scalars(sa.select(AssociateStore.location_id).where(AssociateStore.user_id == user_id)))
    locs = inventory.locations_by_ids(uow, ids)
    return sorted((_store(loc) for loc in locs.values() if loc.active), key=lambda s: s.name)


def my_stores(uow: UnitOfWork) -> list[Store]:
    """The stores the caller may act in: its own for an associate, every active store for staff."""
    actor = uow.actor
    if actor.role == Role.store_associate:
        return stores_of(uow, actor.user_id)
    if actor.role in STORE_MANAGERS:
        rows, _ = inventory.list_locations(uow, kind="store", limit=500)
        return sorted((Store(id=r["id"], code=r["code"], name=r["name"], lat=r["lat"], lon=r["lon"], pickup=r["pickup"],
                             accepts_returns=r["accepts_returns"]) for r in rows if r["active"]), key=lambda s: s.name)
    raise Forbidden("Only store associates and staff use the in-store app")


def require_store(uow: UnitOfWork, code: str) -> Store:
    """The store `code` when the caller may act in it: 403 for a store the associate is not
    bound to, 404 for no such store."""
    actor = uow.actor
    if actor.role not in IN_STORE_ROLES:
        raise Forbidden("Only store associates and staff use the in-store app")
    loc = inventory.get_location_by_code(uow, code) if code else None
    if loc is None or loc.kind != "store" or not loc.active:
        raise NotFound(f"Store {code} does not exist")
    if actor.role == Role.store_associate:
        bound = uow.session.scalar(sa.select(AssociateStore.id).where(
            AssociateStore.user_id == actor.user_id, AssociateStore.location_id == loc.id))
        if bound is None:
            raise Forbidden(f"You are not an associate of store {loc.code}",
                            errors=[FieldError("store", "not one of your stores", "not_your_store")])
    return _store(loc)


def store_for_kiosk(uow: UnitOfWork, code: str) -> Store:
    """An active store (kiosks are anonymous: the store comes from the kiosk's URL)."""
    try:
        loc = inventory.get_location_by_code(uow, code)
    except NotFound:
        loc = None
    if loc is None or loc.kind != "store" or not loc.active:
        raise NotFound(f"Store {code} does not exist")
    return _store(loc)


@contextlib.contextmanager
def acting_for_store(uow: UnitOfWork) -> Iterator[Principal]:
    """Run the lower contexts' use cases as store staff, after this context's store check."""
    original = uow.actor
    name = f"{original.name} (store)" if original.user_id is not None else original.name
    uow.actor = Principal(user_id=original.user_id, role=Role.staff, name=name)
    try:
        yield uow.actor
    finally:
        uow.actor = original


def bind_associate(uow: UnitOfWork, user_id: int, store_codes: list[str], *, role_of_user: Role | None) -> list[Store]:
    """Bind an associate to stores (replaces its bindings). Admin only; the user must hold
    the store_associate role."""
    if uow.actor.role != Role.admin:
        raise Forbidden("Only an administrator binds associates to stores")
    if role_of_user != Role.store_associate:
        raise ValidationProblem.for_field("user_id", "is not an active user with the store_associate role",
                                          "not_an_associate")
    if not store_codes:
        raise ValidationProblem.for_field("stores", "name at least one store", "required")
    locs = []
    for i, code in enumerate(store_codes):
        loc = inventory.get_location_by_code(uow, code, field=f"stores[{i}]")
        if loc.kind != "store":
            raise ValidationProblem.for_field(f"stores[{i}]", f"{code} is a {loc.kind}, not a store", "not_a_store")
        locs.append(loc)
    uow.session.execute(sa.delete(AssociateStore).where(AssociateStore.user_id == user_id))
    for loc in {loc.id: loc for loc in locs}.values():
        uow.session.add(AssociateStore(user_id=user_id, location_id=loc.id, location_code=loc.code))
    uow.audit("bind", "store_associate", user_id, after={"stores": sorted({loc.code for loc in locs})})
    uow.commit()
    return stores_of(uow, user_id)
