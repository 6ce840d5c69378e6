"""Stage 3's feature columns, assembled from the candidates' stage 2 scores and the facts
gathered for them (candidates.py): pure numpy, no index."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from merx.search.candidates import Facts
from merx.search.features import (COLOUR_WEIGHT, DELIVERY_DAYS_EXPRESS, DELIVERY_DAYS_LOCAL, DELIVERY_DAYS_STOCKED,
                                   DELIVERY_DAYS_UNAVAILABLE, feature_matrix)


def feature_columns(candidates: Sequence[Any], facts: Facts, groups: Sequence[Sequence[tuple[Any, ...]]],
                    mode: str) -> tuple[np.ndarray, dict[str, Any]]:
    """The feature matrix and the columns stages 3 and 4 read, for `candidates` (ranking.Candidate)
    whose facts are `facts`, in the same order."""
    n = len(candidates)
    columns: dict[str, Any] = dict(facts.signals)
    scores = np.fromiter((c.stage2 for c in candidates), dtype=np.float64, count=n)
    top = float(scores.max()) if n and scores.max() > 0 else 1.0
    columns["text_score"] = scores
    columns["text_score_norm"] = scores / top
    exact = np.fromiter((c.exact_code for c in candidates), dtype=bool, count=n)
    columns["text_exact_code"] = exact.astype(np.float64)
    columns["text_semantic"] = np.fromiter((c.semantic for c in candidates), dtype=np.float64, count=n)
    lexical = np.fromiter((c.lexical for c in candidates), dtype=np.float64, count=n)
    semantic_only = np.fromiter((c.via_semantic for c in candidates), dtype=bool, count=n)
    columns["_semantic_only"] = semantic_only
    answers = facts.answers
    no = np.zeros(n, dtype=bool)
    if groups and n:
        columns["text_name_all"] = answers["name_all"].astype(np.float64)
        if mode == "and":
            columns["text_all_words"] = (~((exact | semantic_only) & (lexical == 0))).astype(np.float64)
        else:
            # Coverage: the share of query words each candidate matches, a colour word
            # counting less than a noun.
            weights = [COLOUR_WEIGHT if len(g[0]) == 1 and g[0][0].colour else 1.0 for g in groups]
            coverage = np.zeros(n, dtype=np.float64)
            for k, w in enumerate(weights):
                coverage += w * answers[f"word_{k}"]
            coverage /= sum(weights)
            columns["_coverage"] = np.round(coverage, 6)
            columns["text_all_words"] = (coverage >= 1.0 - 1e-9).astype(np.float64)
    near, local = answers.get("near", no), answers.get("local", no)
    columns["_nearest"], columns["_next_day_local"] = near, local
    columns.setdefault("_coverage", np.ones(n, dtype=np.float64))
    # "pads without wings": a candidate whose own text says "without wings" is what the
    # shopper asked for; hybrid ordering puts it first among equal word matches, since
    # meaning alone cannot tell "without wings" from a plain "pads" (lexical BM25 already
    # favours it through the query's negated clauses).
    says_without = answers.get("says_without", no)
    columns["_says_without"] = says_without.astype(np.float64)
    express, in_stock = columns["express"] > 0, columns["in_stock"] > 0
    columns["delivery_days"] = np.where(near | local, DELIVERY_DAYS_LOCAL, np.where(
        express, DELIVERY_DAYS_EXPRESS, np.where(in_stock, DELIVERY_DAYS_STOCKED, DELIVERY_DAYS_UNAVAILABLE)))
    return feature_matrix(columns, n), columns
