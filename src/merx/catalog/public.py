"""What other contexts, the application-level imports and the web console may call in the
catalog: SKU lookups for checkout and pricing, product documents for search, the product
editor's reads and writes, and the set-up calls the demo shop uses. Anything not named here
is the catalog's own business."""

from merx.catalog.schemas import (AttributeCreate, AttributeOut, AttributePatch, AttributeSetCreate, AttributeSetItemIn,
                                  BrandCreate, BrandOut, BrandPatch, CategoryCreate, CategoryOut, CategoryPatch,
                                  ProductCreate, ProductOut, ProductPatch)
from merx.catalog.barcodes import skus_for_code
from merx.catalog.costs import CostFact, add_product_cost, cost_at, cost_coverage, cost_facts_at, cost_history, costs_at, import_costs
from merx.catalog.costs import import_cost_csv
from merx.catalog.schemas import CostCreate, CostImport, CostImportReport, CostOut, CostRowIn
from merx.catalog.completeness import product_completeness
from merx.catalog.lookups import (ProductDocument, SkuInfo, iter_product_documents, lookup_skus, product_categories,
                                 product_names)
from merx.catalog.rules import pick_locale
from merx.catalog.early_access import (contribute_segments, hidden_product_ids, may_see as early_access_may_see,
                                       prelaunch, refusals as early_access_refusals)
from merx.catalog.products import bulk_create_products, get_product, list_products_stmt, update_product
from merx.catalog.reference_data import (create_attribute, create_attribute_set, create_brand, create_category, update_brand,
                                         list_attribute_sets, list_attributes, list_brands, list_categories,
                                         update_attribute, update_category)

__all__ = [
    "AttributeCreate", "AttributeOut", "AttributeSetCreate", "AttributeSetItemIn", "BrandCreate", "BrandOut",
    "BrandPatch", "CategoryCreate", "CategoryOut", "ProductCreate", "ProductDocument", "ProductOut", "ProductPatch",
    "SkuInfo",
    "bulk_create_products", "create_attribute", "create_attribute_set", "create_brand", "create_category",
    "get_product", "iter_product_documents", "update_brand", "list_attributes", "list_brands", "list_categories",
    "list_products_stmt", "lookup_skus", "product_categories", "pick_locale", "product_completeness", "skus_for_code", "update_product",
    "product_names",  # SKU -> name in a locale (reports name products in the reader's language)
    # costs (catalog/costs.py): checkout lands them on order lines; reports and pricing rules read them
    "CostCreate", "CostFact", "CostImport", "CostImportReport", "CostOut", "CostRowIn", "add_product_cost", "cost_at",
    # early access (catalog/early_access.py): CRM fills the hook; search, orders and the storefront enforce it
    "contribute_segments", "early_access_may_see", "early_access_refusals", "hidden_product_ids", "prelaunch",
    "cost_coverage", "cost_facts_at", "cost_history", "costs_at", "import_cost_csv", "import_costs",
    # reference data the console edits (categories, attributes)
    "AttributePatch", "CategoryPatch", "list_attribute_sets", "update_attribute", "update_category",
]
