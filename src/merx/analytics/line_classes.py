"""What a sales line is, decided when it is recorded (column `line_class`).

| class        | meaning                                                        | in product figures | in net sales |
|--------------|----------------------------------------------------------------|--------------------|--------------|
| `product`    | goods sold (kind `sale`) or given back (kind `cancellation`/`return`) | yes          | yes          |
| `discount`   | a price reduction on an order (coupon, promotion, "D" Discount) | no                | yes          |
| `shipping`   | postage and carriage charged to the buyer                      | no                 | no (own column) |
| `fee`        | marketplace and bank fees, charity commissions                 | no                 | no (own column) |
| `adjustment` | manual corrections, bad debt, samples, test lines              | no                 | no (own column) |
| `writeoff`   | zero-price stock movements (damaged, thrown away, found stock) | no                 | no (amount 0) |

Online Retail (UCI, both layouts): the StockCode decides, per `ONLINE_RETAIL_CODES` below
(compared as written, so "m" is the lower-case twin of "M"); any other code is a product,
except a zero-price line that is not a free item on a customer's invoice (price 0 and a
negative quantity, or price 0 without a customer), which is a write-off. Live Merx orders:
order lines are products, the difference between an order line's list total and its charged
total is a `discount` line, and the order's shipping is a `shipping` line.
Connectors map their own codes with `classify(code, ..., mapping=)`."""

from __future__ import annotations

from typing import Mapping

LINE_CLASSES = ("product", "discount", "shipping", "fee", "adjustment", "writeoff")

# StockCode -> class, for the Online Retail data sets (documented in the table above).
ONLINE_RETAIL_CODES: dict[str, str] = {
    "POST": "shipping",        # POSTAGE
    "DOT": "shipping",         # DOTCOM POSTAGE
    "C2": "shipping",          # CARRIAGE
    "C3": "shipping",          # carriage (no description in the file)
    "AMAZONFEE": "fee",        # AMAZON FEE
    "BANK CHARGES": "fee",     # Bank Charges
    "CRUK": "fee",             # CRUK Commission (Online Retail I)
    "D": "discount",           # Discount
    "M": "adjustment",         # Manual
    "m": "adjustment",         # Manual
    "ADJUST": "adjustment",    # Adjustment by <clerk> on <date>
    "ADJUST2": "adjustment",   # Adjustment by <clerk> on <date>
    "B": "adjustment",         # Adjust bad debt ("A" invoices)
    "S": "adjustment",         # SAMPLES (credited)
    "PADS": "adjustment",      # PADS TO MATCH ALL CUSHIONS, priced 0.001 to balance invoices
    "TEST001": "adjustment",   # This is a test product.
    "TEST002": "adjustment",   # This is a test product.
}

# Classes whose amounts make net sales (product + discount); the rest are shown apart.
NET_SALES_CLASSES = ("product", "discount")


def classify(code: str | None, price: float, quantity: int, has_customer: bool, *,
             mapping: Mapping[str, str] = ONLINE_RETAIL_CODES) -> str:
    if code is not None and code in mapping:
        return mapping[code]
    if price == 0 and (quantity < 0 or not has_customer):
        return "writeoff"
    return "product"
