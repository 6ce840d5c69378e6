"""What other contexts, the application-level imports and the web console may call in
analytics: the reports behind the console pages, customer purchase summaries (CRM's RFM and
Pareto), and loading a sales history."""

from merx.analytics.cohorts import cohort_table_rows
from merx.analytics.connector_lines import FIELDS_OPTIONAL as CONNECTOR_LINE_OPTIONAL
from merx.analytics.connector_lines import FIELDS_REQUIRED as CONNECTOR_LINE_REQUIRED
from merx.analytics.connector_lines import record_connector_line
from merx.analytics.line_classes import CONNECTOR_CLASSES, check_connector_mapping as check_line_class_mapping
from merx.analytics.cost_gaps import summary as cost_gap_summary
from merx.analytics.scope import SalesScope
from merx.analytics.service import (CustomerPurchaseSummary, abandonment_report, data_range, cohort_report, customer_purchase_summary,
                                    forecast_report, funnel_report, import_online_retail_lines, inventory_report,
                                    pareto_report, portfolio_report, sales_analysis)

__all__ = [
    "CustomerPurchaseSummary", "SalesScope", "abandonment_report", "data_range", "cohort_report", "cohort_table_rows", "customer_purchase_summary",
    "forecast_report", "funnel_report", "import_online_retail_lines", "inventory_report", "pareto_report",
    "portfolio_report", "sales_analysis",
    "cost_gap_summary",
    # connector order rows (integration's `sales_lines` target) and their line-class mapping
    "CONNECTOR_CLASSES", "CONNECTOR_LINE_OPTIONAL", "CONNECTOR_LINE_REQUIRED", "check_line_class_mapping",
    "record_connector_line",  # one sentence: which lines lack a cost and the revenue affected
]
