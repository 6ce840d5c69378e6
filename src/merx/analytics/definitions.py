"""One definition per figure, as SQL over the snapshot views (store.connect) and as text for
`GET /api/v1/analytics/definitions`. Every report that counts orders or buyers, or sums net
sales, builds on these fragments, so two reports cannot answer the same question differently.

Views: `sales_all` (every line), `sales` (net-sales lines: product and discount classes,
never "A" accounting documents), `sales_costed` (`sales` with cost)."""

from __future__ import annotations

from typing import Any

from merx.analytics.line_classes import LINE_CLASSES, ONLINE_RETAIL_CODES

# Returned goods: product lines of a cancellation or return document.
RETURN_KINDS = "('cancellation', 'return')"


def counted_orders_sql(where: str, relation: str = "sales_all") -> str:
    """CTEs ending in `orders(source, order_ref, customer_id, currency, placed_at)`: the counted
    orders among the lines of `sales_all` matching `where` (the scope's clause).

    An order counts when it has at least one priced product sale line (line_total > 0) and is
    not cancelled in full. Cancelled in full: its own number carries cancellation lines (live
    orders), or a separate cancellation document of the same customer negates exactly its
    product lines (same SKUs, quantities and amounts; Online Retail's "C" invoices), the k-th
    such document in time pairing with the k-th such order, not before it."""
    return f"""
        scoped_lines AS MATERIALIZED (
            SELECT source, order_ref, kind, line_class, sku, quantity, line_total_minor, customer_id, currency,
                   occurred_at
            FROM {relation} WHERE {where} AND kind <> 'adjustment'
        ),
        priced AS (
            SELECT source, order_ref, any_value(customer_id) AS customer_id, any_value(currency) AS currency,
                   min(occurred_at) AS placed_at
            FROM scoped_lines
            WHERE kind = 'sale' AND line_class = 'product' AND line_total_minor > 0
            GROUP BY source, order_ref
        ),
        own_cancel AS (SELECT DISTINCT source, order_ref FROM scoped_lines WHERE kind = 'cancellation'),
        sale_sig AS (
            SELECT p.source, p.order_ref, p.customer_id, p.currency, p.placed_at,
                   string_agg(l.sku || ':' || l.quantity || ':' || l.line_total_minor, '|'
                              ORDER BY l.sku, l.quantity, l.line_total_minor) AS sig
            FROM priced p JOIN scoped_lines l ON l.source = p.source AND l.order_ref = p.order_ref
            WHERE l.kind = 'sale' AND l.line_class = 'product' AND p.customer_id IS NOT NULL
            GROUP BY ALL
        ),
        cancel_docs AS (
            SELECT l.source, l.order_ref, any_value(l.customer_id) AS customer_id, any_value(l.currency) AS currency,
                   min(l.occurred_at) AS cancelled_at,
                   string_agg(l.sku || ':' || (-l.quantity) || ':' || (-l.line_total_minor), '|'
                              ORDER BY l.sku, -l.quantity, -l.line_total_minor) AS sig
            FROM scoped_lines l
            WHERE l.kind = 'cancellation' AND l.line_class = 'product' AND l.customer_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM priced p WHERE p.source = l.source AND p.order_ref = l.order_ref)
            GROUP BY l.source, l.order_ref
        ),
        sale_ranked AS (
            SELECT *, row_number() OVER (PARTITION BY source, customer_id, currency, sig
                                         ORDER BY placed_at, order_ref) AS k FROM sale_sig
        ),
        cancel_ranked AS (
            SELECT *, row_number() OVER (PARTITION BY source, customer_id, currency, sig ORDER BY cancelled_at, order_ref) AS k
            FROM cancel_docs
        ),
        cancelled_in_full AS (
            SELECT s.source, s.order_ref FROM sale_ranked s JOIN cancel_ranked c
              ON c.source = s.source AND c.customer_id = s.customer_id AND c.currency = s.currency
             AND c.sig = s.sig AND c.k = s.k AND c.cancelled_at >= s.placed_at
            UNION SELECT source, order_ref FROM own_cancel
        ),
        orders AS MATERIALIZED (
            SELECT p.* FROM priced p
            WHERE NOT EXISTS (SELECT 1 FROM cancelled_in_full c WHERE c.source = p.source AND c.order_ref = p.order_ref)
        )"""


