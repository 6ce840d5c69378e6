"""Lead scoring: the transparent points model (rules.score_lead) by default; a learned model once
there are enough won and lost deals that came from leads.

The learned model is a small LightGBM classifier (already Merx's gradient-boosting library, see
search/ranking) over the same facts the points model reads (source, which contact data the lead
has, product interest, how many channels it came through). Its quality is reported as the ROC AUC
of out-of-fold predictions (5-fold cross-validation), so the figure is never measured on the data
a model was fitted to. A trained model is stored and scores new leads from then on; its score is
the predicted chance of winning, in points (0-100), and the lead's reasons name the model and its
AUC next to the points model's factors for comparison."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.errors import Conflict
from merx.core.uow import UnitOfWork
from merx.sales import rules
from merx.sales.models import Deal, Lead, ScoringModel

MIN_DEALS = 40
MIN_PER_CLASS = 10
FEATURES = [*(f"source_{s}" for s in rules.LEAD_SOURCES), "has_email", "has_phone", "has_tax_id", "has_company",
            "has_interest", "channels"]
PARAMS = {"objective": "binary", "num_leaves": 7, "min_data_in_leaf": 5, "learning_rate": 0.1, "verbose": -1,
          "seed": 7, "deterministic": True, "num_threads": 1}
ROUNDS = 60


def features(lead: dict[str, Any]) -> list[float]:
    row = [1.0 if lead.get("source") == s else 0.0 for s in rules.LEAD_SOURCES]
    row += [1.0 if lead.get(k) else 0.0 for k in ("email", "phone", "tax_id", "company", "interest")]
    row.append(float(1 + len(lead.get("merged_sources") or [])))
    return row


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count one half)."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


@dataclass(frozen=True)
class ModelReport:
    kind: str  # "points" | "learned"
    auc: float | None
    deals: int
    won: int
    lost: int
    trained_at: dt.datetime | None
    note: str


def _training_rows(uow: UnitOfWork) -> tuple[np.ndarray, np.ndarray]:
    from merx.sales.deals import stages

    kinds = {s.code: s.kind for s in stages(uow)}
    rows = uow.session.execute(sa.select(Lead, Deal.stage).join(Deal, Deal.id == Lead.deal_id)).all()
    x, y = [], []
    for lead, stage in rows:
        if kinds.get(stage) in ("won", "lost"):
            x.append(features({"source": lead.source, "email": lead.email, "phone": lead.phone, "tax_id": lead.tax_id,
                               "company": lead.company, "interest": lead.interest,
                               "merged_sources": lead.merged_sources}))
            y.append(1 if kinds[stage] == "won" else 0)
    return np.array(x, dtype=float).reshape(-1, len(FEATURES)), np.array(y, dtype=int)


def train(uow: UnitOfWork) -> ModelReport:
    """Fit on every won and lost deal that came from a lead; refuse (409) while there are too few."""
    import lightgbm as lgb

    x, y = _training_rows(uow)
    won, lost = int(y.sum()), int(len(y) - y.sum())
    if len(y) < MIN_DEALS or won < MIN_PER_CLASS or lost < MIN_PER_CLASS:
        raise Conflict(f"A learned model needs at least {MIN_DEALS} closed deals from leads with {MIN_PER_CLASS} won "
                       f"and {MIN_PER_CLASS} lost; there are {won} won and {lost} lost. Leads keep the points model.",
                       type_slug="not-enough-deals")
    rng = np.random.default_rng(7)
    folds = rng.permutation(len(y)) % 5
    out_of_fold = np.zeros(len(y))
    for k in range(5):
        train_rows, test_rows = folds != k, folds == k
        booster = lgb.train(PARAMS, lgb.Dataset(x[train_rows], y[train_rows]), num_boost_round=ROUNDS)
        out_of_fold[test_rows] = booster.predict(x[test_rows])
    quality = round(auc(y, out_of_fold), 4)
    booster = lgb.train(PARAMS, lgb.Dataset(x, y), num_boost_round=ROUNDS)
    now = utcnow()
    uow.session.execute(sa.update(ScoringModel).values(active=False))
    uow.session.add(ScoringModel(created_at=now, model=booster.model_to_string(), auc=str(quality), deals=len(y),
                                 won=won, lost=lost, features=FEATURES, active=True))
    uow.audit("train", "sales_scoring_model", "leads", after={"auc": quality, "deals": len(y)})
    uow.commit()
    _cache.clear()
    return ModelReport("learned", quality, len(y), won, lost, now, f"5-fold out-of-fold ROC AUC {quality}")


def current(uow: UnitOfWork) -> ModelReport:
    m = uow.session.scalar(sa.select(ScoringModel).where(ScoringModel.active.is_(True)))
    if m is None:
        x, y = _training_rows(uow)
        return ModelReport("points", None, len(y), int(y.sum()), int(len(y) - y.sum()), None,
                           f"the transparent points model; a learned one needs {MIN_DEALS} closed deals from leads "
                           f"({MIN_PER_CLASS} won and {MIN_PER_CLASS} lost)")
    return ModelReport("learned", float(m.auc), m.deals, m.won, m.lost, m.created_at,
                       f"5-fold out-of-fold ROC AUC {m.auc}")


_cache: dict[int, Any] = {}


def scorer(uow: UnitOfWork) -> Any:
    """A function lead-fields -> (score, reasons) for this intake or import: the learned model
    when one is active, else the points model."""
    m = uow.session.scalar(sa.select(ScoringModel).where(ScoringModel.active.is_(True)))
    if m is None:
        return None
    import lightgbm as lgb

    if m.id not in _cache:
        _cache.clear()
        _cache[m.id] = lgb.Booster(model_str=m.model)
    booster, label = _cache[m.id], f"learned model (AUC {m.auc}, {m.deals} deals)"

    def score(rows: list[dict[str, Any]]) -> list[int]:
        if not rows:
            return []
        probs = booster.predict(np.array([features(r) for r in rows], dtype=float))
        return [int(round(float(p) * 100)) for p in probs]

    score.label = label  # type: ignore[attr-defined]
    return score
