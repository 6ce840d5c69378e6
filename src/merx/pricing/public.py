"""What orders (the only caller) may use of pricing: unit prices per channel and currency,
the promotions that apply, the pure cart pricing engine and its types, coupon redemption
and release, and the shipping fee."""

from merx.pricing.rules import (AppliedPromotion, CartContext, CartLine, PricingResult, from_minor, price_cart,
                                to_minor)
from merx.pricing.service import coupon_exists, promotions_for, redeem, release, shipping_fee, unit_prices

__all__ = [
    "AppliedPromotion", "CartContext", "CartLine", "PricingResult", "coupon_exists", "from_minor", "price_cart",
    "promotions_for", "redeem", "release", "shipping_fee", "to_minor", "unit_prices",
]
