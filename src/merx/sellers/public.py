"""What the web console and the demo may call in sellers (no context sits above it but the
console and integration)."""

from merx.sellers.offers import FEED_FIELDS, IMPORT_COLUMNS, ShopOffer, apply_feed_row, buy_box, offer_out, offers_stmt, rows_from_file, shop_offers
from merx.sellers.proposals import proposal_out, proposals_stmt
from merx.sellers.payouts import balances, cycle_end_before, entry_out, ledger_stmt, statement_rows
from merx.sellers.schemas import AcceptIn, ProposalDecisionIn, ProposalIn, ShipIn
from merx.sellers.seller_orders import seller_order_out, seller_orders_stmt
from merx.sellers.service import *  # noqa: F401,F403
from merx.sellers.service import __all__ as _service_all

__all__ = [*_service_all, "AcceptIn", "IMPORT_COLUMNS", "ShipIn", "balances", "buy_box", "cycle_end_before", "entry_out", "ledger_stmt",
           "offer_out", "offers_stmt", "rows_from_file", "seller_order_out",
           "seller_orders_stmt", "statement_rows", "ShopOffer", "shop_offers", "proposal_out",
           "proposals_stmt", "ProposalIn", "ProposalDecisionIn",
           "FEED_FIELDS", "apply_feed_row"]
