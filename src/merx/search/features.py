"""Stage 3 features: six groups, as the marketplace that inspired this pipeline documents
them (popularity, sales, price, rating, delivery, text). One row per (query, product).

The same function builds rows at query time and for training (`merx search train` stores
the rows shown with each logged search), so the model sees exactly what it will score."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "popularity": ("pop_views", "pop_carts", "pop_favourites"),
    "sales": ("sales_purchases", "sales_conversion"),
    "price": ("price_ratio", "price_discount"),
    "rating": ("rating_avg", "rating_count"),
    "delivery": ("delivery_days", "express"),
    # text_semantic last: a model trained before it existed reads the columns before it
    "text": ("text_score", "text_score_norm", "text_all_words", "text_name_all", "text_exact_code", "text_semantic"),
}
FEATURE_NAMES: tuple[str, ...] = tuple(f for names in FEATURE_GROUPS.values() for f in names)
GROUP_OF: dict[str, str] = {f: g for g, names in FEATURE_GROUPS.items() for f in names}

# The weights the marketplace publishes for its own learned layer (share of importance).
PUBLISHED_WEIGHTS = {"popularity": 0.49, "sales": 0.19, "price": 0.09, "rating": 0.08, "delivery": 0.06, "text": 0.06}

COLOUR_WEIGHT = 0.35  # a colour word alone must not outrank the product noun (query and coverage)

DELIVERY_DAYS_LOCAL = 1.0
DELIVERY_DAYS_EXPRESS = 1.0
DELIVERY_DAYS_STOCKED = 3.0
DELIVERY_DAYS_UNAVAILABLE = 7.0


def delivery_days(*, local: bool, express: bool, in_stock: bool) -> float:
    """Expected days to the shopper: next day from a local or nearest warehouse or by
    express, three days from any other stock, a week when nothing is in stock (made to order
    or back-ordered)."""
    if local:
        return DELIVERY_DAYS_LOCAL
    if express:
        return DELIVERY_DAYS_EXPRESS
    return DELIVERY_DAYS_STOCKED if in_stock else DELIVERY_DAYS_UNAVAILABLE


def feature_matrix(columns: dict[str, Sequence[float]], n: int) -> np.ndarray:
    """Columns by feature name -> an (n, len(FEATURE_NAMES)) float matrix (missing: 0)."""
    out = np.zeros((n, len(FEATURE_NAMES)), dtype=np.float64)
    for j, name in enumerate(FEATURE_NAMES):
        col = columns.get(name)
        if col is not None and n:
            out[:, j] = np.asarray(col, dtype=np.float64)
    return out


def _squash(x: np.ndarray, scale: float) -> np.ndarray:
    """log-compress a count into 0..1 (scale = the count that maps to about 0.7)."""
    return np.clip(np.log1p(np.maximum(x, 0)) / math.log1p(scale * 2.3), 0.0, 1.0)


def group_scores(matrix: np.ndarray) -> dict[str, np.ndarray]:
    """Each group as one 0..1 score: the fallback formula's inputs, also shown by explain."""
    col = {name: matrix[:, j] for j, name in enumerate(FEATURE_NAMES)}
    popularity = 0.5 * _squash(col["pop_views"], 200) + 0.35 * _squash(col["pop_carts"], 30) \
        + 0.15 * _squash(col["pop_favourites"], 30)
    sales = 0.6 * _squash(col["sales_purchases"], 20) + 0.4 * np.clip(col["sales_conversion"] * 10, 0, 1)
    price = np.clip(0.5 + (1.0 - col["price_ratio"]) * 2.5, 0, 1)
    have_rating = col["rating_count"] > 0
    rating = np.where(have_rating, np.clip((col["rating_avg"] - 1) / 4, 0, 1) * _squash(col["rating_count"], 50)
                      + (1 - _squash(col["rating_count"], 50)) * 0.5, 0.5)
    delivery = np.clip((DELIVERY_DAYS_UNAVAILABLE - col["delivery_days"]) / (DELIVERY_DAYS_UNAVAILABLE - 1), 0, 1)
    text = np.clip(0.6 * col["text_score_norm"] + 0.2 * col["text_all_words"] + 0.1 * col["text_name_all"]
                   + 0.1 * col["text_exact_code"], 0, 1)
    return {"popularity": popularity, "sales": sales, "price": price, "rating": rating, "delivery": delivery,
            "text": text}


# The fallback formula (no trained model yet): a logistic over the group scores. Text weighs
# most because without a model we know relevance only from the words; the behavioural
# groups then order products of similar relevance, in the published order of importance.
FALLBACK_BIAS = -5.0
FALLBACK_WEIGHTS = {"text": 4.0, "popularity": 1.6, "sales": 1.2, "price": 0.4, "rating": 0.4, "delivery": 0.4}


def fallback_probability(matrix: np.ndarray) -> np.ndarray:
    groups = group_scores(matrix)
    z = np.full(matrix.shape[0], FALLBACK_BIAS)
    for g, w in FALLBACK_WEIGHTS.items():
        z = z + w * groups[g]
    return 1.0 / (1.0 + np.exp(-z))
