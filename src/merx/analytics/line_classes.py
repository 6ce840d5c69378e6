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
Connectors (docs/connectors.md, `sales_lines` target): the connector's mapping may carry
`line_classes` - exact stock codes, then glob patterns in their listed order - to one of
`CONNECTOR_CLASSES`; a code neither names is a product, or a write-off by the zero-price rule
above (`connector_classifier`)."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any, Callable, Mapping, Sequence

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


# What a connector's mapping may send a code to; `writeoff` is not one: the zero-price rule
# decides it from the line itself.
CONNECTOR_CLASSES = ("product", "discount", "shipping", "fee", "adjustment")


def classify(code: str | None, price: float, quantity: int, has_customer: bool, *,
             mapping: Mapping[str, str] = ONLINE_RETAIL_CODES, patterns: Sequence[tuple[str, str]] = ()) -> str:
    if code is not None and code in mapping:
        return mapping[code]
    if code is not None:
        for glob, klass in patterns:  # first match wins, in the order given
            if fnmatchcase(code, glob):
                return klass
    if price == 0 and (quantity < 0 or not has_customer):
        return "writeoff"
    return "product"


def check_connector_mapping(value: Any, where: str = "mapping.line_classes") -> list[tuple[str, str]]:
    """(field path, message) for each problem with a connector's `line_classes`:
    {"codes": {"MKTFEE": "fee"}, "patterns": [{"match": "SHIP-*", "class": "shipping"}]}."""
    if not isinstance(value, dict):
        return [(where, "must be an object with 'codes' and/or 'patterns'")]
    errors: list[tuple[str, str]] = []
    allowed = ", ".join(CONNECTOR_CLASSES)
    for key in value:
        if key not in ("codes", "patterns"):
            errors.append((f"{where}.{key}", "unknown option; use 'codes' and 'patterns'"))
    codes = value.get("codes", {})
    if not isinstance(codes, dict):
        errors.append((f"{where}.codes", "must map stock codes to line classes"))
    else:
        for code, klass in codes.items():
            if klass not in CONNECTOR_CLASSES:
                errors.append((f"{where}.codes.{code}", f"unknown line class {klass!r}; one of {allowed}"))
    patterns = value.get("patterns", [])
    if not isinstance(patterns, list):  # a list: JSONB would not keep an object's key order
        errors.append((f"{where}.patterns", "must be a list of {\"match\": glob, \"class\": line class}"))
    else:
        for i, item in enumerate(patterns):
            at = f"{where}.patterns[{i}]"
            if not isinstance(item, dict) or not isinstance(item.get("match"), str) or not item["match"]:
                errors.append((f"{at}.match", "must be a glob such as 'FEE-*'"))
            elif item.get("class") not in CONNECTOR_CLASSES:
                errors.append((f"{at}.class", f"unknown line class {item.get('class')!r}; one of {allowed}"))
    return errors


def connector_classifier(value: Mapping[str, Any] | None) -> Callable[[str | None, float, int, bool], str]:
    """classify() bound to a (checked) connector `line_classes` mapping; none: products and write-offs."""
    codes = dict((value or {}).get("codes") or {})
    patterns = [(p["match"], p["class"]) for p in (value or {}).get("patterns") or []]

    def run(code: str | None, price: float, quantity: int, has_customer: bool) -> str:
        return classify(code, price, quantity, has_customer, mapping=codes, patterns=patterns)
    return run
