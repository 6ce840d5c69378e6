"""Pricing: price lists per currency, channel and customer group; promotions and coupons."""
