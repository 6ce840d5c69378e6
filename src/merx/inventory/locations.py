"""Locations: stores and warehouses, their opening hours and what they offer."""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.errors import Conflict, FieldError, NotFound, ValidationProblem
from merx.core.pagination import paginate, text_search
from merx.core.uow import UnitOfWork
from merx.inventory import events as ev
from merx.inventory import rules
from merx.inventory.models import Location


LOCATION_FIELDS = ("name", "kind", "lat", "lon", "address", "pickup", "accepts_returns", "ships", "priority",
                   "low_stock_threshold", "opening_hours", "timezone", "active")


def location_out(loc: Location, *, at: dt.datetime | None = None) -> dict[str, Any]:
    return {"id": loc.id, "code": loc.code, "name": loc.name, "kind": loc.kind, "lat": loc.lat, "lon": loc.lon,
            "address": loc.address, "pickup": loc.pickup, "accepts_returns": loc.accepts_returns, "ships": loc.ships,
            "priority": loc.priority, "low_stock_threshold": loc.low_stock_threshold,
            "opening_hours": loc.opening_hours or {}, "timezone": loc.timezone, "active": loc.active,
            "open_now": rules.is_open(loc.opening_hours, loc.timezone, at or utcnow()), "version": loc.version}


def _check_hours(hours: dict | None) -> None:
    if hours:
        problems = rules.validate_opening_hours(hours)
        if problems:
            raise ValidationProblem("; ".join(f"{f}: {m}" for f, m in problems),
                                    errors=[FieldError(f, m) for f, m in problems])


def create_location(uow: UnitOfWork, data: dict[str, Any]) -> dict[str, Any]:
    _check_hours(data.get("opening_hours"))
    if uow.session.scalar(sa.select(Location.id).where(Location.code == data["code"])) is not None:
        raise Conflict(f"A location with code {data['code']} exists", type_slug="duplicate",
                       errors=[FieldError("code", "already exists", "duplicate")])
    loc = Location(code=data["code"], **{k: data[k] for k in LOCATION_FIELDS if data.get(k) is not None})
    uow.session.add(loc)
    uow.session.flush()
    out = location_out(loc)
    uow.audit("create", "location", loc.id, after=out)
    uow.emit(ev.LocationCreated(location_id=loc.id, code=loc.code, kind=loc.kind), version=loc.version)
    uow.commit()
    return out


def update_location(uow: UnitOfWork, code: str, changes: dict[str, Any]) -> dict[str, Any]:
    loc = get_location_by_code(uow, code, for_update=True)
    if "opening_hours" in changes:
        _check_hours(changes["opening_hours"])
    before = location_out(loc)
    changed = []
    for key, value in changes.items():
        if key in LOCATION_FIELDS and getattr(loc, key) != value:
            setattr(loc, key, value)
            changed.append(key)
    if changed:
        loc.version += 1
        uow.session.flush()
        uow.audit("update", "location", loc.id, before=before, after=location_out(loc))
        uow.emit(ev.LocationUpdated(location_id=loc.id, code=loc.code, changed=changed), version=loc.version)
        uow.commit()
    return location_out(loc)


def get_location_by_code(uow: UnitOfWork, code: str, *, field: str | None = None,
                         for_update: bool = False) -> Location:
    stmt = sa.select(Location).where(Location.code == code)
    if for_update:
        stmt = stmt.with_for_update()
    loc = uow.session.scalar(stmt)
    if loc is None:
        if field:
            raise ValidationProblem.for_field(field, f"no location with code {code!r}", "unknown_location")
        raise NotFound(f"Location {code} does not exist")
    return loc


def get_location(uow: UnitOfWork, location_id: int) -> Location | None:
    return uow.session.get(Location, location_id)


def locations_by_ids(uow: UnitOfWork, ids: Iterable[int]) -> dict[int, Location]:
    ids = set(ids)
    if not ids:
        return {}
    return {loc.id: loc for loc in uow.session.scalars(sa.select(Location).where(Location.id.in_(ids)))}


def list_locations(uow: UnitOfWork, *, kind: str | None = None, pickup: bool | None = None,
                   limit: int = 50, cursor: str | None = None,
                   q: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """`q`: only the locations whose code, name or address contain it."""
    stmt = text_search(sa.select(Location), q, Location.code, Location.name, Location.address)
    if kind:
        stmt = stmt.where(Location.kind == kind)
    if pickup is not None:
        stmt = stmt.where(Location.pickup == pickup)
    now = utcnow()
    return paginate(uow.session, stmt, Location.id, limit=limit, cursor=cursor,
                    convert=lambda loc: location_out(loc, at=now))
