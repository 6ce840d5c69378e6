"""Sales figures CRM uses but does not own: every customer's purchase summary over all sales
(imports included, not only live orders) and the customers' profit Pareto (which needs costs).

The analytics context computes them, and it sits above CRM in the declared layer order
(`.importlinter`: analytics reads CRM's events for its funnels). So CRM declares this hook and
analytics contributes to it at start-up (`merx.analytics.hooks`). Without a contribution CRM
falls back to its own order facts and reports no profit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Sequence

from merx.core.uow import UnitOfWork


@dataclass(frozen=True)
class PurchaseSummary:
    """One customer's purchases in one currency: what RFM, tiers and clusters score."""

    customer_id: int
    orders_count: int
    first_order_at: dt.datetime
    last_order_at: dt.datetime
    revenue: Decimal
    currency: str


@dataclass(frozen=True)
class CustomerProfitPareto:
    customers: int | None  # customers with sales in the currency
    top_customers: int | None  # how many make up the top share
    share: float | None  # their share of the profit
    cost_basis: str | None  # where the costs came from


@dataclass(frozen=True)
class SalesFigures:
    source: str  # reported as the `source` of RFM runs, tiers, clusters and Pareto reports
    # (uow, until inclusive) -> per customer and currency
    purchase_summaries: Callable[[UnitOfWork, dt.datetime | None], Sequence[PurchaseSummary]]
    # (uow, currency, until, top_share) -> the customers' profit Pareto
    customer_profit_pareto: Callable[[UnitOfWork, str, dt.datetime | None, float], CustomerProfitPareto]


_contributed: SalesFigures | None = None


def contribute_sales_figures(figures: SalesFigures) -> None:
    """Called from the providing context's `hooks.register()`; a second call replaces the first."""
    global _contributed
    _contributed = figures


def sales_figures() -> SalesFigures | None:
    return _contributed
