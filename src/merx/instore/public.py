"""What the web pages (associate app, kiosk, console) and the demo may call in instore."""

from merx.instore.access import (IN_STORE_ROLES, Store, acting_for_store, bind_associate, my_stores, require_store,
                                 store_for_kiosk, stores_of)
from merx.instore.assisted import (PAYMENT_MODES, AssistedOrderIn, PaymentLinkExpired, order_for_receipt,
                                   order_of_payment_link, paid_at_counter, pay_by_link, payment_link_expires_at,
                                   payment_link_providers, payment_link_token, place_assisted_order)
from merx.instore.counter import CustomerMatch, create_customer_at_counter, customer_essentials, find_customers
from merx.instore.counter_returns import ReturnLineIn, find_order, take_return
from merx.instore.finding import CodeMatch, ProductCard, card_dict, find_by_code, product_card
from merx.instore.held_carts import (held_cart_of_link, hold_and_send, list_held_carts, order_held_cart,
                                     send_payment_link)
from merx.instore.kiosk import end_session, kiosk_order, live_session, start_session
from merx.instore.pickups import VerificationFailed, hand_over, mark_ready, pickup_code_of, pickup_queue
from merx.instore.reports import StoreReport, report_dict, store_report
from merx.instore.rules import CONDITIONS, REFUND_METHODS
from merx.instore.settings import get_instore_settings
from merx.instore.stock import count_shelf, store_stock

__all__ = [
    "CONDITIONS", "CodeMatch", "CustomerMatch", "IN_STORE_ROLES", "PAYMENT_MODES", "AssistedOrderIn",
    "PaymentLinkExpired", "ProductCard",
    "REFUND_METHODS", "ReturnLineIn", "Store", "StoreReport", "VerificationFailed", "acting_for_store",
    "bind_associate", "card_dict", "count_shelf", "create_customer_at_counter", "customer_essentials", "end_session",
    "find_by_code", "held_cart_of_link", "hold_and_send", "list_held_carts", "order_held_cart", "send_payment_link",
    "find_customers", "find_order", "get_instore_settings", "hand_over", "kiosk_order",
    "live_session", "mark_ready", "my_stores", "order_for_receipt", "order_of_payment_link", "paid_at_counter", "pay_by_link",
    "payment_link_expires_at", "payment_link_providers", "payment_link_token", "pickup_code_of", "pickup_queue", "place_assisted_order", "product_card", "report_dict",
    "require_store", "start_session", "store_for_kiosk", "store_report", "store_stock", "stores_of", "take_return",
]
