"""What other contexts and the demo may call in marketplace: seller facts for search ranking
and for the catalog's seller checks, and creating a seller."""

from merx.marketplace.service import SellerInfo, create_seller, get_seller, sellers_by_ids

__all__ = ["SellerInfo", "create_seller", "get_seller", "sellers_by_ids"]
