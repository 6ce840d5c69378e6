"""What other contexts and the web console may call in customers: reading and finding the
customer record, creating one (guests at checkout, profiles the CRM stitches), and the
lifecycle steps on the record itself (merged, restored, erased)."""

from merx.customers.rules import normalize_email, normalize_phone
from merx.customers.schemas import CustomerCreate, CustomerOut
from merx.customers.service import (create_customer, customer_attributes, customer_id_by_email, erase_customer,
                                    find_customer, get_customer, get_or_create_guest, ids_by_external_refs,
                                    list_customers_stmt, mark_merged, raw_customer, raw_customers, restore_merged,
                                    upsert_customers_by_external_ref)

__all__ = [
    "CustomerCreate", "CustomerOut", "create_customer", "customer_attributes", "customer_id_by_email",
    "erase_customer", "find_customer", "get_customer", "get_or_create_guest", "ids_by_external_refs",
    "list_customers_stmt", "mark_merged", "normalize_email", "normalize_phone", "raw_customer", "raw_customers",
    "restore_merged", "upsert_customers_by_external_ref",
]
