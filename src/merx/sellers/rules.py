"""Pure marketplace rules (unit-tested without a database): the buy box, commission rates,
the seller rating and a payout's figures.

Buy box (which offer a product page shows first). Among the eligible offers (active seller,
active offer, in stock, in the order currency) each offer scores
    0.60 x price        cheapest landed price (price + shipping) / this offer's landed price
  + 0.25 x rating       seller rating / 5 (a seller not rated yet counts as 3.5)
  + 0.15 x speed        1 / (1 + lead time in days)
and the highest score wins; ties go to the lower landed price, then the older offer. Every
part is returned with the score, so the choice is explainable.

Seller rating (0-5): ONE figure, computed here and nowhere else (support only provides the
review statistics, sellers/rating.py gathers the facts). Two parts:
  operational (over a rolling window of RATING_WINDOW_DAYS, from the seller's orders)
    5 x (0.40 x on-time shipment rate + 0.25 x (1 - refusal rate)
         + 0.15 x (1 - cancellation rate) + 0.20 x (1 - incident rate))
  reviews: the mean (1-5) of the published verified reviews of what the seller sold, written
    within REVIEW_WINDOW_DAYS (reviews are rarer than orders, so the window is longer)
combined as
    0.70 x operational + 0.30 x reviews     when both exist (RATING_BLEND),
    the one that exists otherwise,
minus each violation's penalty within the window (default 0.5), never below 0.
A seller with neither a decided line nor a review keeps no rating (None). Search deboosts a seller
whose rating is below 3.5 (x0.90, `low_seller_rating`) and one with at least one violation
(x0.90, `seller_violations`): both apply, x0.81 (search/boosts.py)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable, Sequence

BUY_BOX_WEIGHTS = {"price": Decimal("0.60"), "rating": Decimal("0.25"), "speed": Decimal("0.15")}
UNRATED = Decimal("3.5")

RATING_WINDOW_DAYS = 90
REVIEW_WINDOW_DAYS = 365
RATING_BLEND = {"operational": Decimal("0.70"), "reviews": Decimal("0.30")}
RATING_WEIGHTS = {"on_time": Decimal("0.40"), "acceptance": Decimal("0.25"), "completion": Decimal("0.15"),
                  "no_incidents": Decimal("0.20")}
DEFAULT_PENALTY = Decimal("0.5")
DEFAULT_COMMISSION = Decimal("0.10")


@dataclass(frozen=True)
class Candidate:
    offer_id: int
    seller_id: int
    price_minor: int
    shipping_minor: int
    lead_time_days: int
    seller_rating: Decimal | None

    @property
    def landed_minor(self) -> int:
        return self.price_minor + self.shipping_minor


@dataclass(frozen=True)
class Ranked:
    candidate: Candidate
    score: Decimal
    parts: dict[str, Decimal]


def buy_box(candidates: Iterable[Candidate]) -> list[Ranked]:
    """The eligible offers ranked, best (the buy box) first."""
    cands = list(candidates)
    if not cands:
        return []
    cheapest = min(c.landed_minor for c in cands)
    ranked = []
    for c in cands:
        parts = {
            "price": (Decimal(cheapest) / Decimal(c.landed_minor)).quantize(Decimal("0.0001")),
            "rating": ((c.seller_rating if c.seller_rating is not None else UNRATED) / 5).quantize(Decimal("0.0001")),
            "speed": (Decimal(1) / (1 + c.lead_time_days)).quantize(Decimal("0.0001")),
        }
        score = sum(BUY_BOX_WEIGHTS[k] * v for k, v in parts.items()).quantize(Decimal("0.0001"))
        ranked.append(Ranked(c, score, parts))
    ranked.sort(key=lambda r: (-r.score, r.candidate.landed_minor, r.candidate.offer_id))
    return ranked


def commission_rate(rules: Sequence[tuple[str | None, int | None, Decimal]], *, category: str | None,
                    seller_id: int) -> Decimal:
    """The most specific of (category, seller, rate) rules: seller+category, then seller
    (any category), then category (any seller), then the catch-all, else DEFAULT_COMMISSION."""
    best: tuple[int, Decimal] | None = None
    for cat, sid, rate in rules:
        if sid is not None and sid != seller_id:
            continue
        if cat is not None and cat != category:
            continue
        rank = (2 if sid is not None else 0) + (1 if cat is not None else 0)
        if best is None or rank > best[0]:
            best = (rank, rate)
    return best[1] if best else DEFAULT_COMMISSION


def commission_minor(total_minor: int, rate: Decimal) -> int:
    return int((Decimal(total_minor) * rate).to_integral_value(ROUND_HALF_UP))


@dataclass(frozen=True)
class RatingFacts:
    decided_lines: int  # lines accepted, refused or expired in the window
    refused_lines: int  # refused or let expire
    accepted_lines: int
    cancelled_lines: int  # accepted, then cancelled before shipping
    shipments: int
    late_shipments: int
    incidents: int
    penalties: Sequence[Decimal] = ()
    review_average: Decimal | None = None  # mean of the published verified reviews (1-5)
    review_count: int = 0


def seller_rating(f: RatingFacts) -> tuple[Decimal | None, dict[str, str]]:
    """(rating or None, its parts as strings for display)."""
    reviews = f.review_average if f.review_count else None
    if f.decided_lines == 0 and reviews is None:
        return None, {"reason": "no decided lines in the window and no reviews", "violations": str(len(f.penalties))}

    def rate(n: int, d: int) -> Decimal:
        return Decimal(n) / Decimal(d) if d else Decimal(0)

    shown: dict[str, str] = {}
    operational = None
    if f.decided_lines:
        parts = {
            "on_time": Decimal(1) - rate(f.late_shipments, f.shipments) if f.shipments else Decimal(1),
            "acceptance": Decimal(1) - rate(f.refused_lines, f.decided_lines),
            "completion": Decimal(1) - rate(f.cancelled_lines, f.accepted_lines) if f.accepted_lines else Decimal(1),
            "no_incidents": Decimal(1) - rate(f.incidents, f.shipments) if f.shipments else Decimal(1),
        }
        operational = 5 * sum(RATING_WEIGHTS[k] * v for k, v in parts.items())
        shown = {k: str(v.quantize(Decimal("0.0001"))) for k, v in parts.items()}
        shown["operational"] = str(operational.quantize(Decimal("0.01")))
    if operational is not None and reviews is not None:
        base = RATING_BLEND["operational"] * operational + RATING_BLEND["reviews"] * reviews
    else:
        base = operational if operational is not None else reviews
    assert base is not None
    penalty = sum(f.penalties, Decimal(0))
    rating = max(Decimal(0), base - penalty).quantize(Decimal("0.01"))
    shown.update({"base": str(base.quantize(Decimal("0.01"))), "penalty": str(penalty),
                  "violations": str(len(f.penalties)), "shipments": str(f.shipments),
                  "late_shipments": str(f.late_shipments), "decided_lines": str(f.decided_lines),
                  "refused_lines": str(f.refused_lines), "incidents": str(f.incidents),
                  "reviews": str(reviews) if reviews is not None else "none",
                  "review_count": str(f.review_count)})
    return rating, shown


PAYOUT_KINDS = {"sale": "sales_minor", "commission": "commission_minor", "refund": "refunds_minor",
                "adjustment": "adjustments_minor"}


def payout_figures(entries: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Sum a seller's open entries by kind (commission and refunds are negative amounts):
    `amount_minor` = sales + commission + refunds + adjustments (the net); paid when > 0."""
    figures = {v: 0 for v in PAYOUT_KINDS.values()}
    for kind, amount in entries:
        figures[PAYOUT_KINDS[kind]] += amount
    figures["amount_minor"] = sum(figures[v] for v in PAYOUT_KINDS.values())
    return figures
