"""Customers' part in the customer lifecycle (see merx.core.lifecycle), for what a shopper
keeps on the record: the storefront account, the address book and saved carts. A merge
moves the duplicate's addresses and carts to the survivor (and its account, when the
survivor has none); un-merge moves exactly those back. Erasure deletes the account (its
sessions and links with it: every sign-in ends), the addresses and the carts. The export
lists them (never the password hash)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from merx.core.lifecycle import MovedRefs
from merx.core.uow import UnitOfWork
from merx.customers import addresses
from merx.customers.models import CustomerAccount, CustomerAddress, CustomerSavedCart


def _move(uow: UnitOfWork, refs: MovedRefs, from_id: int, to_id: int) -> None:
    for model, key in ((CustomerAddress, "addresses"), (CustomerSavedCart, "saved_carts")):
        ids = list(refs.get(key) or [])
        if ids:
            uow.session.execute(sa.update(model).where(model.id.in_(ids), model.customer_id == from_id)
                                .values(customer_id=to_id).execution_options(synchronize_session=False))
    if refs.get("account"):
        uow.session.execute(sa.update(CustomerAccount).where(CustomerAccount.id == refs["account"],
                                                             CustomerAccount.customer_id == from_id)
                            .values(customer_id=to_id).execution_options(synchronize_session=False))


class CustomersParticipant:
    name = "customers"

    def on_merge(self, uow: UnitOfWork, from_id: int, into_id: int) -> MovedRefs:
        refs: MovedRefs = {
            "addresses": list(uow.session.scalars(sa.select(CustomerAddress.id)
                                                  .where(CustomerAddress.customer_id == from_id))),
            "saved_carts": list(uow.session.scalars(sa.select(CustomerSavedCart.id)
                                                    .where(CustomerSavedCart.customer_id == from_id))),
        }
        survivor_has = uow.session.scalar(sa.select(CustomerAccount.id).where(CustomerAccount.customer_id == into_id))
        if survivor_has is None:  # otherwise the duplicate's account signs in as the survivor (accounts.shopper_of)
            refs["account"] = uow.session.scalar(sa.select(CustomerAccount.id)
                                                 .where(CustomerAccount.customer_id == from_id))
        _move(uow, refs, from_id, into_id)
        return refs

    def on_unmerge(self, uow: UnitOfWork, moved: MovedRefs, restored_id: int, survivor_id: int) -> None:
        _move(uow, moved, survivor_id, restored_id)

    def on_erase(self, uow: UnitOfWork, customer_id: int) -> dict[str, int]:
        counts = {}
        for model, key in ((CustomerAddress, "addresses"), (CustomerSavedCart, "saved_carts"),
                           (CustomerAccount, "storefront_accounts")):
            # sessions and links go with the account (ON DELETE CASCADE)
            counts[key] = uow.session.execute(sa.delete(model).where(model.customer_id == customer_id)
                                              .execution_options(synchronize_session=False)).rowcount or 0
        return counts

    def on_export(self, uow: UnitOfWork, customer_id: int) -> dict[str, Any]:
        account = uow.session.scalar(sa.select(CustomerAccount).where(CustomerAccount.customer_id == customer_id))
        out: dict[str, Any] = {"storefront_account": None if account is None else {
            "email": account.email, "status": account.status, "created_at": account.created_at.isoformat(),
            "email_verified_at": account.email_verified_at.isoformat() if account.email_verified_at else None,
            "last_sign_in_at": account.last_sign_in_at.isoformat() if account.last_sign_in_at else None,
            "password_changed_at": account.password_changed_at.isoformat() if account.password_changed_at else None}}
        return out | addresses.export_of(uow, customer_id)


PARTICIPANT = CustomersParticipant()
