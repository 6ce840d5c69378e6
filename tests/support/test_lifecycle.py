"""Support in the customer lifecycle: a merge moves tickets and reviews to the survivor and
un-merge moves exactly those back; erasure blanks what the customer wrote."""

from __future__ import annotations

from merx.core import lifecycle
from merx.core.auth import SYSTEM
from merx.core.uow import UnitOfWork
from merx.support.schemas import TicketCreate
from merx.support.service import get_ticket, open_ticket, open_tickets_of


def _customer(db, email):  # type: ignore[no-untyped-def]
    from merx.customers.public import CustomerCreate, create_customer

    with UnitOfWork(db) as uow:
        return create_customer(uow, CustomerCreate(email=email)).id


def test_merge_unmerge_and_erase_cover_tickets(db) -> None:
    a, b = _customer(db, "a@example.pl"), _customer(db, "b@example.pl")
    with UnitOfWork(db, SYSTEM) as uow:
        t1, _ = open_ticket(uow, TicketCreate(kind="complaint", subject="Dup's ticket", body="My address is Lipowa 5",
                                              customer_id=b, requester_email="b@example.pl"))
    with UnitOfWork(db, SYSTEM) as uow:
        t0, _ = open_ticket(uow, TicketCreate(kind="question", subject="Own ticket", customer_id=a))
    with UnitOfWork(db, SYSTEM) as uow:
        moved = lifecycle.merge(uow, b, a)
        uow.commit()
    assert moved["support"]["tickets"] == [t1.id]
    with UnitOfWork(db, SYSTEM, readonly=True) as uow:
        assert sorted(t.id for t in open_tickets_of(uow, a)) == sorted([t0.id, t1.id])
    with UnitOfWork(db, SYSTEM) as uow:
        lifecycle.unmerge(uow, moved, b, a)
        uow.commit()
    with UnitOfWork(db, SYSTEM, readonly=True) as uow:
        assert [t.id for t in open_tickets_of(uow, b)] == [t1.id]
        exported = lifecycle.export(uow, b)
    assert exported["support_tickets"][0]["messages"][0]["text"] == "My address is Lipowa 5"
    with UnitOfWork(db, SYSTEM) as uow:
        counts = lifecycle.erase(uow, b)["support"]
        uow.commit()
    assert counts["tickets"] == 1
    with UnitOfWork(db, SYSTEM, readonly=True) as uow:
        detail = get_ticket(uow, t1.id)
    assert detail.customer_id is None and detail.requester_email is None
    assert detail.messages[0].body_text == "[erased]"
