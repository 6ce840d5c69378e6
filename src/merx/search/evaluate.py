"""Search quality metrics and the judgments file runner (`merx search evaluate`).

Judgments: CSV with a header `query,product,grade` (optional `lang`); `product` is a
product id or a SKU; grade 0 (irrelevant) .. 3 (perfect). Metrics per query, averaged:
- NDCG@10 with gains 2^grade - 1 against the ideal order of the judged products;
- MRR: 1 / rank of the first product with grade >= 1 (0 when none is in the list);
- recall@1000: share of the products with grade >= 1 found in the first 1,000."""

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

    def as_dict(self) -> dict[str, float]:
        return {"ndcg@10": round(self.ndcg10, 4), "mrr": round(self.mrr, 4), "recall@1000": round(self.recall1000, 4),
                "queries": self.queries}


def evaluate_rankings(rankings: dict[str, Sequence[int]], judgments: dict[str, dict[int, float]]) -> Metrics:
    qs = [q for q in judgments if any(g >= 1 for g in judgments[q].values())]
    if not qs:
        return Metrics(0.0, 0.0, 0.0, 0)
    n = len(qs)
    return Metrics(
        ndcg10=sum(ndcg_at(rankings.get(q, []), judgments[q], 10) for q in qs) / n,
        mrr=sum(reciprocal_rank(rankings.get(q, []), judgments[q]) for q in qs) / n,
        recall1000=sum(recall_at(rankings.get(q, []), judgments[q], 1000) for q in qs) / n,
        queries=n,
    )


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
    (stage 2 order, full pipeline order). Returns metrics for both."""
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
