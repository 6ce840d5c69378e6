"""`merx search train`: training data from the search log (the feature rows of every shown
product, stored with each logged search) labelled by the feedback attributed to it (a
purchase, or a cart add when too few purchases exist yet), then a versioned LightGBM model."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Callable

import numpy as np
import sqlalchemy as sa

from merx.core.db import Database, utcnow
from merx.core.uow import UnitOfWork
from merx.search import models as m
from merx.search.features import FEATURE_NAMES
from merx.search.model import ModelStore, train_model

MIN_POSITIVES = 20


class NotEnoughData(Exception):
    pass


def training_data(db: Database, *, days: int = 90,
                  on_progress: Callable[[int], None] | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    since = utcnow() - dt.timedelta(days=days)
    rows: list[list[float]] = []
    purchases: list[int] = []
    carts: list[int] = []
    positions: list[int] = []
    with UnitOfWork(db, readonly=True) as uow:
        actions: dict[tuple[str, int], set[str]] = {}
        for search_id, product_id, action in uow.session.execute(
                sa.select(m.SearchFeedback.search_id, m.SearchFeedback.product_id, m.SearchFeedback.action)
                .where(m.SearchFeedback.created_at >= since)):
            actions.setdefault((search_id, int(product_id)), set()).add(action)
        stmt = (sa.select(m.SearchLog.id, m.SearchLog.features, m.SearchLog.shown, m.SearchLog.page)
                .where(m.SearchLog.created_at >= since, m.SearchLog.features.is_not(None)).order_by(m.SearchLog.id))
        for n, (search_id, features, shown, page) in enumerate(
                uow.session.execute(stmt.execution_options(yield_per=1000)), 1):
            rank_of = {int(p): i + 1 + (max(page, 1) - 1) * len(shown or []) for i, p in enumerate(shown or [])}
            for pid, values in (features or {}).items():
                if len(values) != len(FEATURE_NAMES):
                    continue  # logged by an older feature set
                done = actions.get((search_id, int(pid)), set())
                rows.append([float(v) for v in values])
                purchases.append(1 if "purchase" in done else 0)
                carts.append(1 if done & {"purchase", "cart"} else 0)
                positions.append(rank_of.get(int(pid), 1))
            if on_progress is not None and n % 1000 == 0:
                on_progress(n)
    labels = np.asarray(purchases, dtype=np.float64)
    label = "purchase"
    if labels.sum() < MIN_POSITIVES:
        labels, label = np.asarray(carts, dtype=np.float64), "purchase_or_cart"
    info: dict[str, Any] = {"impressions": len(rows), "purchases": int(sum(purchases)),
                            "carts_or_purchases": int(sum(carts)), "label": label}
    matrix = np.asarray(rows, dtype=np.float64).reshape(-1, len(FEATURE_NAMES))
    return matrix, labels, np.asarray(positions, dtype=np.float64), info


def train_from_logs(db: Database, data_dir: Path, *, days: int = 90, seed: int = 7,
                    on_progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    matrix, labels, positions, info = training_data(db, days=days, on_progress=on_progress)
    if labels.sum() < MIN_POSITIVES or labels.sum() == len(labels):
        raise NotEnoughData(f"{int(labels.sum())} positive impressions out of {len(labels)} in the last {days} days; "
                            f"need at least {MIN_POSITIVES} (and some negatives) to train")
    booster, meta = train_model(matrix, labels, positions, seed=seed)
    meta.update(info)
    store = ModelStore(Path(data_dir) / "search" / "models")
    version = store.save(booster, meta)
    return {"version": version, **meta}
