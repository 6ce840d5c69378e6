"""What the web console (and contexts above sales) may call: the use cases of accounts, leads,
deals, activities, quotes and contracts, and the readers the console pages need."""

from merx.sales.accounts import (account_out, add_account_contact, create_account, customer_sales_summary, get_account,
                                 list_accounts, update_account)
from merx.sales.activities import (complete_task, list_activities, log_activity, next_follow_up,
                                   overdue_by_owner)
from merx.sales.contracts import change_status, create_contract, get_contract, list_contracts, set_clauses
from merx.sales.deals import create_deal, get_deal, list_deals, move_deal, pipeline_report, stages_out, update_deal
from merx.sales.leads import convert_lead, get_lead, import_leads, intake, list_leads
from merx.sales.quotes import (accept_quote, approve_quote, create_quote, get_quote, list_quotes, public_quote,
                               quote_pdf, reject_quote, revise_quote, send_quote)
from merx.sales.rules import CONTRACT_TRANSITIONS
from merx.sales.schemas import (AcceptIn, AccountCreate, ActivityIn, ContractStatusIn, ConvertLead, DealCreate,
                                DealMove, DealPatch, LeadIn, QuoteCreate, RejectIn)

__all__ = [
    "AcceptIn", "AccountCreate", "ActivityIn", "CONTRACT_TRANSITIONS", "ContractStatusIn", "ConvertLead", "DealCreate",
    "DealMove", "LeadIn", "QuoteCreate", "RejectIn", "accept_quote", "account_out", "add_account_contact",
    "approve_quote",
    "change_status", "complete_task", "convert_lead", "create_account", "create_contract", "create_deal",
    "create_quote", "customer_sales_summary", "get_account", "get_contract", "get_deal", "get_lead", "get_quote", "import_leads", "intake",
    "list_accounts", "list_activities", "list_contracts", "list_deals", "list_leads", "list_quotes", "log_activity",
    "move_deal", "next_follow_up", "overdue_by_owner", "pipeline_report", "public_quote", "quote_pdf",
    "reject_quote", "revise_quote", "send_quote", "set_clauses", "stages_out", "update_account",
    # the console's deal page
    "DealPatch", "update_deal",
]

# sales performance (issue 15): targets, commissions, KPIs, dealers and rebates, for the console
from merx.sales.commissions import approve as approve_statement  # noqa: E402
from merx.sales.commissions import compute_statements, get_statement, list_plans, list_statements  # noqa: E402
from merx.sales.dealers import accrual as rebate_accrual  # noqa: E402
from merx.sales.dealers import list_agreements as list_rebates  # noqa: E402
from merx.sales.dealers import list_dealers, overstocked, reserves, stock_health  # noqa: E402
from merx.sales.kpis import kpis, profit_contributors  # noqa: E402
from merx.sales.targets import list_targets, month_attainments  # noqa: E402

__all__ += [
    "approve_statement", "compute_statements", "get_statement", "kpis", "list_dealers", "list_plans", "list_rebates",
    "list_statements", "list_targets", "month_attainments", "overstocked", "profit_contributors", "rebate_accrual",
    "reserves", "stock_health",
]
from merx.sales.budgets import list_budgets  # noqa: E402
from merx.sales.budgets import variance as budget_variance  # noqa: E402

__all__ += ["budget_variance", "list_budgets"]
from merx.sales.dealers import scorecard as dealer_scorecard  # noqa: E402

__all__ += ["dealer_scorecard"]
from merx.sales.contests import create_contest, finalise as finalise_contest, get_contest, list_contests  # noqa: E402

__all__ += ["create_contest", "finalise_contest", "get_contest", "list_contests"]
from merx.sales.dealers import apply_report_row as apply_dealer_report_row  # noqa: E402

__all__ += ["apply_dealer_report_row"]
