"""Sales' part in the customer lifecycle (merx.core.lifecycle): a contact is a customer record.
A merge moves the duplicate's contact links (and the accounts it buys for) to the survivor and
un-merge moves exactly those back; erasure removes the person's name from the contact links
(the customer record itself is erased by customers); the export lists the accounts the person
is a contact of."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from merx.core.lifecycle import MovedRefs
from merx.core.uow import UnitOfWork
from merx.sales.models import Account, Contact


def _move(uow: UnitOfWork, contact_ids: list[int], account_ids: list[int], from_id: int, to_id: int) -> None:
    for cid in contact_ids:
        # the survivor may already be a contact of the same account: then the duplicate link goes
        c = uow.session.get(Contact, cid)
        if c is None or c.customer_id != from_id:
            continue
        clash = uow.session.scalar(sa.select(Contact.id).where(Contact.account_id == c.account_id,
                                                               Contact.customer_id == to_id))
        if clash is None:
            c.customer_id = to_id
    if account_ids:
        uow.session.execute(sa.update(Account).where(Account.id.in_(account_ids), Account.customer_id == from_id)
                            .values(customer_id=to_id).execution_options(synchronize_session=False))
    uow.session.flush()


class SalesParticipant:
    name = "sales"

    def on_merge(self, uow: UnitOfWork, from_id: int, into_id: int) -> MovedRefs:
        contacts = list(uow.session.scalars(sa.select(Contact.id).where(Contact.customer_id == from_id)))
        accounts = list(uow.session.scalars(sa.select(Account.id).where(Account.customer_id == from_id)))
        _move(uow, contacts, accounts, from_id, into_id)
        return {"contacts": contacts, "accounts": accounts}

    def on_unmerge(self, uow: UnitOfWork, moved: MovedRefs, restored_id: int, survivor_id: int) -> None:
        _move(uow, list(moved.get("contacts") or []), list(moved.get("accounts") or []), survivor_id, restored_id)

    def on_erase(self, uow: UnitOfWork, customer_id: int) -> dict[str, int]:
        n = uow.session.execute(sa.update(Contact).where(Contact.customer_id == customer_id)
                                .values(name="(erased)", position=None)
                                .execution_options(synchronize_session=False)).rowcount or 0
        return {"contacts": n}

    def on_export(self, uow: UnitOfWork, customer_id: int) -> dict[str, Any]:
        rows = uow.session.execute(sa.select(Contact.name, Contact.position, Account.name.label("account"))
                                   .join(Account, Account.id == Contact.account_id)
                                   .where(Contact.customer_id == customer_id)).all()
        return {"sales_contacts": [{"name": r.name, "position": r.position, "account": r.account} for r in rows]}


PARTICIPANT = SalesParticipant()
