"""Pure inventory logic: availability status, distances, opening hours and allocation
planning. No database here; the service feeds these functions rows it has locked."""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Iterable, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

IN_STOCK, LOW_STOCK, OUT_OF_STOCK = "in_stock", "low_stock", "out_of_stock"
STRATEGIES = ("priority", "most_stock")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
EARTH_RADIUS_KM = 6371.0088


def stock_status(available: int, low_threshold: int) -> str:
    if available <= 0:
        return OUT_OF_STOCK
    if available <= low_threshold:
        return LOW_STOCK
    return IN_STOCK


def effective_threshold(row_override: int | None, location_override: int | None, product_threshold: int | None,
                        default: int) -> int:
    """Most specific wins: this SKU at this location, then the location, then the product."""
    for value in (row_override, location_override, product_threshold):
        if value is not None:
            return value
    return default


def aggregate_status(statuses: Iterable[str]) -> str:
    seen = set(statuses)
    if IN_STOCK in seen:
        return IN_STOCK
    if LOW_STOCK in seen:
        return LOW_STOCK
    return OUT_OF_STOCK


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def validate_opening_hours(hours: dict) -> list[tuple[str, str]]:
    """Problems as (field, message); empty when valid. Shape: {"mon": [["09:00", "17:00"]], ...}."""
    problems: list[tuple[str, str]] = []
    for day, spans in hours.items():
        if day not in DAYS:
            problems.append((f"opening_hours.{day}", f"day must be one of {', '.join(DAYS)}"))
            continue
        if not isinstance(spans, list):
            problems.append((f"opening_hours.{day}", "must be a list of [open, close] pairs"))
            continue
        for i, span in enumerate(spans):
            where = f"opening_hours.{day}[{i}]"
            if not (isinstance(span, (list, tuple)) and len(span) == 2 and all(isinstance(t, str) for t in span)):
                problems.append((where, "must be a pair such as [\"09:00\", \"17:00\"]"))
            elif not all(_HHMM.match(t) for t in span):
                problems.append((where, "times must be HH:MM (24-hour)"))
            elif span[0] >= span[1]:
                problems.append((where, "must open before it closes"))
    return problems


def is_open(hours: dict | None, tz_name: str, at: dt.datetime) -> bool | None:
    """Whether the location is open at `at`; None when it publishes no hours."""
    if not hours:
        return None
    try:
        local = at.astimezone(ZoneInfo(tz_name))
    except ZoneInfoNotFoundError:
        local = at
    hhmm = local.strftime("%H:%M")
    return any(start <= hhmm < end for start, end in hours.get(DAYS[local.weekday()], []))


@dataclass(frozen=True)
class StockRow:
    location_id: int
    available: int
    priority: int = 100


@dataclass(frozen=True)
class LineRequest:
    key: str  # names the line in errors, e.g. "lines[2]"
    sku: str
    quantity: int


@dataclass(frozen=True)
class PlannedAllocation:
    key: str
    sku: str
    location_id: int
    quantity: int


@dataclass(frozen=True)
class Shortage:
    key: str
    sku: str
    requested: int
    available: int


def plan_allocation(lines: Sequence[LineRequest], stock: dict[str, list[StockRow]], *, strategy: str = "priority",
                    allow_split: bool = True) -> tuple[list[PlannedAllocation], list[Shortage]]:
    """Choose locations for every line, all or nothing per line.

    `stock` maps a SKU to the candidate rows (already filtered to the locations allowed: the
    pickup store only, or the shipping locations). Lines sharing a SKU draw on the same
    remaining quantities. `priority` fills from the lowest priority number first;
    `most_stock` from the location holding the most. With `allow_split=False` a line is
    served by one location or is short."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown allocation strategy {strategy!r}")
    remaining: dict[tuple[str, int], int] = {}
    for sku, rows in stock.items():
        for row in rows:
            remaining[(sku, row.location_id)] = max(0, row.available)
    planned: list[PlannedAllocation] = []
    shortages: list[Shortage] = []
    for line in lines:
        rows = stock.get(line.sku, [])
        if strategy == "priority":
            order = sorted(rows, key=lambda r: (r.priority, r.location_id))
        else:
            order = sorted(rows, key=lambda r: (-remaining[(line.sku, r.location_id)], r.priority, r.location_id))
        total = sum(remaining[(line.sku, r.location_id)] for r in rows)
        if not allow_split:
            whole = next((r for r in order if remaining[(line.sku, r.location_id)] >= line.quantity), None)
            if whole is None:
                best = max((remaining[(line.sku, r.location_id)] for r in rows), default=0)
                shortages.append(Shortage(line.key, line.sku, line.quantity, best))
                continue
            remaining[(line.sku, whole.location_id)] -= line.quantity
            planned.append(PlannedAllocation(line.key, line.sku, whole.location_id, line.quantity))
            continue
        if total < line.quantity:
            shortages.append(Shortage(line.key, line.sku, line.quantity, total))
            continue
        need = line.quantity
        for row in order:
            have = remaining[(line.sku, row.location_id)]
            if have <= 0:
                continue
            take = min(have, need)
            remaining[(line.sku, row.location_id)] -= take
            planned.append(PlannedAllocation(line.key, line.sku, row.location_id, take))
            need -= take
            if need == 0:
                break
    return planned, shortages
