"""The shared money-shop fixtures (tests/payment_shop.py)."""

from payment_shop import settings, shop, taxed  # noqa: F401
