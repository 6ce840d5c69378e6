"""What other contexts and the web console may call in customers: reading and finding the
customer record, creating one (guests at checkout, profiles the CRM stitches), and the
lifecycle steps on the record itself (merged, restored, erased); the storefront's shopper
accounts (sign-up, verification, sign-in, sessions, reset) and what a shopper keeps on the
record (address book, saved carts)."""

from merx.customers.accounts import (SESSION_LIFETIME, LockedOut, NotVerified, Shopper, SignedIn, WrongCredentials,
                                     account_for_customer, change_password, check_token, confirm_password, create_verified_account,
                                     get_account, link_base, request_password_reset, resend_verification, reset_password,
                                     shopper_of, sign_in, sign_out, sign_up, verify_email)
from merx.customers.addresses import (add_address, default_address, delete_address, delete_saved_cart, get_address,
                                      get_saved_cart, list_addresses, list_saved_carts, save_cart, set_default,
                                      update_address)
from merx.customers.rules import normalize_email, normalize_phone
from merx.customers.schemas import (AccountOut, AccountSignUp, AddressIn, AddressOut, CustomerCreate, CustomerOut, CustomerUpdate,
                                    SavedCartIn, SavedCartLine, SavedCartOut)
from merx.customers.service import (create_customer, customer_attributes, customer_id_by_email, erase_customer,
                                    find_customer, get_customer, get_or_create_guest, ids_by_external_refs,
                                    list_customers_stmt, mark_merged, raw_customer, raw_customers, restore_merged,
                                    update_customer, upsert_customers_by_external_ref)

__all__ = [
    "CustomerCreate", "CustomerOut", "CustomerUpdate", "create_customer", "customer_attributes", "customer_id_by_email",
    "erase_customer", "find_customer", "get_customer", "get_or_create_guest", "ids_by_external_refs",
    "list_customers_stmt", "mark_merged", "normalize_email", "normalize_phone", "raw_customer", "raw_customers",
    "restore_merged", "update_customer", "upsert_customers_by_external_ref",
    # storefront accounts
    "SESSION_LIFETIME", "AccountOut", "AccountSignUp", "AddressIn", "AddressOut", "LockedOut", "NotVerified", "SavedCartIn",
    "SavedCartLine", "SavedCartOut", "Shopper", "SignedIn", "WrongCredentials", "account_for_customer",
    "add_address", "change_password", "check_token", "confirm_password", "create_verified_account", "default_address", "delete_address",
    "delete_saved_cart", "get_account", "get_address", "get_saved_cart", "link_base", "list_addresses",
    "list_saved_carts", "request_password_reset", "resend_verification", "reset_password", "save_cart",
    "set_default", "shopper_of", "sign_in", "sign_out", "sign_up", "update_address", "verify_email",
]

