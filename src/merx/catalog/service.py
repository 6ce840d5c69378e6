"""The catalog use cases, re-exported from their homes so existing imports keep working:

- catalog/lookups.py: read models for other contexts (the checkout SKU lookup, search documents);
- catalog/refs.py: reference data caches and the default channels;
- catalog/state.py: product state validation, comparison and writing (what keeps imports idempotent);
- catalog/products.py: product use cases and the API shape of a product;
- catalog/completeness.py: per channel and locale completeness;
- catalog/reference_data.py: categories, brands, attributes, attribute sets, channels.

New code imports from the module that owns the use case (or, from another context, catalog/public.py)."""

from merx.catalog.completeness import effective_attribute_set, product_completeness
from merx.catalog.lookups import ProductDocument, SkuInfo, iter_product_documents, lookup_skus
from merx.catalog.products import (PreconditionFailed, archive_product, bulk_create_products, create_product,
                                   delete_product, get_product, get_product_by_sku, list_products,
                                   list_products_stmt, readable_product, to_out, update_product)
from merx.catalog.reference_data import (channel_by_code, create_attribute, create_attribute_set, create_brand,
                                         create_category, create_channel, get_category, list_attribute_sets,
                                         list_attributes, list_brands, list_categories, list_channels,
                                         update_category)
from merx.catalog.refs import DEFAULT_CHANNELS, Refs, ensure_default_channels
from merx.catalog.state import DEFAULT_PUBLICATION, state_of

__all__ = [
    "DEFAULT_CHANNELS", "DEFAULT_PUBLICATION", "PreconditionFailed", "ProductDocument", "Refs", "SkuInfo",
    "archive_product", "bulk_create_products", "channel_by_code", "create_attribute", "create_attribute_set",
    "create_brand", "create_category", "create_channel", "create_product", "delete_product",
    "effective_attribute_set", "ensure_default_channels", "get_category", "get_product", "get_product_by_sku",
    "iter_product_documents", "list_attribute_sets", "list_attributes", "list_brands", "list_categories",
    "list_channels", "list_products", "list_products_stmt", "lookup_skus", "product_completeness",
    "readable_product", "state_of", "to_out", "update_category", "update_product",
]
