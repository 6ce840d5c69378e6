"""What orders and the web console may use of pricing: unit prices per channel and currency,
the promotions that apply, the pure cart pricing engine and its types, coupon redemption
and release, and the shipping fee."""

from merx.pricing.rules import (AppliedPromotion, CartContext, CartLine, PricingResult, from_minor, price_cart,
                                to_minor)
from merx.pricing.competition import (competitors_page, create_competitor, import_competitor_prices,
                                     price_position, record_competitor_price)
from merx.pricing.schemas import (CompetitorCreate, CompetitorPriceImport, CompetitorPriceIn, PriceListCreate,
                                  PricingRuleCreate, PromotionCreate, PromotionPatch)
from merx.pricing.strategies import approve as approve_proposal, create_rule, proposals_page, reject as reject_proposal
from merx.pricing.strategies import rules_page, run_rule
from merx.pricing.service import (coupon_exists, coupon_uses, create_price_list, create_promotion, get_promotion,
                                  price_lists_page, promotions_for, promotions_page, redeem, redemptions_page, release,
                                  set_prices, shipping_fee, unit_prices, update_promotion)

__all__ = [
    "AppliedPromotion", "CartContext", "CartLine", "PricingResult", "coupon_exists", "from_minor", "price_cart",
    "promotions_for", "redeem", "release", "shipping_fee", "to_minor", "unit_prices",
    # the console's promotions and price lists pages
    "PriceListCreate", "PromotionCreate", "PromotionPatch", "create_price_list", "create_promotion", "get_promotion",
    "price_lists_page", "promotions_page", "set_prices", "update_promotion",
    # the promotion's own page: its redemptions and who used its coupon
    "coupon_uses", "redemptions_page",
    # competitors, price position, pricing rules and proposals (the console's pricing page, the demo)
    "CompetitorCreate", "CompetitorPriceImport", "CompetitorPriceIn", "PricingRuleCreate", "approve_proposal",
    "competitors_page", "create_competitor", "create_rule", "import_competitor_prices", "price_position",
    "proposals_page", "record_competitor_price", "reject_proposal", "rules_page", "run_rule",
]
