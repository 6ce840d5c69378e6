"""What other contexts, connectors and the web console may call in orders: placing and
reading orders, the state transitions a back office or a connector drives, returns, and the
customer's orders (for the CRM 360), orders at agreed prices and payment facts (for sales)."""

from merx.orders.domain import RETURNABLE, STATUSES, TRANSITIONS
from merx.orders.schemas import OrderCreate, ReturnCreate
from merx.orders.checkout import place_order
from merx.orders.collectable import released_lines
from merx.orders.fiscal_step import preview as preview_order
from merx.orders.history import add_note, notes_of, timeline
from merx.orders.pay_later import card_providers, pay_by_card_later
from merx.orders.pickups import order_by_number, pickup_queue
from merx.orders.quoted import PaymentFact, PricedLine, payment_facts, place_order_at_prices, revenue_by_customer
from merx.orders.reading import get_order, list_orders, orders_for_customer
from merx.orders.returns import create_return, receive_return, returns_of
from merx.orders.transitions import (cancel, capture_payment, fulfil, picked_up, ready_for_pickup,
                                     simple_transition)

__all__ = [
    "OrderCreate", "PaymentFact", "PricedLine", "RETURNABLE", "ReturnCreate", "STATUSES", "TRANSITIONS", "add_note",
    "cancel", "card_providers", "capture_payment", "create_return", "fulfil", "get_order", "list_orders", "notes_of", "order_by_number",
    "orders_for_customer", "pay_by_card_later", "payment_facts", "picked_up", "pickup_queue", "place_order", "place_order_at_prices",
    "preview_order", "ready_for_pickup", "receive_return", "released_lines", "returns_of", "revenue_by_customer",
    "simple_transition", "timeline",
]
