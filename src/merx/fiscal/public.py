"""What other contexts and the web console may call in fiscal (taxes and shipping)."""

from merx.fiscal.rules import TAX_CLASSES, allocate
from merx.fiscal.schemas import MethodPatch, TaxLineOut, ZonePatch
from merx.fiscal.service import (ShippingQuote, TaxQuote, add_method, add_rate, create_zone, end_rate, list_channel_modes,
                                 list_rates, list_zones, order_tax_lines, order_tax_minor, prices_include_tax,
                                 quote_shipping, quote_tax, record_order_tax, seed_default_rates, set_channel_mode,
                                 shop_country, tax_lines_of_orders, update_method, update_zone)

__all__ = [
    "ShippingQuote", "TAX_CLASSES", "TaxLineOut", "TaxQuote", "add_method", "add_rate", "allocate", "create_zone",
    "list_channel_modes", "list_rates", "list_zones", "order_tax_lines", "order_tax_minor", "prices_include_tax",
    "quote_shipping", "quote_tax", "record_order_tax", "seed_default_rates", "set_channel_mode", "shop_country",
    "tax_lines_of_orders", "end_rate", "update_method", "update_zone", "MethodPatch", "ZonePatch",
]
