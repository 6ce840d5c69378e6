"""Orders split per seller: sub-orders created in checkout's transaction, per-line accept or
refuse with a deadline, refunds of lines that will not be delivered, seller shipments,
incidents, and the sub-orders of a cancelled order.

Line states:   awaiting_acceptance -> accepted -> shipped [-> refunded (incident)]
                                   `-> refused | expired (deadline)  -> refunded to the customer
               awaiting_acceptance | accepted -> cancelled (the customer order was cancelled)
A sub-order's status follows its lines (`_derive_status`).

Money (payout timing): accepting a line fixes its commission rate; the seller's sale (+line
total) and the commission (-rate x total) enter the ledger when the line SHIPS, dated then, so
a payout cycle pays only what was shipped before its end (payouts.py). An accepted line
cancelled before shipping never reaches the ledger. An incident refund after shipping records
a refund (-line total; the commission is kept). (Lines accepted before this rule already have
their entries: shipping does not book them twice, a cancellation reverses them.)"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.errors import Conflict, FieldError, NotFound, ValidationProblem
from merx.core.money import Money
from merx.core.pagination import check_limit, paginate
from merx.core.schemas import MoneyOut, Page
from merx.core.uow import UnitOfWork
from merx.orders import seller_lines as order_hook
from merx.sellers import events as ev
from merx.sellers import offers, rules
from merx.sellers.access import check_visible, own_seller_id, require_staff
from merx.sellers.models import CommissionRule, Incident, LedgerEntry, SellerOrder, SellerOrderLine
from merx.sellers.schemas import AcceptIn, IncidentIn, IncidentOut, SellerOrderLineOut, SellerOrderOut, ShipIn

ACCEPTANCE_HOURS = 48  # a seller has this long to accept or refuse a line
OPEN_LINE = "awaiting_acceptance"


def _money(minor: int, currency: str) -> MoneyOut:
    return MoneyOut.of(Money.from_minor(minor, currency))


def _lines(uow: UnitOfWork, so_id: int) -> list[SellerOrderLine]:
    return list(uow.session.scalars(sa.select(SellerOrderLine).where(SellerOrderLine.seller_order_id == so_id)
                                    .order_by(SellerOrderLine.line_no)))


def seller_order_out(uow: UnitOfWork, so: SellerOrder, lines: list[SellerOrderLine] | None = None) -> SellerOrderOut:
    lines = lines if lines is not None else _lines(uow, so.id)
    c = so.currency
    return SellerOrderOut(
        id=so.id, order_id=so.order_id, order_number=so.order_number, seller_id=so.seller_id, status=so.status,
        currency=c, shipping_address=so.shipping_address, acceptance_deadline=so.acceptance_deadline,
        ship_by=so.ship_by, carrier=so.carrier, tracking_number=so.tracking_number, tracking_url=so.tracking_url,
        shipped_at=so.shipped_at, shipped_late=so.shipped_late, version=so.version, created_at=so.created_at,
        lines=[SellerOrderLineOut(id=ln.id, line_no=ln.line_no, offer_id=ln.offer_id, sku=ln.sku, name=ln.name,
                                  category=ln.category, quantity=ln.quantity,
                                  unit_price=_money(ln.unit_price_minor, c), total=_money(ln.total_minor, c),
                                  commission=_money(ln.commission_minor, c), status=ln.status, reason=ln.reason,
                                  refund_status=ln.refund_status) for ln in lines])


def _derive_status(so: SellerOrder, lines: Iterable[SellerOrderLine]) -> str:
    if so.seller_id is None:
        return "operator"
    states = {ln.status for ln in lines}
    if OPEN_LINE in states:
        return "awaiting_acceptance"
    if "accepted" in states:
        return "accepted"
    if states & {"shipped", "refunded"} and so.shipped_at is not None:
        return "shipped"
    if states and states <= {"refused", "expired"}:
        return "refused"
    return "cancelled"


def _commission_rules(uow: UnitOfWork) -> list[tuple[str | None, int | None, Any]]:
    return [(r.category, r.seller_id, r.rate) for r in uow.session.scalars(sa.select(CommissionRule))]


# -- checkout: the orders.seller_lines hook ------------------------------------------------------

def split_order(uow: UnitOfWork, placed: order_hook.PlacedOrder) -> None:
    """In checkout's transaction: one sub-order per seller with its lines awaiting acceptance
    (and one for the operator's own lines); the offers' stock is taken now."""
    now = placed.placed_at or utcnow()
    by_seller: dict[int | None, list[order_hook.PlacedOrderLine]] = {}
    for ln in placed.lines:
        offered = placed.offered.get(ln.line_no)
        by_seller.setdefault(offered.seller_id if offered else None, []).append(ln)
    deadline = now + dt.timedelta(hours=ACCEPTANCE_HOURS)
    for seller_id, lines in by_seller.items():
        so = SellerOrder(order_id=placed.order_id, order_number=placed.number, seller_id=seller_id,
                         status="awaiting_acceptance" if seller_id is not None else "operator",
                         currency=placed.currency, customer_id=placed.customer_id,
                         shipping_address=placed.shipping_address,
                         acceptance_deadline=deadline if seller_id is not None else None,
                         version=1, created_at=now, updated_at=now)
        uow.session.add(so)
        uow.session.flush()
        rows = []
        for ln in lines:
            offered = placed.offered.get(ln.line_no)
            if offered is not None:
                offers.take_stock(uow, offered.offer_id, ln.quantity, f"lines[{ln.line_no - 1}].quantity")
            rows.append(SellerOrderLine(
                seller_order_id=so.id, order_id=placed.order_id, line_no=ln.line_no,
                offer_id=offered.offer_id if offered else None, sku=ln.sku, name=ln.name, category=ln.category,
                quantity=ln.quantity, unit_price_minor=ln.unit_price_minor, total_minor=ln.total_minor,
                commission_minor=0, status=OPEN_LINE if offered else "operator", refund_status="none"))
        uow.session.add_all(rows)
        uow.session.flush()
        if seller_id is not None:
            uow.emit(ev.SellerOrderCreated(
                seller_order_id=so.id, order_id=so.order_id, seller_id=seller_id, status=so.status,
                currency=so.currency, acceptance_deadline=deadline,
                lines=[ev.SplitLine(line_id=r.id, line_no=r.line_no, sku=r.sku, quantity=r.quantity,
                                    total=Money.from_minor(r.total_minor, so.currency).amount) for r in rows]),
                version=so.version)


# -- reading -----------------------------------------------------------------------------------

def _load(uow: UnitOfWork, so_id: int, *, for_update: bool = False) -> SellerOrder:
    stmt = sa.select(SellerOrder).where(SellerOrder.id == so_id).execution_options(populate_existing=True)
    if for_update:
        stmt = stmt.with_for_update()
    so = uow.session.scalar(stmt)
    if so is None:
        raise NotFound(f"Seller order {so_id} does not exist")
    check_visible(uow, so.seller_id, f"Seller order {so_id}")
    return so


def get_seller_order(uow: UnitOfWork, so_id: int) -> SellerOrderOut:
    return seller_order_out(uow, _load(uow, so_id))


def seller_orders_stmt(seller_id: int | None, *, status: str | None = None, order_id: int | None = None) -> sa.Select:
    """Sub-orders of one seller (None: all, the operator's included), newest first."""
    stmt = sa.select(SellerOrder)
    if seller_id is not None:
        stmt = stmt.where(SellerOrder.seller_id == seller_id)
    if status:
        stmt = stmt.where(SellerOrder.status == status)
    if order_id is not None:
        stmt = stmt.where(SellerOrder.order_id == order_id)
    return stmt


def list_seller_orders(uow: UnitOfWork, *, status: str | None = None, order_id: int | None = None,
                       seller_id: int | None = None, limit: int | None = None,
                       cursor: str | None = None) -> Page[SellerOrderOut]:
    own = own_seller_id(uow)
    stmt = seller_orders_stmt(own if own is not None else seller_id, status=status, order_id=order_id)
    items, nxt = paginate(uow.session, stmt, SellerOrder.id, limit=check_limit(limit, 50, 200), cursor=cursor,
                          convert=lambda so: seller_order_out(uow, so), descending=True)
    return Page[SellerOrderOut](items=items, next_cursor=nxt)


# -- accept / refuse -----------------------------------------------------------------------------

def _ledger(uow: UnitOfWork, so: SellerOrder, line: SellerOrderLine | None, kind: str, amount_minor: int,
            description: str, at: dt.datetime) -> None:
    uow.session.add(LedgerEntry(seller_id=so.seller_id, kind=kind, amount_minor=amount_minor, currency=so.currency,
                                seller_order_id=so.id, line_id=line.id if line else None, description=description,
                                created_at=at))


def _accept_line(uow: UnitOfWork, so: SellerOrder, ln: SellerOrderLine, rate_rules: list, now: dt.datetime) -> None:
    rate = rules.commission_rate(rate_rules, category=ln.category, seller_id=so.seller_id)
    ln.status, ln.decided_at = "accepted", now
    ln.commission_rate, ln.commission_minor = rate, rules.commission_minor(ln.total_minor, rate)


def _booked(uow: UnitOfWork, so: SellerOrder, line_ids: list[int]) -> set[int]:
    """Lines whose sale is already in the ledger."""
    if not line_ids:
        return set()
    return set(uow.session.scalars(sa.select(LedgerEntry.line_id).where(
        LedgerEntry.seller_id == so.seller_id, LedgerEntry.kind == "sale", LedgerEntry.line_id.in_(line_ids))))


def _book_shipped(uow: UnitOfWork, so: SellerOrder, lines: list[SellerOrderLine], now: dt.datetime) -> None:
    """The shipped lines' sale and commission enter the ledger (payout timing: from shipment)."""
    booked = _booked(uow, so, [ln.id for ln in lines])
    for ln in lines:
        if ln.id in booked:
            continue
        rate = ln.commission_rate if ln.commission_rate is not None else rules.DEFAULT_COMMISSION
        _ledger(uow, so, ln, "sale", ln.total_minor, f"{so.order_number} line {ln.line_no} {ln.sku} x{ln.quantity}",
                now)
        _ledger(uow, so, ln, "commission", -ln.commission_minor,
                f"{so.order_number} line {ln.line_no}: commission {rate * 100:.2f}%", now)


def _refuse_line(uow: UnitOfWork, ln: SellerOrderLine, status: str, reason: str | None, now: dt.datetime) -> None:
    ln.status, ln.reason, ln.decided_at = status, reason, now
    ln.refund_status = "pending"
    offers.give_back_stock(uow, ln.offer_id, ln.quantity)


def _touch(uow: UnitOfWork, so: SellerOrder, now: dt.datetime, lines: list[SellerOrderLine]) -> None:
    so.status = _derive_status(so, lines)
    so.version += 1
    so.updated_at = now


def accept(uow: UnitOfWork, so_id: int, data: AcceptIn, *, now: dt.datetime | None = None) -> SellerOrderOut:
    """The seller's per-line decisions (`PUT /seller-orders/{id}/accept`). Every named line
    must be this sub-order's and awaiting acceptance, else nothing is decided (409/422 naming
    the line). Refused lines are cancelled and refunded to the customer at once. (`now`:
    the clock, for tests and imports of past decisions.)"""
    now = now or utcnow()

    def run() -> SellerOrder:
        so = _load(uow, so_id, for_update=True)
        if so.seller_id is None:
            raise Conflict("The operator's own lines are not accepted through the marketplace",
                           type_slug="not-a-seller-order")
        lines = {ln.id: ln for ln in _lines(uow, so.id)}
        errors, seen = [], set()
        for i, d in enumerate(data.lines):
            ln = lines.get(d.line_id)
            f = f"lines[{i}].line_id"
            if ln is None:
                errors.append(FieldError(f, f"line {d.line_id} is not a line of seller order {so.id}", "unknown_line"))
            elif d.line_id in seen:
                errors.append(FieldError(f, f"line {d.line_id} is named twice", "duplicate"))
            elif ln.status != OPEN_LINE:
                errors.append(FieldError(f, f"line {d.line_id} is {ln.status}, not awaiting acceptance",
                                         "not_awaiting_acceptance"))
            elif not d.accepted and not (d.reason or "").strip():
                errors.append(FieldError(f"lines[{i}].reason", "say why the line is refused", "required"))
            seen.add(d.line_id)
        if errors:
            cls = Conflict if all(e.code == "not_awaiting_acceptance" for e in errors) else ValidationProblem
            kw = {"type_slug": "not-awaiting-acceptance"} if cls is Conflict else {}
            raise cls("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors, **kw)
        if so.acceptance_deadline is not None and now > so.acceptance_deadline:
            raise Conflict(f"The acceptance deadline of seller order {so.id} has passed", type_slug="deadline-passed")
        rate_rules = _commission_rules(uow)
        decisions = []
        for d in data.lines:
            ln = lines[d.line_id]
            if d.accepted:
                _accept_line(uow, so, ln, rate_rules, now)
            else:
                _refuse_line(uow, ln, "refused", d.reason, now)
            decisions.append(ev.LineDecision(line_id=ln.id, line_no=ln.line_no,
                                             decision="accepted" if d.accepted else "refused",
                                             reason=None if d.accepted else d.reason))
        all_lines = list(lines.values())
        if any(ln.status == "accepted" for ln in all_lines) and so.ship_by is None and not any(
                ln.status == OPEN_LINE for ln in all_lines):
            so.ship_by = now + dt.timedelta(days=_lead_time(uow, all_lines))
        _touch(uow, so, now, all_lines)
        uow.emit(ev.SellerOrderDecided(seller_order_id=so.id, order_id=so.order_id, seller_id=so.seller_id,
                                       status=so.status, decisions=decisions), version=so.version)
        uow.audit("decide", "seller_order", so.id, after={"decisions": [d.model_dump() for d in decisions]})
        uow.commit()
        return so

    so = uow.run_in_transaction(run)
    refund_pending_lines(uow, so.id)
    return get_seller_order(uow, so_id)


def _lead_time(uow: UnitOfWork, lines: list[SellerOrderLine]) -> int:
    from merx.sellers.models import Offer

    ids = {ln.offer_id for ln in lines if ln.offer_id and ln.status == "accepted"}
    days = [d for d in uow.session.scalars(sa.select(Offer.lead_time_days).where(Offer.id.in_(ids)))] if ids else []
    return max(days, default=2)


def expire_overdue(uow: UnitOfWork, now: dt.datetime, *, only: Iterable[int] | None = None) -> int:
    """The scheduler's sweep: lines still awaiting acceptance past their deadline expire
    (cancelled and refunded like a refusal; `only`: these sub-orders). Returns how many
    lines expired."""
    stmt = sa.select(SellerOrder.id).where(SellerOrder.status == "awaiting_acceptance",
                                           SellerOrder.acceptance_deadline < now).order_by(SellerOrder.id)
    if only is not None:
        stmt = stmt.where(SellerOrder.id.in_(list(only)))
    due = list(uow.session.scalars(stmt))
    expired = 0
    for so_id in due:
        def run(so_id: int = so_id) -> int:
            so = uow.session.scalar(sa.select(SellerOrder).where(SellerOrder.id == so_id).with_for_update()
                                    .execution_options(populate_existing=True))
            if so is None or so.status != "awaiting_acceptance" or so.acceptance_deadline >= now:
                uow.rollback()
                return 0
            lines = _lines(uow, so.id)
            open_lines = [ln for ln in lines if ln.status == OPEN_LINE]
            for ln in open_lines:
                _refuse_line(uow, ln, "expired", "acceptance deadline passed", now)
            if any(ln.status == "accepted" for ln in lines) and so.ship_by is None:
                so.ship_by = now + dt.timedelta(days=_lead_time(uow, lines))
            _touch(uow, so, now, lines)
            uow.emit(ev.SellerOrderDecided(
                seller_order_id=so.id, order_id=so.order_id, seller_id=so.seller_id, status=so.status,
                decisions=[ev.LineDecision(line_id=ln.id, line_no=ln.line_no, decision="expired",
                                           reason="acceptance deadline passed") for ln in open_lines]),
                version=so.version)
            uow.commit()
            return len(open_lines)

        expired += uow.run_in_transaction(run)
    return expired


def refund_pending_lines(uow: UnitOfWork, so_id: int | None = None) -> int:
    """Pay the customer back for refused/expired lines (refund_status pending or failed):
    claim the lines, ask orders to refund them through the provider, record the outcome.
    The scheduler retries failed refunds. Returns how many lines were settled."""
    def claim() -> list[tuple[int, int]]:
        stmt = (sa.select(SellerOrderLine).where(SellerOrderLine.refund_status.in_(("pending", "failed")))
                .order_by(SellerOrderLine.id).with_for_update())
        if so_id is not None:
            stmt = stmt.where(SellerOrderLine.seller_order_id == so_id)
        rows = list(uow.session.scalars(stmt))
        for ln in rows:
            ln.refund_status = "refunding"  # claimed: a concurrent sweep cannot refund it twice
        uow.commit()
        return [(ln.id, ln.order_id) for ln in rows]

    claimed = uow.run_in_transaction(claim)
    by_order: dict[int, list[int]] = {}
    for line_id, order_id in claimed:
        by_order.setdefault(order_id, []).append(line_id)
    for order_id, line_ids in by_order.items():
        rows = list(uow.session.scalars(sa.select(SellerOrderLine).where(SellerOrderLine.id.in_(line_ids))))
        amount = sum(ln.total_minor for ln in rows)
        per_line: dict[int, int] = {}
        for ln in rows:
            per_line[ln.line_no] = per_line.get(ln.line_no, 0) + ln.total_minor
        outcome = order_hook.refund_lines(uow, order_id, amount_minor=amount, lines=per_line,
                                          note=", ".join(f"line {ln.line_no}" for ln in rows))

        def record(line_ids: list[int] = line_ids, outcome: str = outcome) -> None:
            for ln in uow.session.scalars(sa.select(SellerOrderLine).where(SellerOrderLine.id.in_(line_ids))
                                          .with_for_update()):
                ln.refund_status = outcome
                cause = ln.status if ln.status in ("refused", "expired") else "incident"
                if outcome == "refunded" and ln.status in ("shipped", "accepted"):
                    ln.status = "refunded"
                so = uow.session.get(SellerOrder, ln.seller_order_id)
                so.version += 1
                uow.emit(ev.SellerLineRefunded(
                    seller_order_id=so.id, order_id=so.order_id, seller_id=so.seller_id or 0, status=so.status,
                    line_id=ln.id, line_no=ln.line_no, amount=Money.from_minor(ln.total_minor, so.currency),
                    outcome=outcome, customer_id=so.customer_id, order_number=so.order_number, sku=ln.sku,
                    name=ln.name, quantity=ln.quantity, cause=cause,
                    reason=_incident_reason(uow, ln) if cause == "incident" else ln.reason), version=so.version)
            uow.commit()

        uow.run_in_transaction(record)
    return len(claimed)


def _incident_reason(uow: UnitOfWork, ln: SellerOrderLine) -> str | None:
    kind = uow.session.scalar(sa.select(Incident.kind).where(Incident.line_id == ln.id, Incident.status == "refunded")
                              .order_by(Incident.id.desc()).limit(1))
    return {"not_received": "not received", "damaged": "arrived damaged"}.get(kind or "", ln.reason)


# -- shipping and incidents ----------------------------------------------------------------------

def ship(uow: UnitOfWork, so_id: int, data: ShipIn, *, now: dt.datetime | None = None) -> SellerOrderOut:
    """The seller ships every accepted line with carrier and tracking; after `ship_by` (the
    decision time plus the offers' longest lead time) the shipment counts as late."""
    now = now or utcnow()

    def run() -> None:
        so = _load(uow, so_id, for_update=True)
        lines = _lines(uow, so.id)
        accepted = [ln for ln in lines if ln.status == "accepted"]
        if so.seller_id is None or not accepted:
            raise Conflict(f"Seller order {so.id} is {so.status}; only accepted lines are shipped",
                           type_slug="nothing-to-ship")
        if any(ln.status == OPEN_LINE for ln in lines):
            raise Conflict(f"Seller order {so.id} still has lines awaiting acceptance; decide them first",
                           type_slug="awaiting-acceptance")
        for ln in accepted:
            ln.status = "shipped"
        _book_shipped(uow, so, accepted, now)
        so.carrier, so.tracking_number, so.tracking_url = data.carrier, data.tracking_number, data.tracking_url
        so.shipped_at = now
        so.shipped_late = bool(so.ship_by and now > so.ship_by)
        _touch(uow, so, now, lines)
        uow.emit(ev.SellerOrderShipped(seller_order_id=so.id, order_id=so.order_id, seller_id=so.seller_id,
                                       status=so.status, carrier=data.carrier, tracking_number=data.tracking_number,
                                       tracking_url=data.tracking_url, late=so.shipped_late), version=so.version)
        uow.audit("ship", "seller_order", so.id, after={"carrier": data.carrier, "tracking": data.tracking_number,
                                                        "late": so.shipped_late})
        uow.commit()

    uow.run_in_transaction(run)
    return get_seller_order(uow, so_id)


def incident_out(i: Incident) -> IncidentOut:
    return IncidentOut.model_validate(i, from_attributes=True)


def open_incident(uow: UnitOfWork, so_id: int, data: IncidentIn) -> IncidentOut:
    """Staff (for the customer) report that a shipped line was not received or arrived damaged."""
    require_staff(uow)
    so = _load(uow, so_id, for_update=True)
    ln = uow.session.get(SellerOrderLine, data.line_id)
    if ln is None or ln.seller_order_id != so.id:
        raise ValidationProblem.for_field("line_id", f"line {data.line_id} is not a line of seller order {so.id}",
                                          "unknown_line")
    if ln.status != "shipped":
        raise Conflict(f"Line {ln.id} is {ln.status}; incidents are for shipped lines", type_slug="not-shipped",
                       errors=[FieldError("line_id", f"line is {ln.status}", "not_shipped")])
    inc = Incident(seller_order_id=so.id, seller_id=so.seller_id, line_id=ln.id, kind=data.kind, note=data.note,
                   status="open", created_at=utcnow())
    uow.session.add(inc)
    uow.session.flush()
    so.version += 1
    uow.emit(ev.IncidentOpened(seller_order_id=so.id, order_id=so.order_id, seller_id=so.seller_id, status=so.status,
                               incident_id=inc.id, line_id=ln.id, kind=data.kind), version=so.version)
    uow.audit("open", "incident", inc.id, after={"kind": data.kind, "line_id": ln.id})
    from merx.sellers.rating import recompute  # the incident counts against the rating at once

    recompute(uow, so.seller_id, inc.created_at)
    uow.commit()
    return incident_out(inc)


def list_incidents(uow: UnitOfWork, *, status: str | None = None) -> list[IncidentOut]:
    return [incident_out(i) for i in uow.session.scalars(_incidents(uow, status).order_by(Incident.id.desc()).limit(500))]


def incident_page(uow: UnitOfWork, *, status: str | None = None, limit: int | None = None,
                  cursor: str | None = None) -> Page[IncidentOut]:
    """`GET /seller-incidents`: newest first; a seller sees its own."""
    items, nxt = paginate(uow.session, _incidents(uow, status), Incident.id, limit=check_limit(limit, 50, 500),
                          cursor=cursor, convert=incident_out, descending=True)
    return Page[IncidentOut](items=items, next_cursor=nxt)


def _incidents(uow: UnitOfWork, status: str | None) -> sa.Select[Any]:
    own = own_seller_id(uow)
    stmt = sa.select(Incident)
    if own is not None:
        stmt = stmt.where(Incident.seller_id == own)
    if status:
        stmt = stmt.where(Incident.status == status)
    return stmt


def _load_incident(uow: UnitOfWork, incident_id: int, *, for_update: bool = False) -> Incident:
    stmt = sa.select(Incident).where(Incident.id == incident_id)
    if for_update:
        stmt = stmt.with_for_update()
    inc = uow.session.scalar(stmt)
    if inc is None:
        raise NotFound(f"Incident {incident_id} does not exist")
    check_visible(uow, inc.seller_id, f"Incident {incident_id}")
    return inc


def reply_incident(uow: UnitOfWork, incident_id: int, reply: str) -> IncidentOut:
    inc = _load_incident(uow, incident_id, for_update=True)
    if inc.status != "open":
        raise Conflict(f"Incident {inc.id} is {inc.status}", type_slug="incident-closed")
    inc.seller_reply = reply
    uow.audit("reply", "incident", inc.id, after={"reply": reply})
    uow.commit()
    return incident_out(inc)


def refund_incident(uow: UnitOfWork, incident_id: int) -> IncidentOut:
    """Staff settle an incident with a refund of the line: the customer is paid back, the
    seller's ledger is debited the line total (the commission is kept)."""
    require_staff(uow)
    now = utcnow()

    def run() -> None:
        inc = _load_incident(uow, incident_id, for_update=True)
        if inc.status != "open":
            raise Conflict(f"Incident {inc.id} is {inc.status}", type_slug="incident-closed")
        ln = uow.session.get(SellerOrderLine, inc.line_id)
        so = uow.session.get(SellerOrder, inc.seller_order_id)
        inc.status, inc.resolved_at = "refunded", now
        ln.refund_status = "pending"
        _ledger(uow, so, ln, "refund", -ln.total_minor, f"{so.order_number} line {ln.line_no}: refund ({inc.kind})",
                now)
        uow.audit("refund", "incident", inc.id, after={"line_id": ln.id, "amount": ln.total_minor})
        uow.commit()

    uow.run_in_transaction(run)
    inc = _load_incident(uow, incident_id)
    refund_pending_lines(uow, inc.seller_order_id)
    return incident_out(_load_incident(uow, incident_id))


# -- the customer order was cancelled ---------------------------------------------------------

def cancel_for_order(uow: UnitOfWork, order_id: int, reason: str) -> int:
    """In the caller's transaction (the durable subscriber's): open and accepted lines of the
    order's sub-orders are cancelled, the offers get their units back and accepted lines'
    sale and commission are reversed. The customer's money goes back with the order's own
    cancellation (orders.cancel). Returns how many lines were cancelled."""
    now = utcnow()
    done = 0
    for so in uow.session.scalars(sa.select(SellerOrder).where(SellerOrder.order_id == order_id,
                                                               SellerOrder.seller_id.is_not(None))
                                  .with_for_update()).all():
        lines = _lines(uow, so.id)
        hit = [ln for ln in lines if ln.status in (OPEN_LINE, "accepted")]
        if not hit:
            continue
        booked = _booked(uow, so, [ln.id for ln in hit])  # only lines accepted before the shipment rule
        for ln in hit:
            if ln.id in booked:
                _ledger(uow, so, ln, "refund", -ln.total_minor, f"{so.order_number} line {ln.line_no}: order cancelled",
                        now)
                _ledger(uow, so, ln, "commission_refund", ln.commission_minor,
                        f"{so.order_number} line {ln.line_no}: commission returned (order cancelled)", now)
            ln.status, ln.reason = "cancelled", reason
            offers.give_back_stock(uow, ln.offer_id, ln.quantity)
        _touch(uow, so, now, lines)
        uow.emit(ev.SellerOrderCancelled(seller_order_id=so.id, order_id=so.order_id, seller_id=so.seller_id,
                                         status=so.status, reason=reason), version=so.version)
        done += len(hit)
    return done
