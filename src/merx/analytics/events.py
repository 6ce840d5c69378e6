"""Event types analytics emits, registered in the event catalog when this module is imported."""

from merx.analytics.abandonment import BROWSE_ABANDONED, CART_ABANDONED

__all__ = ["BROWSE_ABANDONED", "CART_ABANDONED"]
