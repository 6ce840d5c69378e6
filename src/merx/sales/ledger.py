"""The sales ledger: every line of an account's order, credited to the rep who owned the account
when it was placed, kept from the orders context's typed events (a durable subscriber, so a
restart never loses or doubles a line). Targets, commissions, KPIs and rebates all read it, so
they agree with each other and trace back to order numbers and line numbers.

- `order.placed`: one row per line (revenue = the line total after discounts; the landed unit
  cost when the event carries one, else None = "cost unknown");
- `order.paid`: the order's lines get `paid_at` (the first payment counts);
- `order.returned`: the returned units of each line, valued at the line's unit revenue;
- `order.cancelled`: the lines stop counting (`cancelled`)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import sqlalchemy as sa

from merx.core.events import DomainEvent
from merx.core.money import Money
from merx.core.uow import UnitOfWork
from merx.orders.events import OrderCancelled, OrderPaid, OrderPlaced, OrderReturned
from merx.sales.models import Account, Contact, LedgerLine, LedgerReturn

LEDGER_EVENTS = (OrderPlaced, OrderPaid, OrderReturned, OrderCancelled)


def _minor(amount: Decimal, currency: str) -> int:
    return Money.of(amount, currency, allow_negative=True).minor


def _unit_cost_minor(line: Any, currency: str) -> int | None:
    cost = getattr(line, "unit_cost", None)  # landed by the orders context when the product has a cost
    if cost is None:
        return None
    amount = getattr(cost, "amount", cost)
    return _minor(Decimal(str(amount)), currency)


def record(events: list[DomainEvent], uow: UnitOfWork) -> None:
    """Apply a batch of order events to the ledger (idempotent: replays change nothing)."""
    s = uow.session
    placed = [e.data for e in events if isinstance(e.data, OrderPlaced) and e.data.customer_id is not None]
    owners: dict[int, Any] = {}
    if placed:
        rows = s.execute(sa.select(Contact.customer_id, Account.id, Account.owner_user_id)
                         .join(Account, Account.id == Contact.account_id)
                         .where(Contact.customer_id.in_({p.customer_id for p in placed}))).all()
        owners = {r.customer_id: r for r in rows}
    for e in events:
        data = e.data
        if isinstance(data, OrderPlaced):
            acc = owners.get(data.customer_id)
            if acc is None or s.scalar(sa.select(LedgerLine.id).where(LedgerLine.order_id == data.order_id).limit(1)):
                continue
            for line_no, ln in enumerate(data.lines, start=1):  # the event lists lines in line order
                s.add(LedgerLine(order_id=data.order_id, order_number=data.number, line_no=line_no,
                                 account_id=acc.id, customer_id=data.customer_id, rep_user_id=acc.owner_user_id,
                                 placed_at=data.placed_at, sku=ln.sku, category=ln.category, quantity=ln.quantity,
                                 currency=data.currency, revenue_minor=_minor(ln.line_total, data.currency),
                                 unit_cost_minor=_unit_cost_minor(ln, data.currency), cancelled=False))
            s.flush()
        elif isinstance(data, OrderPaid):
            s.execute(sa.update(LedgerLine).where(LedgerLine.order_id == data.order_id, LedgerLine.paid_at.is_(None))
                      .values(paid_at=e.occurred_at))
        elif isinstance(data, OrderCancelled):
            s.execute(sa.update(LedgerLine).where(LedgerLine.order_id == data.order_id).values(cancelled=True))
        elif isinstance(data, OrderReturned):
            lines = {ln.line_no: ln for ln in s.scalars(sa.select(LedgerLine).where(LedgerLine.order_id == data.order_id))}
            for r in data.lines:
                ln = lines.get(r.line)
                if ln is None or s.scalar(sa.select(LedgerReturn.id).where(LedgerReturn.return_id == data.return_id,
                                                                           LedgerReturn.line_no == r.line)):
                    continue
                value = (Decimal(ln.revenue_minor) * r.quantity / ln.quantity).quantize(Decimal(1), ROUND_HALF_EVEN)
                s.add(LedgerReturn(order_id=data.order_id, line_no=r.line, return_id=data.return_id,
                                   quantity=r.quantity, value_minor=int(value), returned_at=e.occurred_at))
            s.flush()
