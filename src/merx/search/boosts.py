"""Stage 4: boosts and deboosts, multiplicative factors on the stage 3 probability.

Every rule that applies multiplies the score (0.7 x 1.1 x 1.1 x 1.1 = 0.9317), so a boost
lifts a product without guaranteeing it overtakes a clearly better one (0.6 x 1.25 = 0.75
stays below 0.9). Logistics boosts are the exception: only one applies, the first in
priority order express > guaranteed next day from a local warehouse > in stock at the
warehouse nearest the shopper.

Rules are configured through the API (stored in `search_boost_rules`); a kind without a
stored rule uses the default below. Paid promotion is targeted: a rule names a product or a
seller and carries its own factor."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

LOGISTICS_PRIORITY = ("express", "next_day_local", "nearest_warehouse")

# kind -> (default factor, default params). Thresholds are documented in docs/search-quality.md.
DEFAULT_RULES: dict[str, tuple[float, dict[str, Any]]] = {
    "premium_seller": (1.05, {}),
    "express": (1.075, {}),
    "next_day_local": (1.075, {"regions": {}}),  # region code -> location codes with a next-day guarantee
    "nearest_warehouse": (1.0375, {}),
    "good_price": (1.05, {"below": 0.95}),  # current / 30-day average below this
    "bad_price": (0.90, {"above": 1.10}),  # current / 30-day average above this
    "paid_promotion": (1.10, {}),  # only with a product_id or seller_id target
    "seller_violations": (0.90, {"min_violations": 1}),
    "low_product_rating": (0.85, {"below": 3.5, "min_reviews": 10}),
    "low_seller_rating": (0.90, {"below": 3.5}),
}
RULE_KINDS = tuple(DEFAULT_RULES)
TARGETED_KINDS = frozenset({"paid_promotion"})


@dataclass(frozen=True)
class Rule:
    kind: str
    factor: float
    params: dict[str, Any] = field(default_factory=dict)
    product_id: int | None = None
    seller_id: int | None = None
    rule_id: int | None = None


@dataclass
class BoostContext:
    """What the rules look at for one candidate."""

    product_id: int
    seller_id: int
    express: bool = False
    next_day_local: bool = False  # in stock at a next-day location of the shopper's region
    nearest_warehouse: bool = False  # in stock at the location nearest the shopper
    price_ratio: float = 1.0
    rating_avg: float = 0.0
    rating_count: float = 0.0
    seller_premium: bool = False
    seller_rating: float = 0.0
    seller_violations: float = 0.0


@dataclass(frozen=True)
class AppliedBoost:
    rule: str
    factor: float
    rule_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "factor": self.factor, "rule_id": self.rule_id}


class BoostRules:
    """The active rule set: one global rule per kind plus any targeted promotions."""

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self.global_rules: dict[str, Rule] = {k: Rule(k, f, dict(p)) for k, (f, p) in DEFAULT_RULES.items()
                                              if k not in TARGETED_KINDS}
        self.by_product: dict[int, list[Rule]] = {}
        self.by_seller: dict[int, list[Rule]] = {}
        for r in rules:
            if r.product_id is not None:
                self.by_product.setdefault(r.product_id, []).append(r)
            elif r.seller_id is not None:
                self.by_seller.setdefault(r.seller_id, []).append(r)
            elif r.kind not in TARGETED_KINDS:
                merged = {**DEFAULT_RULES[r.kind][1], **r.params}
                self.global_rules[r.kind] = Rule(r.kind, r.factor, merged, rule_id=r.rule_id)

    def next_day_locations(self, region: str | None) -> list[str]:
        if not region:
            return []
        regions = self.global_rules["next_day_local"].params.get("regions") or {}
        return list(regions.get(region, []))

    def _rule(self, kind: str) -> Rule | None:
        return self.global_rules.get(kind)

    def vector(self, cols: dict[str, Any], product_ids: Sequence[int]) -> tuple[np.ndarray, list[tuple[AppliedBoost, np.ndarray]]]:
        """All candidates at once: (multiplier per candidate, [(boost, mask of candidates it applies to)]).
        `cols` holds arrays: express, next_day_local, nearest_warehouse, seller_premium,
        price_ratio, seller_violations, rating_avg, rating_count, seller_rating, seller_id."""
        n = len(product_ids)
        applied: list[tuple[AppliedBoost, np.ndarray]] = []

        def add(kind: str, mask: np.ndarray) -> None:
            rule = self.global_rules.get(kind)
            if rule is not None and rule.factor != 1.0 and mask.any():
                applied.append((AppliedBoost(kind, rule.factor, rule.rule_id), mask))

        remaining = np.ones(n, dtype=bool)
        for kind in LOGISTICS_PRIORITY:  # exclusive: the first that applies wins
            has = np.asarray(cols[kind], dtype=bool)
            add(kind, has & remaining)
            remaining &= ~has
        add("premium_seller", np.asarray(cols["seller_premium"], dtype=bool))
        ratio = np.asarray(cols["price_ratio"], dtype=np.float64)
        good, bad = self.global_rules.get("good_price"), self.global_rules.get("bad_price")
        good_mask = ratio < float(good.params.get("below", 0.95)) if good is not None else np.zeros(n, dtype=bool)
        add("good_price", good_mask)
        if bad is not None:
            add("bad_price", ~good_mask & (ratio > float(bad.params.get("above", 1.10))))
        viol = self.global_rules.get("seller_violations")
        if viol is not None:
            add("seller_violations", np.asarray(cols["seller_violations"]) >= float(viol.params.get("min_violations", 1)))
        low = self.global_rules.get("low_product_rating")
        if low is not None:
            avg, count = np.asarray(cols["rating_avg"]), np.asarray(cols["rating_count"])
            add("low_product_rating", (count >= float(low.params.get("min_reviews", 10))) & (avg > 0)
                & (avg < float(low.params.get("below", 3.5))))
        low_s = self.global_rules.get("low_seller_rating")
        if low_s is not None:
            sr = np.asarray(cols["seller_rating"])
            add("low_seller_rating", (sr > 0) & (sr < float(low_s.params.get("below", 3.5))))
        if self.by_product or self.by_seller:
            pids = np.asarray(product_ids)
            sellers = np.asarray(cols["seller_id"])
            for pid, rules in self.by_product.items():
                mask = pids == pid
                if mask.any():
                    applied += [(AppliedBoost(r.kind, r.factor, r.rule_id), mask) for r in rules]
            for sid, rules in self.by_seller.items():
                mask = sellers == sid
                if mask.any():
                    applied += [(AppliedBoost(r.kind, r.factor, r.rule_id), mask) for r in rules]
        multiplier = np.ones(n, dtype=np.float64)
        for boost, mask in applied:
            multiplier = np.where(mask, multiplier * boost.factor, multiplier)
        return multiplier, applied

    def applied(self, ctx: BoostContext) -> list[AppliedBoost]:
        """The boosts one candidate gets (the same rules as `vector`, for one product)."""
        cols = {k: np.asarray([v]) for k, v in ctx.__dict__.items()}
        _, applied = self.vector(cols, [ctx.product_id])
        return [boost for boost, mask in applied if mask[0]]


def combine(score: float, boosts: Iterable[AppliedBoost | float]) -> float:
    """The final score: the stage 3 probability times every applied factor."""
    out = score
    for b in boosts:
        out *= b.factor if isinstance(b, AppliedBoost) else float(b)
    return out


def product_of(parts: Iterable[float]) -> float:
    return math.prod(parts)
