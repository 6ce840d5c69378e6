"""What orders and the web console may use of pricing: unit prices per channel and currency,
the promotions that apply, the pure cart pricing engine and its types, coupon redemption
and release, and the shipping fee."""

from merx.pricing.rules import (AppliedPromotion, CartContext, CartLine, PricingResult, from_minor, price_cart,
                                to_minor)
from merx.pricing.schemas import PriceListCreate, PromotionCreate, PromotionPatch
from merx.pricing.service import (coupon_exists, create_price_list, create_promotion, get_promotion, price_lists_page,
                                  promotions_for, promotions_page, redeem, release, set_prices, shipping_fee,
                                  unit_prices, update_promotion)

__all__ = [
    "AppliedPromotion", "CartContext", "CartLine", "PricingResult", "coupon_exists", "from_minor", "price_cart",
    "promotions_for", "redeem", "release", "shipping_fee", "to_minor", "unit_prices",
    # the console's promotions and price lists pages
    "PriceListCreate", "PromotionCreate", "PromotionPatch", "create_price_list", "create_promotion", "get_promotion",
    "price_lists_page", "promotions_page", "set_prices", "update_promotion",
]
