"""Search's part in the customer lifecycle (see merx.core.lifecycle): the search log keeps who
searched (for the ranking model's training and the zero-result report). A merge moves those
entries to the survivor and un-merge moves exactly those back; erasure unlinks the customer
from their searches (the queries stay, anonymous); the export lists the customer's searches."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from merx.core.lifecycle import MovedRefs
from merx.core.uow import UnitOfWork
from merx.search.models import SearchLog

BATCH = 500


def _move(uow: UnitOfWork, ids: list[str], from_id: int, to_id: int) -> None:
    for i in range(0, len(ids), BATCH):
        uow.session.execute(sa.update(SearchLog).where(SearchLog.id.in_(ids[i:i + BATCH]),
                                                       SearchLog.customer_id == from_id)
                            .values(customer_id=to_id).execution_options(synchronize_session=False))


class SearchParticipant:
    name = "search"

    def on_merge(self, uow: UnitOfWork, from_id: int, into_id: int) -> MovedRefs:
        ids = list(uow.session.scalars(sa.select(SearchLog.id).where(SearchLog.customer_id == from_id)
                                       .order_by(SearchLog.id)))
        _move(uow, ids, from_id, into_id)
        return {"searches": ids}

    def on_unmerge(self, uow: UnitOfWork, moved: MovedRefs, restored_id: int, survivor_id: int) -> None:
        _move(uow, list(moved.get("searches") or []), survivor_id, restored_id)

    def on_erase(self, uow: UnitOfWork, customer_id: int) -> dict[str, int]:
        n = uow.session.execute(sa.update(SearchLog).where(SearchLog.customer_id == customer_id)
                                .values(customer_id=None, user_id=None)).rowcount or 0
        return {"searches": n}

    def on_export(self, uow: UnitOfWork, customer_id: int) -> dict[str, Any]:
        rows = uow.session.scalars(sa.select(SearchLog).where(SearchLog.customer_id == customer_id)
                                   .order_by(SearchLog.created_at))
        return {"searches": [{"query": s.query_text, "lang": s.lang, "results": s.total, "at": s.created_at}
                             for s in rows]}


PARTICIPANT = SearchParticipant()
