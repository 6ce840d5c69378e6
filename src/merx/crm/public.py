"""What other contexts and the web console may call in the CRM: finding a profile by an
identifier, the customer 360 overview, profile merges, segments, and the tracked events as
a Parquet file for analytics' funnel."""

from merx.crm.identity import merge_profiles, survivors, unmerge
from merx.crm.profiles import overview
from merx.crm.segments.service import (create_segment, evaluate_segment, get_segment, list_segments, member_ids,
                                      preview, save_static_segment)
from merx.crm.service import export_events_parquet, lookup

__all__ = ["create_segment", "evaluate_segment", "export_events_parquet", "get_segment", "list_segments", "lookup", "member_ids",
           "merge_profiles", "overview", "preview", "save_static_segment", "survivors", "unmerge"]
