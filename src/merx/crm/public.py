"""What other contexts and the web console may call in the CRM: finding a profile by an
identifier, the customer 360 overview, profile merges, segments (and their members, edited
from the console), manual loyalty adjustments, consent per channel (marketing checks it at
send time, in bulk), and the tracked events as a Parquet file for analytics' funnel, and
identified product views (marketing's browse abandonment)."""

from merx.crm.checkout_points import points_of_order
from merx.crm.consent import (CHANNELS as CONSENT_CHANNELS, consented_ids, current_consents, erase_customer,
                              export_customer, record_consent)
from merx.crm.identity import merge_profiles, survivors, unmerge
from merx.crm.loyalty import adjust_points, create_program, list_programs
from merx.crm.loyalty import customer_loyalty  # the shopper's balance and tier ("My account")
from merx.crm.schemas import ProgramIn, ProgramOut
from merx.crm.profiles import overview
from merx.crm.segments.service import (create_segment, delete_segment, evaluate_segment, get_segment, list_segments,
                                      member_ids, preview, save_static_segment, update_segment)
from merx.crm.service import export_events_parquet, ingest_events, lookup
from merx.crm.service import ProductView, product_views

__all__ = ["CONSENT_CHANNELS", "ProgramIn", "ProgramOut", "consented_ids", "create_program", "create_segment",
           "current_consents", "evaluate_segment", "export_events_parquet", "get_segment", "ingest_events",
           "list_programs", "list_segments", "lookup", "member_ids", "merge_profiles", "overview", "points_of_order",
           "preview", "record_consent", "save_static_segment", "survivors", "unmerge", "ProductView", "product_views",
           "erase_customer", "export_customer", "customer_loyalty",
           "adjust_points", "delete_segment", "update_segment"]  # data-subject rights, for the shopper's own account pages
