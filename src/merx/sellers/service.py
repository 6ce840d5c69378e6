"""The sellers context's use cases, one module per seam: offers (and the buy box),
seller_orders (split, accept/refuse, ship, incidents), payouts (ledger, commissions, cycles),
rating (computed rating, violations), proposals (moderated new catalog products)."""

from merx.sellers.offers import buy_box, create_offer, get_offer, import_offers, list_offers, update_offer
from merx.sellers.payouts import (add_adjustment, balances, commission_page, cycle_page, get_payout,
                                  list_commission_rules, list_cycles,
                                  list_ledger, list_payouts, run_payout_cycle, set_commission_rule, statement_csv,
                                  statement_pdf)
from merx.sellers.proposals import approve as approve_proposal
from merx.sellers.proposals import get_proposal, list_proposals, propose
from merx.sellers.proposals import reject as reject_proposal
from merx.sellers.rating import get_rating, list_violations, recompute_now, record_violation, violation_page
from merx.sellers.seller_orders import (accept, get_seller_order, incident_page, list_incidents, list_seller_orders, open_incident,
                                        refund_incident, reply_incident, ship)

__all__ = [
    "accept", "add_adjustment", "balances", "buy_box", "create_offer", "get_offer", "get_payout", "get_rating",
    "get_seller_order", "import_offers", "list_commission_rules", "list_cycles", "list_incidents", "list_ledger", "list_offers",
    "list_payouts", "list_seller_orders", "list_violations", "open_incident", "recompute_now", "record_violation",
    "refund_incident", "reply_incident", "run_payout_cycle", "set_commission_rule", "ship", "statement_csv",
    "statement_pdf", "commission_page", "cycle_page", "incident_page", "violation_page",
    "update_offer", "approve_proposal", "get_proposal", "list_proposals", "propose", "reject_proposal",
]
