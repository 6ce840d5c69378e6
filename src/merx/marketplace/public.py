"""What other contexts and the demo may call in marketplace: seller facts for search ranking
and for the catalog's seller checks, creating a seller, and storing the rating the sellers
context computes."""

from merx.marketplace.schemas import SellerCreate, SellerOut, SellerUpdate
from merx.marketplace.service import (SellerInfo, all_seller_ids, create_seller, get_seller, get_seller_out,
                                      list_sellers, record_rating, seller_id_by_code, sellers_by_ids,
                                      update_seller)

__all__ = ["SellerCreate", "SellerInfo", "SellerOut", "SellerUpdate", "all_seller_ids", "create_seller", "get_seller",
           "get_seller_out", "list_sellers", "record_rating", "seller_id_by_code", "sellers_by_ids", "update_seller"]
