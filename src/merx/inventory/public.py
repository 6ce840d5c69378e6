"""What other contexts and the web console may call in inventory: locations, stock levels and
availability, adjustments and transfers, low-stock thresholds, and the hold protocol checkout runs (allocate,
consume, release) inside the caller's unit of work."""

from merx.inventory.adjustments import (ADJUSTMENT_REASONS, adjust, receive_stock, receive_stock_many, set_stock_levels,
                                       set_threshold, transfer)
from merx.inventory.holds import allocate, consume, holds_of, release
from merx.inventory.locations import (create_location, get_location, get_location_by_code, list_locations, update_location,
                                      location_out, locations_by_ids)
from merx.inventory.reads import (MAX_STOCK_ROWS, aggregate_statuses, availability, available_units, movements,
                                  stock_levels)
from merx.inventory.rules import LineRequest
from merx.inventory.schemas import LocationCreate, LocationPatch
from merx.inventory.settings import get_inventory_settings
from merx.inventory.writes import InsufficientStock, serialised

__all__ = [
    "ADJUSTMENT_REASONS", "InsufficientStock", "LineRequest", "adjust", "aggregate_statuses", "allocate", "availability",
    "available_units",
    "consume", "create_location", "update_location", "get_inventory_settings", "get_location", "get_location_by_code",
    "holds_of",
    "list_locations", "locations_by_ids", "movements", "receive_stock", "receive_stock_many", "release", "serialised",
    "set_stock_levels", "set_threshold",
    "stock_levels", "transfer", "MAX_STOCK_ROWS",
    # the console's location forms validate as the API does
    "LocationCreate", "LocationPatch", "location_out",
]
