"""Search quality metrics and the judgments file runner (`merx search evaluate`).

Judgments: CSV with a header `query,product,grade` (optional `lang`); `product` is a
product id or a SKU; grade 0 (irrelevant) .. 3 (perfect). Metrics per query, averaged:
- NDCG@10 with gains 2^grade - 1 against the ideal order of the judged products;
- MRR: 1 / rank of the first product with grade >= 1 (0 when none is in the list);
- recall@100 and recall@1000: share of the products with grade >= 1 found in the first 100
  (1,000).
Differences between two rankings of the same queries come with a paired bootstrap interval
(`paired_bootstrap`): queries are resampled with replacement, both systems scored on the same
resample."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence


def dcg(gains: Sequence[float], k: int) -> float:
    return sum((2 ** g - 1) / math.log2(i + 2) for i, g in enumerate(gains[:k]))


def ndcg_at(ranked: Sequence[int], grades: dict[int, float], k: int = 10) -> float:
    ideal = dcg(sorted(grades.values(), reverse=True), k)
    if ideal <= 0:
        return 0.0
    return dcg([grades.get(pid, 0.0) for pid in ranked], k) / ideal


def reciprocal_rank(ranked: Sequence[int], grades: dict[int, float]) -> float:
    for i, pid in enumerate(ranked):
        if grades.get(pid, 0) >= 1:
            return 1.0 / (i + 1)
    return 0.0


def recall_at(ranked: Sequence[int], grades: dict[int, float], k: int = 1000) -> float:
    relevant = {pid for pid, g in grades.items() if g >= 1}
    if not relevant:
        return 0.0
    return len(relevant & set(ranked[:k])) / len(relevant)


@dataclass
class Metrics:
    ndcg10: float
    mrr: float
    recall1000: float
    queries: int
    recall100: float = 0.0
    per_query_ndcg10: dict[str, float] | None = None  # for paired comparisons

    def as_dict(self) -> dict[str, float]:
        return {"ndcg@10": round(self.ndcg10, 4), "mrr": round(self.mrr, 4), "recall@100": round(self.recall100, 4),
                "recall@1000": round(self.recall1000, 4), "queries": self.queries}


def evaluate_rankings(rankings: dict[str, Sequence[int]], judgments: dict[str, dict[int, float]]) -> Metrics:
    qs = [q for q in judgments if any(g >= 1 for g in judgments[q].values())]
    if not qs:
        return Metrics(0.0, 0.0, 0.0, 0)
    n = len(qs)
    per_query = {q: ndcg_at(rankings.get(q, []), judgments[q], 10) for q in qs}
    return Metrics(
        ndcg10=sum(per_query.values()) / n,
        mrr=sum(reciprocal_rank(rankings.get(q, []), judgments[q]) for q in qs) / n,
        recall1000=sum(recall_at(rankings.get(q, []), judgments[q], 1000) for q in qs) / n,
        queries=n,
        recall100=sum(recall_at(rankings.get(q, []), judgments[q], 100) for q in qs) / n,
        per_query_ndcg10=per_query,
    )


@dataclass(frozen=True)
class Difference:
    mean: float  # b - a, averaged over queries
    low: float  # 95% paired bootstrap interval
    high: float
    queries: int

    @property
    def significant(self) -> bool:
        """The interval excludes 0: the difference is larger than its resampling noise."""
        return self.low > 0 or self.high < 0

    def as_dict(self) -> dict[str, float]:
        return {"difference": round(self.mean, 4), "ci95_low": round(self.low, 4), "ci95_high": round(self.high, 4),
                "queries": self.queries}


def paired_bootstrap(a: dict[str, float], b: dict[str, float], *, resamples: int = 2000, seed: int = 7,
                     confidence: float = 0.95) -> Difference:
    """Mean of b - a over the queries both scored, with a percentile bootstrap interval."""
    import numpy as np

    qs = sorted(set(a) & set(b))
    if not qs:
        return Difference(0.0, 0.0, 0.0, 0)
    diffs = np.asarray([b[q] - a[q] for q in qs], dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = diffs[rng.integers(0, len(diffs), size=(resamples, len(diffs)))].mean(axis=1)
    tail = (1 - confidence) / 2
    return Difference(float(diffs.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail)), len(qs))


@dataclass(frozen=True)
class Judgment:
    query: str
    lang: str | None
    product: str
    grade: float


def read_judgments(path: Path) -> list[Judgment]:
    with open(path, newline="", encoding="utf-8") as fh:
        sample = fh.read(4096)
        fh.seek(0)
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t") if sample else csv.excel
        reader = csv.DictReader(fh, dialect=dialect)
        missing = {"query", "product", "grade"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}; need query,product,grade")
        out = []
        for line, row in enumerate(reader, start=2):
            try:
                grade = float(row["grade"])
            except (TypeError, ValueError):
                raise ValueError(f"{path}:{line}: grade {row['grade']!r} is not a number") from None
            out.append(Judgment(row["query"].strip(), (row.get("lang") or "").strip() or None,
                                row["product"].strip(), grade))
        return out


def evaluate_judgments(judgments: Iterable[Judgment], resolve: Callable[[str], int | None],
                       rank: Callable[[str, str | None], tuple[list[int], list[int]]]) -> dict[str, Metrics]:
    """`resolve` maps a product column value to a product id; `rank(query, lang)` returns
    (stage 2 order, full pipeline order). Returns metrics for both (per query too, for
    `paired_bootstrap` between two calls with different `rank`)."""
    by_query: dict[tuple[str, str | None], dict[int, float]] = defaultdict(dict)
    for j in judgments:
        pid = resolve(j.product)
        if pid is not None:
            by_query[(j.query, j.lang)][pid] = j.grade
    stage2: dict[str, Sequence[int]] = {}
    full: dict[str, Sequence[int]] = {}
    grades: dict[str, dict[int, float]] = {}
    for (query, lang), g in by_query.items():
        key = f"{lang or ''}\x00{query}"
        stage2[key], full[key] = rank(query, lang)
        grades[key] = g
    return {"stage2": evaluate_rankings(stage2, grades), "pipeline": evaluate_rankings(full, grades)}
