"""Answers for a create retried with the same Idempotency-Key after its answer was lost
(core/idempotency.py): the record the first attempt created, as it is now."""

from __future__ import annotations

from merx.core.idempotency import register_replay
from merx.sales import accounts, activities, contracts, deals, quotes
from merx.sales.models import Account, Activity, Contract, Deal, Quote


def register() -> None:
    register_replay("sales_account", lambda uow, i: accounts.account_out(uow, uow.session.get(Account, int(i))))
    register_replay("sales_deal", lambda uow, i: deals.deal_out(uow, uow.session.get(Deal, int(i))))
    register_replay("sales_quote", lambda uow, i: quotes.quote_out(uow, uow.session.get(Quote, int(i))))
    register_replay("sales_contract", lambda uow, i: contracts.contract_out(uow, uow.session.get(Contract, int(i))))
    register_replay("sales_activity", lambda uow, i: activities.activity_out(uow.session.get(Activity, int(i))))
