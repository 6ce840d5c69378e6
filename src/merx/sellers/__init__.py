"""The marketplace's trade: sellers' offers, orders split per seller with per-line acceptance,
seller shipments and incidents, commissions, the money ledger per seller, payout cycles and
the computed seller rating. The seller registry itself is `merx.marketplace` (below catalog)."""
