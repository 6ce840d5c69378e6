"""Facets of a search: term buckets of the filter fields and price ranges with nice bounds."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import tantivy


def facet_counts(searcher: tantivy.Searcher, query: tantivy.Query) -> dict[str, Any]:
    """Category, brand, store and attribute buckets and price ranges of what `query` matches."""
    aggs = {
        "category": {"terms": {"field": "category_f", "size": 30}},
        "brand": {"terms": {"field": "brand_f", "size": 30}},
        "attributes": {"terms": {"field": "attr_f", "size": 60}},
        "store": {"terms": {"field": "store_f", "size": 30}},
        "priced": {"range": {"field": "price", "ranges": [{"from": 0.0}]},
                   "aggs": {"stats": {"stats": {"field": "price"}}}},
    }
    raw = searcher.aggregate(query, aggs)
    out: dict[str, Any] = {
        "category": _buckets(raw.get("category")),
        "brand": _buckets(raw.get("brand")),
        "store": _buckets(raw.get("store")),
    }
    attributes: dict[str, list[dict[str, Any]]] = {}
    for b in _buckets(raw.get("attributes")):
        code, _, value = str(b["value"]).partition("=")
        attributes.setdefault(code, []).append({"value": value, "count": b["count"]})
    out["attributes"] = attributes
    stats = {}
    for b in (raw.get("priced") or {}).get("buckets", []):
        stats = b.get("stats") or {}
    if stats.get("count"):
        lo, hi = float(stats["min"]), float(stats["max"])
        bounds = _nice_bounds(lo, hi)
        ranges = [{"from": a, "to": b} for a, b in zip(bounds, bounds[1:])]
        counted = searcher.aggregate(query, {"r": {"range": {"field": "price", "ranges": [
            {"from": r["from"], "to": r["to"]} for r in ranges]}}})
        buckets = [{"from": _money_text(b.get("from")), "to": _money_text(b.get("to")), "count": b["doc_count"]}
                   for b in counted["r"]["buckets"] if "from" in b and "to" in b]
        out["price"] = {"min": _money_text(lo), "max": _money_text(hi), "ranges": buckets}
    else:
        out["price"] = {"min": None, "max": None, "ranges": []}
    return out


def _buckets(raw: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [{"value": b["key"], "count": b["doc_count"]} for b in (raw or {}).get("buckets", [])]


def _nice_bounds(lo: float, hi: float, parts: int = 5) -> list[float]:
    if hi <= lo:
        return [lo, hi + 1.0]
    raw_step = (hi - lo) / parts
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw_step)
    start = math.floor(lo / step) * step
    bounds = [start]
    while bounds[-1] <= hi:
        bounds.append(bounds[-1] + step)
    return bounds


def _money_text(value: Any) -> str | None:
    if value is None:
        return None
    return format(Decimal(str(round(float(value), 2))).quantize(Decimal("0.01")), "f")
