"""Behavioural segmentation beyond rules: value tiers, k-means clusters (k chosen by
silhouette) and the Pareto share of revenue and profit. All three are pure functions over
purchase summaries (see crm.rfm.purchase_summaries), unit-tested without a database.

k-means and the silhouette are written here on numpy (about 60 lines) rather than taken from
scikit-learn: a shop has at most a few hundred thousand 3-feature points, and scikit-learn
with scipy would add roughly 100 MB to every install for these two functions."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Sequence

import numpy as np

# -- value tiers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierConfig:
    active_days: int = 90  # last order within this many days of as_of -> active, else churned
    returning_min_orders: int = 2  # this many orders or more -> returning, else new
    high_value_share: float = 0.2  # the top share of customers by revenue -> high value


def value_tiers(summaries: Iterable[Any], as_of: dt.datetime, config: TierConfig = TierConfig()) -> dict[int, dict[str, str]]:
    """Per customer: lifecycle (new | returning), value (high | low), activity (active | churned).
    High value: revenue at least that of the customer at position ceil(n * share) from the
    top (ties at the boundary are all high)."""
    rows = list(summaries)
    if not rows:
        return {}
    revenues = sorted((Decimal(s.revenue) for s in rows), reverse=True)
    cut = revenues[max(1, math.ceil(len(rows) * config.high_value_share)) - 1]
    out = {}
    for s in rows:
        last = s.last_order_at if s.last_order_at.tzinfo else s.last_order_at.replace(tzinfo=dt.timezone.utc)
        out[s.customer_id] = {
            "lifecycle": "returning" if s.orders_count >= config.returning_min_orders else "new",
            "value": "high" if Decimal(s.revenue) >= cut else "low",
            "activity": "active" if (as_of - last).days <= config.active_days else "churned",
        }
    return out


def tier_counts(tiers: dict[int, dict[str, str]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {"lifecycle": {}, "value": {}, "activity": {}}
    for axis in out:
        out[axis] = dict(Counter(t[axis] for t in tiers.values()))
    return out


# -- k-means -----------------------------------------------------------------------------------------

FEATURES = ("recency_days", "orders_count", "revenue", "average_order_value", "tenure_days")


def behaviour_matrix(summaries: Sequence[Any], as_of: dt.datetime) -> tuple[list[int], np.ndarray]:
    ids, rows = [], []
    for s in summaries:
        last = s.last_order_at if s.last_order_at.tzinfo else s.last_order_at.replace(tzinfo=dt.timezone.utc)
        first = s.first_order_at if s.first_order_at.tzinfo else s.first_order_at.replace(tzinfo=dt.timezone.utc)
        revenue = float(s.revenue)
        ids.append(s.customer_id)
        rows.append([(as_of - last).total_seconds() / 86400, s.orders_count, revenue,
                     revenue / s.orders_count if s.orders_count else 0.0, (as_of - first).total_seconds() / 86400])
    return ids, np.array(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))


def standardise(raw: np.ndarray) -> np.ndarray:
    """Skewed counts and money are log-scaled (sign kept for net-negative revenue), then each
    feature is centred and scaled to unit variance."""
    x = raw.copy()
    for j in (1, 2, 3):
        x[:, j] = np.sign(x[:, j]) * np.log1p(np.abs(x[:, j]))
    std = x.std(axis=0)
    std[std == 0] = 1.0
    return (x - x.mean(axis=0)) / std


def kmeans(x: np.ndarray, k: int, *, seed: int = 7, n_init: int = 4, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray, float]:
    """Lloyd's algorithm with k-means++ seeding; the best of n_init runs by inertia."""
    rng = np.random.default_rng(seed)
    best: tuple[np.ndarray, np.ndarray, float] | None = None
    n = len(x)
    for _ in range(n_init):
        centres = np.empty((k, x.shape[1]))
        centres[0] = x[rng.integers(n)]
        closest = ((x - centres[0]) ** 2).sum(axis=1)
        for c in range(1, k):
            total = closest.sum()
            pick = rng.choice(n, p=closest / total) if total > 0 else rng.integers(n)
            centres[c] = x[pick]
            closest = np.minimum(closest, ((x - centres[c]) ** 2).sum(axis=1))
        labels = np.zeros(n, dtype=np.int64)
        for _it in range(max_iter):
            distances = ((x[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
            new_labels = distances.argmin(axis=1)
            if _it > 0 and np.array_equal(new_labels, labels):
                break
            labels = new_labels
            for c in range(k):
                members = x[labels == c]
                if len(members):
                    centres[c] = members.mean(axis=0)
                else:  # an empty cluster restarts at the point furthest from its centre
                    centres[c] = x[distances.min(axis=1).argmax()]
        inertia = float(((x - centres[labels]) ** 2).sum())
        if best is None or inertia < best[2]:
            best = (labels.copy(), centres.copy(), inertia)
    assert best is not None
    return best


def silhouette(x: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette coefficient (Rousseeuw 1987) with Euclidean distances."""
    n = len(x)
    if n < 3 or len(set(labels.tolist())) < 2:
        return 0.0
    sq = (x ** 2).sum(axis=1)
    dist = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0))
    clusters = np.unique(labels)
    scores = np.zeros(n)
    for i in range(n):
        own = labels == labels[i]
        own_count = own.sum() - 1
        if own_count == 0:
            continue  # a singleton's silhouette is 0 by convention
        a = dist[i, own].sum() / own_count
        b = min(dist[i, labels == c].mean() for c in clusters if c != labels[i])
        scores[i] = (b - a) / max(a, b) if max(a, b) > 0 else 0.0
    return float(scores.mean())


@dataclass
class ClusterResult:
    k: int
    silhouettes: dict[int, float]
    labels: dict[int, int]  # customer id -> cluster number (1-based, by size)
    profiles: list[dict[str, Any]]
    sample_size: int


def cluster_customers(summaries: Sequence[Any], as_of: dt.datetime, *, k_range: Iterable[int] = range(2, 9),
                      sample: int = 2000, seed: int = 7) -> ClusterResult:
    ids, raw = behaviour_matrix(summaries, as_of)
    if len(ids) < 3:
        raise ValueError("clustering needs at least 3 customers with orders")
    x = standardise(raw)
    rng = np.random.default_rng(seed)
    # The silhouette is quadratic in n: it is computed on a fixed random sample.
    idx = rng.choice(len(x), size=min(sample, len(x)), replace=False)
    scores: dict[int, float] = {}
    fits: dict[int, np.ndarray] = {}
    for k in k_range:
        if k >= len(x):
            break
        labels, _centres, _inertia = kmeans(x, k, seed=seed)
        fits[k] = labels
        scores[k] = round(silhouette(x[idx], labels[idx]), 4)
    best_k = max(scores, key=lambda k: (scores[k], -k))
    labels = fits[best_k]
    # Number clusters by size, largest first, so that names are stable across runs.
    order = [c for c, _ in Counter(labels.tolist()).most_common()]
    renumber = {c: i + 1 for i, c in enumerate(order)}
    overall = raw.mean(axis=0)
    profiles = []
    for c in order:
        members = raw[labels == c]
        means = members.mean(axis=0)
        traits = []
        traits.append("recent" if means[0] < overall[0] else "lapsed")
        traits.append("frequent" if means[1] > overall[1] else "occasional")
        traits.append("high spend" if means[2] > overall[2] else "low spend")
        profiles.append({
            "cluster": renumber[c], "size": int(len(members)), "share": round(len(members) / len(raw), 4),
            "label": ", ".join(traits),
            "mean": {f: round(float(v), 2) for f, v in zip(FEATURES, means)},
            "median": {f: round(float(v), 2) for f, v in zip(FEATURES, np.median(members, axis=0))},
        })
    return ClusterResult(k=best_k, silhouettes=scores, labels={cid: renumber[int(l)] for cid, l in zip(ids, labels)},
                         profiles=profiles, sample_size=len(idx))


# -- Pareto ----------------------------------------------------------------------------------------------


def pareto(values: dict[int, Decimal], top_share: float = 0.2) -> dict[str, Any] | None:
    """Share of the total contributed by the top `top_share` of customers (ceil), ranked by
    the same measure. None without data or with a non-positive total."""
    if not values:
        return None
    ranked = sorted(values.values(), reverse=True)
    total = sum(ranked, Decimal(0))
    if total <= 0:
        return None
    top_n = max(1, math.ceil(len(ranked) * top_share))
    top = sum(ranked[:top_n], Decimal(0))
    return {"customers": len(ranked), "top_customers": top_n, "total": str(total), "top_total": str(top),
            "share": float(round(top / total, 4))}
