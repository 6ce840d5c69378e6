"""What other contexts, the application-level imports and the web console may call in
analytics: the reports behind the console pages, customer purchase summaries (CRM's RFM and
Pareto), and loading a sales history."""

from merx.analytics.cohorts import cohort_table_rows
from merx.analytics.cost_gaps import summary as cost_gap_summary
from merx.analytics.scope import SalesScope
from merx.analytics.service import (CustomerPurchaseSummary, abandonment_report, data_range, cohort_report, customer_purchase_summary,
                                    forecast_report, funnel_report, import_online_retail_lines, inventory_report,
                                    pareto_report, portfolio_report, sales_analysis)

__all__ = [
    "CustomerPurchaseSummary", "SalesScope", "abandonment_report", "data_range", "cohort_report", "cohort_table_rows", "customer_purchase_summary",
    "forecast_report", "funnel_report", "import_online_retail_lines", "inventory_report", "pareto_report",
    "portfolio_report", "sales_analysis",
    "cost_gap_summary",  # one sentence: which lines lack a cost and the revenue affected
]
