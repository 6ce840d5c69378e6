"""Per-candidate facts of stage 3, gathered for all candidates at once: their signals (fast
fields: popularity, sales, price, rating, delivery, seller) and their answers to the query's
questions (does this candidate have every query word in its name, each query word, stock at
the nearest store, ...). Facts of one candidate never depend on the others, so the lexical
candidates' facts are gathered while the semantic lookup still runs (ranking.py) and the
products the semantic stage adds get theirs after."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import tantivy

from merx.search.documents import SIGNAL_FIELDS

# at most this many questions per search: their flags sum exactly in tantivy's float32 score
MAX_FLAGS = 20


def candidate_matches(searcher: tantivy.Searcher, schema: tantivy.Schema, ids: list[int],
                      questions: dict[str, tantivy.Query]) -> dict[str, np.ndarray]:
    """For each question (a query), which of the candidates (`ids`) match it, as a mask in
    candidate order. One search answers up to MAX_FLAGS questions: the candidates (a term set
    of their ids, score 0) must match, question k adds a constant 2^k when it matches, and the
    score read as an integer says which did. Restricting to the ids is what costs (a term
    lookup per id: ~2 ms for 1,000 ids at 1,000,000 products, benchmarks/stage3_facts.py), so asking every question in
    one search instead of one search each saves that per question."""
    n = len(ids)
    out = {name: np.zeros(n, dtype=bool) for name in questions}
    if not n or not questions:
        return out
    row = {pid: i for i, pid in enumerate(ids)}
    id_set = tantivy.Query.const_score_query(id_query(schema, ids), 0.0)
    names = list(questions)
    for first in range(0, len(names), MAX_FLAGS):
        chunk = names[first:first + MAX_FLAGS]
        flags = [(tantivy.Occur.Should, tantivy.Query.const_score_query(questions[name], float(1 << k)))
                 for k, name in enumerate(chunk)]
        res = searcher.search(tantivy.Query.boolean_query([(tantivy.Occur.Must, id_set)] + flags), n, count=False)
        scored = [(score, addr) for score, addr in res.hits if score > 0]
        if not scored:
            continue
        pids = searcher.fast_field_values("product_id", [addr for _, addr in scored])
        bits = np.asarray([int(round(score)) for score, _ in scored], dtype=np.int64)
        rows = np.asarray([row[int(pid)] for pid in pids], dtype=np.int64)
        for k, name in enumerate(chunk):
            out[name][rows[(bits >> k) & 1 == 1]] = True
    return out


def id_query(schema: tantivy.Schema, ids: Sequence[int]) -> tantivy.Query:
    """The products with these ids: one term query per id, joined by a boolean OR. Not
    tantivy's term_set_query, which matches the id field's term dictionary against an automaton
    of the ids: stage 3's questions over 945 ids at 1,000,000 products took 2.3 ms (p50) and
    3.6 ms (mean) with the term set against 2.1 and 2.4 ms with the boolean, 2.2 / 3.6 against
    1.9 / 2.2 in one segment (benchmarks/stage3_facts.py)."""
    return tantivy.Query.boolean_query([(tantivy.Occur.Should, tantivy.Query.term_query(schema, "product_id", int(i)))
                                        for i in ids])


@dataclass
class Facts:
    """Stage 3's per-candidate inputs for a run of candidates, in candidate order."""

    signals: dict[str, np.ndarray]  # SIGNAL_FIELDS (float) and seller_id (int)
    answers: dict[str, np.ndarray]  # question name -> bool mask

    def __len__(self) -> int:
        return len(self.signals["seller_id"])

    def __add__(self, other: "Facts") -> "Facts":
        return Facts({k: np.concatenate([v, other.signals[k]]) for k, v in self.signals.items()},
                     {k: np.concatenate([v, other.answers[k]]) for k, v in self.answers.items()})


def _signals(searcher: tantivy.Searcher, addresses: list[Any]) -> dict[str, np.ndarray]:
    n = len(addresses)
    signals: dict[str, np.ndarray] = {}
    for name in SIGNAL_FIELDS:
        signals[name] = np.asarray(searcher.fast_field_values(name, addresses), dtype=np.float64) if n else np.zeros(0)
    signals["seller_id"] = (np.asarray(searcher.fast_field_values("seller_id", addresses), dtype=np.int64)
                            if n else np.zeros(0, dtype=np.int64))
    return signals


def gather_facts(searcher: tantivy.Searcher, schema: tantivy.Schema, addresses: Sequence[Any],
                 ids: list[int], questions: dict[str, tantivy.Query]) -> Facts:
    """The signals and answers of the candidates at `addresses` (whose ids are `ids`)."""
    return Facts(_signals(searcher, list(addresses)), candidate_matches(searcher, schema, ids, questions))


def find_with_facts(searcher: tantivy.Searcher, schema: tantivy.Schema, query: tantivy.Query, limit: int,
                    questions: dict[str, tantivy.Query]) -> tuple[list[Any], list[int], Facts]:
    """The documents matching `query` (at most `limit`: it must cover every match), their
    product ids and facts, the questions asked in the same search as the match itself (the
    products the semantic stage adds: one search instead of two)."""
    if len(questions) > MAX_FLAGS:  # more than one search's flags: find, then ask
        hits = searcher.search(query, limit, count=False).hits
    else:
        flags = [(tantivy.Occur.Should, tantivy.Query.const_score_query(q, float(1 << k)))
                 for k, q in enumerate(questions.values())]
        hits = searcher.search(tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, tantivy.Query.const_score_query(query, 0.0))] + flags), limit, count=False).hits
    addresses = [addr for _, addr in hits]
    ids = [int(p) for p in searcher.fast_field_values("product_id", addresses)] if addresses else []
    if len(questions) > MAX_FLAGS:
        return addresses, ids, gather_facts(searcher, schema, addresses, ids, questions)
    bits = np.asarray([int(round(score)) for score, _ in hits], dtype=np.int64)
    answers = {name: (bits >> k) & 1 == 1 for k, name in enumerate(questions)}
    return addresses, ids, Facts(_signals(searcher, addresses), answers)
