"""Stage 3 model: a LightGBM binary classifier estimating, for a query, the probability that
the shopper buys each candidate. Models are versioned files under
`<data_dir>/search/models/` (`model-0001.txt` + `model-0001.json` with its features,
training figures and group importances); `LATEST` names the one in use. Without a model the
documented fallback formula (`features.fallback_probability`) ranks."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from merx.search.features import FEATURE_NAMES, GROUP_OF, PUBLISHED_WEIGHTS, fallback_probability

MONOTONE = {
    "pop_views": 1, "pop_carts": 1, "pop_favourites": 1, "sales_purchases": 1, "sales_conversion": 1,
    "price_ratio": -1, "rating_avg": 1, "delivery_days": -1, "text_score_norm": 1, "text_all_words": 1,
    "text_name_all": 1, "text_exact_code": 1, "text_semantic": 1,
}


@dataclass
class TrainedModel:
    version: str
    booster: Any  # lightgbm.Booster
    meta: dict[str, Any]

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        if matrix.shape[0] == 0:
            return np.zeros(0)
        n = self.booster.num_feature()
        if n < matrix.shape[1]:  # trained before later features were appended: it reads the first n
            matrix = matrix[:, :n]
        return np.asarray(self.booster.predict(matrix, num_threads=1), dtype=np.float64)


class Ranker:
    """Scores a feature matrix with the current model or, without one, the fallback."""

    def __init__(self, model: TrainedModel | None = None) -> None:
        self.model = model

    @property
    def name(self) -> str:
        return f"lightgbm:{self.model.version}" if self.model else "fallback"

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        if self.model is not None:
            return self.model.predict(matrix)
        return fallback_probability(matrix)


def position_weights(positions: np.ndarray) -> np.ndarray:
    """Inverse propensity weights: a shopper looks at rank r with probability about
    1 / log2(r + 1), so a purchase at rank 10 says more about the product than one at rank 1.
    Weighting rows by log2(r + 1) keeps the model from learning "whatever was on top"."""
    return np.log2(np.maximum(np.asarray(positions, dtype=np.float64), 1.0) + 1.0)


def train_model(matrix: np.ndarray, labels: np.ndarray, positions: np.ndarray | None = None, *,
                seed: int = 7, rounds: int = 200) -> tuple[Any, dict[str, Any]]:
    """Fits the booster (rows weighted by their display position when given); returns it
    with its importance per feature group (share of gain)."""
    import lightgbm as lgb

    params = {
        # leaves of at least 50 rows, fewer on a young shop's small log (min 5)
        "objective": "binary", "learning_rate": 0.05, "num_leaves": 15,
        "min_data_in_leaf": int(min(50, max(5, matrix.shape[0] // 20))),
        "feature_fraction": 0.9, "bagging_fraction": 0.8, "bagging_freq": 1, "seed": seed,
        "num_threads": 1, "verbose": -1, "deterministic": True,
        # Shape priors that keep the model sensible on queries it never saw: more demand,
        # better ratings and better text matches never lower the probability, slower
        # delivery and a dearer price than usual never raise it.
        "monotone_constraints": [MONOTONE.get(f, 0) for f in FEATURE_NAMES],
        "monotone_constraints_method": "advanced",
    }
    weights = position_weights(positions) if positions is not None else None
    data = lgb.Dataset(matrix, label=labels, weight=weights, feature_name=list(FEATURE_NAMES), free_raw_data=False)
    booster = lgb.train(params, data, num_boost_round=rounds)
    gains = booster.feature_importance(importance_type="gain")
    by_group: dict[str, float] = {g: 0.0 for g in PUBLISHED_WEIGHTS}
    for name, gain in zip(FEATURE_NAMES, gains):
        by_group[GROUP_OF[name]] += float(gain)
    total = sum(by_group.values()) or 1.0
    importance = {g: round(v / total, 4) for g, v in by_group.items()}
    return booster, {"group_importance": importance, "published_weights": PUBLISHED_WEIGHTS,
                     "rows": int(matrix.shape[0]), "positives": int(labels.sum())}


class ModelStore:
    """Versioned models on disk; `current()` reloads when another process publishes one."""

    def __init__(self, base: Path) -> None:
        self.base = Path(base)
        self._lock = threading.Lock()
        self._loaded: TrainedModel | None = None
        self._loaded_name: str | None = None
        self._checked_at = 0.0

    @property
    def latest_pointer(self) -> Path:
        return self.base / "LATEST"

    def versions(self) -> list[str]:
        if not self.base.exists():
            return []
        return sorted(p.stem for p in self.base.glob("model-*.txt"))

    def save(self, booster: Any, meta: dict[str, Any]) -> str:
        self.base.mkdir(parents=True, exist_ok=True)
        existing = self.versions()
        number = int(existing[-1].split("-")[1]) + 1 if existing else 1
        name = f"model-{number:04d}"
        booster.save_model(str(self.base / f"{name}.txt"))
        meta = {**meta, "version": name, "features": list(FEATURE_NAMES),
                "created_at": dt.datetime.now(dt.timezone.utc).isoformat()}
        (self.base / f"{name}.json").write_text(json.dumps(meta, indent=2))
        tmp = self.base / f"LATEST.{os.getpid()}.tmp"
        tmp.write_text(name)
        os.replace(tmp, self.latest_pointer)
        return name

    def load(self, name: str) -> TrainedModel:
        import lightgbm as lgb

        booster = lgb.Booster(model_file=str(self.base / f"{name}.txt"))
        meta_path = self.base / f"{name}.json"
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        features = tuple(meta.get("features") or ())
        if features and features != FEATURE_NAMES[:len(features)]:
            raise ValueError(f"{name} was trained on other features; retrain it")
        return TrainedModel(name, booster, meta)

    def current(self) -> TrainedModel | None:
        now = time.monotonic()
        if now - self._checked_at < 1.0:
            return self._loaded
        with self._lock:
            self._checked_at = now
            try:
                name = self.latest_pointer.read_text().strip()
            except FileNotFoundError:
                self._loaded, self._loaded_name = None, None
                return None
            if name != self._loaded_name:
                try:
                    self._loaded = self.load(name)
                    self._loaded_name = name
                except Exception:  # a broken file must not stop search: fall back, keep answering
                    self._loaded, self._loaded_name = None, None
            return self._loaded
