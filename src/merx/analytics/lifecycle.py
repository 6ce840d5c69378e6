"""Analytics' part in the customer lifecycle (see merx.core.lifecycle). Sales lines and
abandoned carts carry the customer id: a merge moves them to the survivor (so RFM, value tiers
and cohorts count one person once) and un-merge moves exactly those back. Erasure unlinks
abandoned carts from the anonymous id; sales lines keep their amounts and hold no contact
details. The export lists the customer's sales lines."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from merx.analytics.facts import mark_changed
from merx.analytics.models import AbandonedCart, SalesLine
from merx.core.lifecycle import MovedRefs
from merx.core.uow import UnitOfWork

BATCH = 500


def _ids(uow: UnitOfWork, model: Any, customer_id: int) -> list[int]:
    return list(uow.session.scalars(sa.select(model.id).where(model.customer_id == customer_id).order_by(model.id)))


def _move(uow: UnitOfWork, model: Any, ids: list[int], from_id: int, to_id: int) -> None:
    for i in range(0, len(ids), BATCH):
        uow.session.execute(sa.update(model).where(model.id.in_(ids[i:i + BATCH]), model.customer_id == from_id)
                            .values(customer_id=to_id).execution_options(synchronize_session=False))


class AnalyticsParticipant:
    name = "analytics"

    def on_merge(self, uow: UnitOfWork, from_id: int, into_id: int) -> MovedRefs:
        moved = {"sales_lines": _ids(uow, SalesLine, from_id), "abandoned_carts": _ids(uow, AbandonedCart, from_id)}
        _move(uow, SalesLine, moved["sales_lines"], from_id, into_id)
        _move(uow, AbandonedCart, moved["abandoned_carts"], from_id, into_id)
        if moved["sales_lines"]:
            mark_changed(uow, rewritten=True)  # rows changed in place: snapshot caches reload
        return moved

    def on_unmerge(self, uow: UnitOfWork, moved: MovedRefs, restored_id: int, survivor_id: int) -> None:
        lines = list(moved.get("sales_lines") or [])
        _move(uow, SalesLine, lines, survivor_id, restored_id)
        _move(uow, AbandonedCart, list(moved.get("abandoned_carts") or []), survivor_id, restored_id)
        if lines:
            mark_changed(uow, rewritten=True)

    def on_erase(self, uow: UnitOfWork, customer_id: int) -> dict[str, int]:
        carts = uow.session.execute(sa.update(AbandonedCart).where(AbandonedCart.customer_id == customer_id)
                                    .values(anonymous_id=None)).rowcount or 0
        return {"abandoned_carts": carts}

    def on_export(self, uow: UnitOfWork, customer_id: int) -> dict[str, Any]:
        lines = uow.session.scalars(sa.select(SalesLine).where(SalesLine.customer_id == customer_id)
                                    .order_by(SalesLine.occurred_at, SalesLine.id))
        from merx.analytics.scope import amount_str

        return {"sales_lines": [{"source": s.source, "order_ref": s.order_ref, "kind": s.kind,
                                 "line_class": s.line_class, "sku": s.sku, "quantity": s.quantity,
                                 "unit_price": str(s.unit_price), "line_total": amount_str(s.line_total_minor, s.currency),
                                 "currency": s.currency, "occurred_at": s.occurred_at, "channel": s.channel}
                                for s in lines]}


PARTICIPANT = AnalyticsParticipant()
