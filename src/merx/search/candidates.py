"""Per-candidate questions of stage 3 (does this candidate have every query word in its name,
each query word, stock at the nearest store, ...), answered for all candidates at once."""

from __future__ import annotations

import numpy as np
import tantivy

# at most this many questions per search: their flags sum exactly in tantivy's float32 score
MAX_FLAGS = 20


def candidate_matches(searcher: tantivy.Searcher, schema: tantivy.Schema, ids: list[int],
                      questions: dict[str, tantivy.Query]) -> dict[str, np.ndarray]:
    """For each question (a query), which of the candidates (`ids`) match it, as a mask in
    candidate order. One search answers up to MAX_FLAGS questions: the candidates (a term set
    of their ids, score 0) must match, question k adds a constant 2^k when it matches, and the
    score read as an integer says which did. Restricting to the ids is what costs (the term
    set's weight: ~5 ms for 1,000 ids at 100,000 products), so asking every question in one
    search instead of one search each saves that per question."""
    n = len(ids)
    out = {name: np.zeros(n, dtype=bool) for name in questions}
    if not n or not questions:
        return out
    row = {pid: i for i, pid in enumerate(ids)}
    id_set = tantivy.Query.const_score_query(tantivy.Query.term_set_query(schema, "product_id", ids), 0.0)
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
