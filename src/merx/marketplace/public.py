"""What other contexts and the demo may call in marketplace: seller facts for search ranking
and for the catalog's seller checks, creating a seller, and updating one (support sets the
rating from its published reviews)."""

from merx.marketplace.schemas import SellerUpdate
from merx.marketplace.service import SellerInfo, create_seller, get_seller, sellers_by_ids, update_seller

__all__ = ["SellerInfo", "SellerUpdate", "create_seller", "get_seller", "sellers_by_ids", "update_seller"]
