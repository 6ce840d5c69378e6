"""What other contexts, connectors and the web console may call in orders: placing and
reading orders, the state transitions a back office or a connector drives, returns, and the
customer's orders (for the CRM 360)."""

from merx.orders.domain import RETURNABLE, STATUSES, TRANSITIONS
from merx.orders.schemas import OrderCreate, ReturnCreate
from merx.orders.checkout import place_order
from merx.orders.fiscal_step import preview as preview_order
from merx.orders.reading import get_order, list_orders, orders_for_customer
from merx.orders.returns import create_return, receive_return, returns_of
from merx.orders.transitions import (cancel, capture_payment, fulfil, picked_up, ready_for_pickup,
                                     simple_transition)

__all__ = [
    "OrderCreate", "RETURNABLE", "ReturnCreate", "STATUSES", "TRANSITIONS", "cancel",
    "capture_payment", "create_return", "fulfil", "get_order", "list_orders", "orders_for_customer", "picked_up",
    "place_order", "preview_order", "ready_for_pickup", "receive_return", "returns_of", "simple_transition",
]
