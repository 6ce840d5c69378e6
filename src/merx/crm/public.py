"""What other contexts and the web console may call in the CRM: finding a profile by an
identifier, the customer 360 overview, profile merges, segments, and the tracked events as
a Parquet file for analytics' funnel."""

from merx.crm.identity import merge_profiles, survivors, unmerge
from merx.crm.loyalty import create_program, list_programs
from merx.crm.schemas import ProgramIn, ProgramOut
from merx.crm.profiles import overview
from merx.crm.segments.service import create_segment, evaluate_segment, list_segments, preview
from merx.crm.service import export_events_parquet, ingest_events, lookup

__all__ = ["ProgramIn", "ProgramOut", "create_program", "list_programs", "create_segment", "evaluate_segment", "export_events_parquet", "ingest_events", "list_segments", "lookup",
           "merge_profiles", "overview", "preview", "survivors", "unmerge"]
