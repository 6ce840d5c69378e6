"""Events the orders context publishes (payload descriptions for the event catalog)."""

from merx.core.events import describe_event

_COMMON = {"order_id": "int", "number": "str", "customer_id": "int|null", "status": "str", "total": "decimal string",
           "currency": "ISO 4217"}

ORDER_PLACED = describe_event(
    "order.placed", aggregate="order",
    payload={**_COMMON, "channel": "web|store|marketplace|b2b", "email": "str|null",
             "lines": "[{sku, product_id, quantity, unit_price, line_total, category, location}]",
             "totals": "{subtotal, discount, shipping, total}", "placed_at": "ISO datetime",
             "fulfilment": "{type, location}", "promotions": "[{promotion_id, name, amount}]"},
    description="An order was created with its stock reserved (status pending or confirmed).")
for _type, _what in [("order.confirmed", "payment authorised or arranged"), ("order.paid", "payment captured"),
                     ("order.fulfilled", "shipped; payload has tracking"),
                     ("order.delivered", "delivered to the customer"),
                     ("order.ready_for_pickup", "waiting in the store; payload has location"),
                     ("order.picked_up", "collected at the store"), ("order.completed", "closed"),
                     ("order.cancelled", "cancelled; stock released; payload has reason"),
                     ("order.returned", "goods came back; payload has return_id, lines, location"),
                     ("order.refunded", "money paid back; payload has amount")]:
    describe_event(_type, aggregate="order", payload={**_COMMON, "changed": "what changed"}, description=_what)
describe_event("cart.checkout_started", aggregate="cart",
               payload={"cart_id": "int", "customer_id": "int|null", "email": "str|null", "expires_at": "ISO datetime"},
               description="A cart holds its stock for the checkout time to live.")
describe_event("cart.abandoned", aggregate="cart",
               payload={"cart_id": "int", "customer_id": "int|null", "email": "str|null", "total": "decimal string",
                        "currency": "ISO 4217"},
               description="A checkout hold lapsed without an order.")