def net_sales_sum(column: str = "line_total_minor") -> str:
    """Net sales of a group of `sales_all` lines: product lines (sales less returns) plus discounts."""
    return f"sum({column}) FILTER (WHERE line_class IN ('product', 'discount') AND kind <> 'adjustment')"


def money_columns_sql() -> str:
    """gross, discounts, returns, net, shipping, fees, adjustments (minor units) of `sales_all` lines."""
    return f"""
        COALESCE(sum(line_total_minor) FILTER (WHERE line_class = 'product' AND kind = 'sale'), 0) AS gross,
        COALESCE(sum(line_total_minor) FILTER (WHERE line_class = 'discount' AND kind <> 'adjustment'), 0) AS discounts,
        COALESCE(sum(line_total_minor) FILTER (WHERE line_class = 'product' AND kind IN {RETURN_KINDS}), 0) AS returns,
        COALESCE({net_sales_sum()}, 0) AS net,
        COALESCE(sum(line_total_minor) FILTER (WHERE line_class = 'shipping'), 0) AS shipping,
        COALESCE(sum(line_total_minor) FILTER (WHERE line_class = 'fee'), 0) AS fees,
        COALESCE(sum(line_total_minor) FILTER (WHERE line_class = 'adjustment' OR kind = 'adjustment'), 0)
            AS adjustments,
        COALESCE(sum(quantity) FILTER (WHERE line_class = 'product' AND kind <> 'adjustment'), 0) AS units,
        count(*) FILTER (WHERE line_class = 'writeoff') AS writeoff_lines"""


DEFINITIONS: dict[str, Any] = {
    "line_classes": {
        "classes": list(LINE_CLASSES),
        "decided": "when a line is recorded: by the importer's code table, by the live order handler, or by a "
                   "connector's mapping",
        "online_retail_codes": ONLINE_RETAIL_CODES,
        "online_retail_other_codes": "product, except a zero-price line with a negative quantity or without a "
                                     "customer, which is a writeoff",
        "connector_codes": "a sales_lines connector's line_classes: exact codes, then glob patterns in order, to "
                           "product, discount, shipping, fee or adjustment; other codes as online_retail_other_codes "
                           "(docs/connectors.md)",
        "live_orders": "order lines are product; list total minus charged total of a line is a discount line; "
                       "the order's shipping is a shipping line",
    },
    "gross_sales": "sum of product lines of sale documents (quantity x unit price, before discounts)",
    "discounts": "sum of discount lines (negative): coupons and promotions, Online Retail code D",
    "returns": "sum of product lines of cancellation and return documents (negative)",
    "net_sales": "gross_sales + discounts + returns; the headline figure of every sales report. Shipping, fees "
                 "and adjustments are reported in their own columns and are not sales",
    "returns_attribution": "by default a return counts in the period (and for the customer) of the return; "
                           "returns=original_sale moves it to the time of the original sale when the return "
                           "names its order (live orders; Online Retail's C invoices name none, so they stay put "
                           "and the report says how much)",
    "order": "a (source, order reference) with at least one product sale line with a positive amount, not "
             "cancelled in full (its own number carries cancellation lines, or a separate cancellation document "
             "of the same customer negates exactly its product lines: SKUs, quantities and amounts). An order's "
             "time is its first priced product line's",
    "buyer": "a customer with at least one order in the period; a purchase cancelled in full does not make a "
             "buyer",
    "customer_monetary": "net sales of the buyer's lines in the period (returns of purchases made before the "
                         "period included, so it can be negative)",
    "rfm": "recency = days from the buyer's last order to the as-of time, frequency = orders, monetary = "
           "customer_monetary",
    "pareto": "products: SKUs with product lines in the period, ranked by net product sales (or profit); "
              "customers: buyers, ranked by customer_monetary (or profit). /api/v1/analytics/pareto?of=customers "
              "and /api/v1/crm/pareto answer from this same population",
    "portfolio": "products with positive net units and net product sales in the period",
    "aov": "net_sales / orders",
    "partial_periods": "a day, week or month that the data covers only partly (the first and last period of "
                       "the data, unless it starts or ends exactly on a boundary) is flagged `partial` and left "
                       "out of model fitting and backtests unless include_partial=true",
    "product_names": "from the catalog (the product's name in the request's language, ?lang= or "
                     "Accept-Language, else its default name), never from the free-text line descriptions",
}
