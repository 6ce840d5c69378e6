"""What analytics contributes to hooks declared by contexts below it (wired by `merx.contexts.wire_hooks`).

The adapters import analytics' service when called: wiring runs in every process at start-up
(migrations and CLI commands included), and the service pulls in DuckDB and Arrow."""

from __future__ import annotations

import datetime as dt
from typing import Sequence

from merx.core.uow import UnitOfWork
from merx.crm.sources import CustomerProfitPareto, PurchaseSummary, SalesFigures, contribute_sales_figures


def purchase_summaries(uow: UnitOfWork, until: dt.datetime | None) -> Sequence[PurchaseSummary]:
    from merx.analytics import service

    return service.customer_purchase_summary(uow, until=until)


def customer_profit_pareto(uow: UnitOfWork, currency: str, until: dt.datetime | None,
                           top_share: float) -> CustomerProfitPareto:
    from merx.analytics import service
    from merx.analytics.scope import SalesScope

    report = service.pareto_report(uow, SalesScope(currency=currency, date_to=until), of="customers",
                                   measure="profit", top_share=top_share, limit=1)
    return CustomerProfitPareto(customers=report.get("items"), top_customers=report.get("top_items"),
                                share=report.get("top_share_of_measure"), cost_basis=report.get("cost_basis"))


def register() -> None:
    contribute_sales_figures(SalesFigures(source="analytics", purchase_summaries=purchase_summaries,
                                          customer_profit_pareto=customer_profit_pareto))
