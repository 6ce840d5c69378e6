"""The inventory use cases, re-exported from their homes so existing imports keep working:

- inventory/locations.py: stores and warehouses;
- inventory/adjustments.py: adjustments, counts, transfers, low-stock thresholds;
- inventory/reads.py: stock levels, availability, product statuses, the ledger;
- inventory/holds.py: allocate, release, consume and expire holds (checkout's protocol);
- inventory/writes.py: the guarded stock-row writes and ledger every one of them goes through
  (and the concurrency rules they follow).

New code imports from the module that owns the use case (or, from another context, inventory/public.py)."""

from merx.inventory.adjustments import (ADJUSTMENT_REASONS, adjust, receive_stock, receive_transfer, set_stock_levels,
                                        set_threshold, transfer, transfer_out)
from merx.inventory.holds import allocate, consume, holds_of, release, sweep_expired
from merx.inventory.locations import (create_location, get_location, get_location_by_code, list_locations,
                                      location_out, locations_by_ids, update_location)
from merx.inventory.reads import aggregate_statuses, availability, ledger_totals, movements, stock_levels
from merx.inventory.writes import InsufficientStock, serialised, stock_row_out

__all__ = [
    "ADJUSTMENT_REASONS", "InsufficientStock", "adjust", "aggregate_statuses", "allocate", "availability", "consume",
    "create_location", "get_location", "get_location_by_code", "holds_of", "ledger_totals", "list_locations",
    "location_out", "locations_by_ids", "movements", "receive_stock", "receive_transfer", "release", "serialised",
    "set_stock_levels", "set_threshold", "stock_levels", "stock_row_out", "sweep_expired", "transfer", "transfer_out",
]
