"""Event types the CRM context emits (registered in the event catalog on import)."""

from merx.core.events import describe_event

describe_event("customer.identified", aggregate="customer",
               payload={"customer_id": "int", "anonymous_id": "str", "created": "bool", "merged_from": "int | null"},
               description="An anonymous visitor was linked to a profile; its past events were re-keyed.")
describe_event("customer.merged", aggregate="customer",
               payload={"merge_id": "int", "from_customer_id": "int", "into_customer_id": "int", "rule": "str",
                        "moved": "object (counts of events, identifiers, orders, points moved)"},
               description="A duplicate profile was merged into another; everything it had moved with it.")
describe_event("customer.unmerged", aggregate="customer",
               payload={"merge_id": "int", "customer_id": "int", "from_customer_id": "int"},
               description="A manual merge was undone.")
describe_event("customer.consent_changed", aggregate="customer",
               payload={"customer_id": "int", "channel": "str", "granted": "bool", "source": "str"},
               description="Marketing consent for a channel was granted or withdrawn.")
describe_event("customer.erased", aggregate="customer", payload={"customer_id": "int"},
               description="A customer's personal data was anonymised on request; order amounts are kept.")
describe_event("segment.created", aggregate="segment", payload={"segment_id": "int", "name": "str", "members": "int"},
               description="A customer segment was defined.")
describe_event("segment.updated", aggregate="segment", payload={"segment_id": "int", "members": "int"},
               description="A segment's definition or membership count changed.")
describe_event("crm.rfm_computed", aggregate="crm",
               payload={"reference_date": "ISO 8601 date", "customers": "int", "segments": "object (name -> count)"},
               description="RFM scores and segments were recomputed.")
describe_event("loyalty.program_created", aggregate="loyalty_program", payload={"program_id": "int", "code": "str"},
               description="A loyalty program was created.")
describe_event("loyalty.points_changed", aggregate="loyalty_account",
               payload={"customer_id": "int", "program_id": "int", "kind": "str (earn, redeem, expire, adjust, merge)",
                        "points": "int (negative when spent)", "balance": "int", "tier": "str | null"},
               description="A member's points balance changed.")
describe_event("loyalty.tier_changed", aggregate="loyalty_account",
               payload={"customer_id": "int", "from": "str | null", "to": "str | null"},
               description="A member moved to another tier.")
describe_event("referral.created", aggregate="referral",
               payload={"referral_id": "int", "referrer_id": "int", "referred_id": "int"},
               description="A customer signed up with another customer's referral code.")
describe_event("referral.rewarded", aggregate="referral",
               payload={"referral_id": "int", "referrer_id": "int", "referred_id": "int", "order_id": "int"},
               description="The referred customer's first paid order rewarded the referrer.")
