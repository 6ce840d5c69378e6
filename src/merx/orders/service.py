"""The order use cases, re-exported from their homes so existing imports keep working:

- orders/reading.py: the API shape of an order, one order, lists, a customer's orders;
- orders/checkout.py: placing an order (the checkout saga with the payment provider);
- orders/transitions.py: capture, fulfil, pickup in store, deliver/complete, cancel, refunds;
- orders/returns.py: return authorisations, receiving and refunding them;
- orders/carts.py: carts, their checkout hold, ordering a cart;
- orders/state.py: loading an order and moving its status, shared by the above.

New code imports from the module that owns the use case (or, from another context, orders/public.py)."""

from merx.orders.carts import (cart_out, create_cart, order_cart, set_cart_line, start_checkout,
                               update_cart)
from merx.orders.checkout import PaymentFailed, PaymentTimedOut, place_order
from merx.orders.reading import get_order, list_orders, order_for_replay, order_out, orders_for_customer
from merx.orders.returns import create_return, get_return, receive_return, refund_return, return_out, returns_of
from merx.orders.transitions import (cancel, capture_payment, fulfil, picked_up, ready_for_pickup,
                                     simple_transition)

__all__ = [
    "PaymentFailed", "PaymentTimedOut", "cancel", "capture_payment", "cart_out", "create_cart", "create_return",
    "fulfil", "get_order", "get_return", "list_orders", "order_cart", "order_for_replay", "order_out",
    "orders_for_customer", "picked_up", "place_order", "ready_for_pickup", "receive_return", "refund_return",
    "return_out", "returns_of", "set_cart_line", "simple_transition", "start_checkout", "update_cart",
]
