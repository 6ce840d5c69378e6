"""Store reports: per store and per associate, what happened in a period: assisted orders
(count, value), carts held and sent to customers and how many they ordered, kiosk sessions
and how many ended in an order, pickups handed over and refused, returns taken. Associates see their own stores; staff and admins every store."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from merx.core.auth import Role
from merx.core.errors import Forbidden
from merx.core.models import User
from merx.core.uow import UnitOfWork
from merx.instore.access import STORE_MANAGERS, my_stores
from merx.instore.models import AssistedOrder, CounterReturn, HeldCart, KioskSession, PickupCheck
from merx.pricing import public as pricing


@dataclass
class StoreRow:
    store: str
    assisted_orders: int = 0
    assisted_value: dict[str, Decimal] = field(default_factory=dict)  # currency -> amount
    carts_held: int = 0
    carts_ordered: int = 0  # of the carts held in the period, those the customer has ordered
    kiosk_sessions: int = 0
    kiosk_orders: int = 0
    pickups_handed_over: int = 0
    pickups_refused: int = 0
    returns_taken: int = 0
    units_returned: int = 0
    units_restocked: int = 0

    @property
    def kiosk_conversion(self) -> float | None:
        return self.kiosk_orders / self.kiosk_sessions if self.kiosk_sessions else None


@dataclass
class AssociateRow:
    user_id: int
    name: str
    assisted_orders: int = 0
    assisted_value: dict[str, Decimal] = field(default_factory=dict)
    carts_held: int = 0
    pickups_handed_over: int = 0
    returns_taken: int = 0


@dataclass
class StoreReport:
    since: dt.datetime
    until: dt.datetime
    stores: list[StoreRow]
    associates: list[AssociateRow]


def _window(stmt: Any, column: Any, since: dt.datetime, until: dt.datetime, stores: list[str], store_col: Any) -> Any:
    return stmt.where(column >= since, column < until, store_col.in_(stores))


def require_report_reader(uow: UnitOfWork) -> None:
    if uow.actor.role not in (*STORE_MANAGERS, Role.store_associate):
        raise Forbidden("Store reports are for staff and store associates")


def store_report(uow: UnitOfWork, *, since: dt.datetime, until: dt.datetime, store: str | None = None) -> StoreReport:
    require_report_reader(uow)
    codes = [s.code for s in my_stores(uow)]
    if store is not None:
        if store not in codes:
            raise Forbidden(f"Store {store} is not one of yours") if uow.actor.role == Role.store_associate else \
                Forbidden(f"Store {store} is not an active store")
        codes = [store]
    rows = {c: StoreRow(store=c) for c in codes}
    people: dict[int, AssociateRow] = {}

    def person(uid: int) -> AssociateRow:
        if uid not in people:
            people[uid] = AssociateRow(user_id=uid, name="")
        return people[uid]

    s = uow.session
    for o in s.execute(_window(sa.select(AssistedOrder.store_code, AssistedOrder.associate_user_id,
                                         AssistedOrder.source, AssistedOrder.total_minor, AssistedOrder.currency),
                               AssistedOrder.created_at, since, until, codes, AssistedOrder.store_code)):
        row = rows[o.store_code]
        amount = pricing.from_minor(o.total_minor, o.currency)
        if o.source == "kiosk":
            row.kiosk_orders += 1
            continue
        row.assisted_orders += 1
        row.assisted_value[o.currency] = row.assisted_value.get(o.currency, Decimal(0)) + amount
        if o.associate_user_id is not None:
            p = person(o.associate_user_id)
            p.assisted_orders += 1
            p.assisted_value[o.currency] = p.assisted_value.get(o.currency, Decimal(0)) + amount
    for h in s.execute(_window(sa.select(HeldCart.store_code, HeldCart.associate_user_id, HeldCart.status),
                               HeldCart.created_at, since, until, codes, HeldCart.store_code)):
        rows[h.store_code].carts_held += 1
        rows[h.store_code].carts_ordered += h.status == "ordered"
        if h.associate_user_id is not None:
            person(h.associate_user_id).carts_held += 1
    for code, n in s.execute(_window(sa.select(KioskSession.store_code, sa.func.count()), KioskSession.started_at,
                                     since, until, codes, KioskSession.store_code).group_by(KioskSession.store_code)):
        rows[code].kiosk_sessions = int(n)
    for c in s.execute(_window(sa.select(PickupCheck.store_code, PickupCheck.user_id, PickupCheck.ok), PickupCheck.at,
                               since, until, codes, PickupCheck.store_code)):
        if c.ok:
            rows[c.store_code].pickups_handed_over += 1
            if c.user_id is not None:
                person(c.user_id).pickups_handed_over += 1
        else:
            rows[c.store_code].pickups_refused += 1
    for r in s.execute(_window(sa.select(CounterReturn.store_code, CounterReturn.associate_user_id, CounterReturn.units,
                                         CounterReturn.restocked_units), CounterReturn.at, since, until, codes,
                               CounterReturn.store_code)):
        row = rows[r.store_code]
        row.returns_taken += 1
        row.units_returned += r.units
        row.units_restocked += r.restocked_units
        if r.associate_user_id is not None:
            person(r.associate_user_id).returns_taken += 1
    if uow.actor.role == Role.store_associate:  # an associate's own figures, not colleagues'
        people = {k: v for k, v in people.items() if k == uow.actor.user_id}
    if people:
        for uid, name in s.execute(sa.select(User.id, User.name).where(User.id.in_(list(people)))):
            people[uid].name = name
    return StoreReport(since=since, until=until, stores=list(rows.values()),
                       associates=sorted(people.values(), key=lambda p: (-p.assisted_orders, p.name)))


def report_dict(report: StoreReport) -> dict[str, Any]:
    def money(values: dict[str, Decimal]) -> list[dict[str, str]]:
        return [{"amount": str(v), "currency": c} for c, v in sorted(values.items())]

    return {"since": report.since, "until": report.until,
            "stores": [{"store": r.store, "assisted_orders": r.assisted_orders, "assisted_value": money(r.assisted_value),
                        "carts_held": r.carts_held, "carts_ordered": r.carts_ordered, "kiosk_sessions": r.kiosk_sessions, "kiosk_orders": r.kiosk_orders,
                        "kiosk_conversion": r.kiosk_conversion, "pickups_handed_over": r.pickups_handed_over,
                        "pickups_refused": r.pickups_refused, "returns_taken": r.returns_taken,
                        "units_returned": r.units_returned, "units_restocked": r.units_restocked}
                       for r in report.stores],
            "associates": [{"user_id": a.user_id, "name": a.name, "assisted_orders": a.assisted_orders,
                            "assisted_value": money(a.assisted_value), "carts_held": a.carts_held,
                            "pickups_handed_over": a.pickups_handed_over,
                            "returns_taken": a.returns_taken} for a in report.associates]}
