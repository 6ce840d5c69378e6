"""The search pipeline over the index, free of the database:

1. candidates: every active product containing all query words (each word, or one of its
   synonyms, in name, category, brand or attribute values); below `min_candidates` the
   query is re-run with any word. The count is exact up to `count_cap` (500,000); only
   the stage 2 top `depth` are materialised.
2. base text layer: BM25 with field weights (tantivy's scorer over our analysed tokens), the
   description adding to the score of candidates; top `depth` (1,000) go on.
3. learned layer: purchase probability from six feature groups (model or fallback formula).
4. boosts and deboosts: multiplicative factors.
5. display: exact SKU/EAN matches first, then pins, minus hidden products; paged.

`service.py` loads synonyms, rules and pins from the database and logs the search."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Sequence

import numpy as np
import tantivy

from merx.search.analysis import (NEGATED, QueryToken, analyze_query, guess_language, meaning_text,
                                  normalise_code)
from merx.search.boosts import AppliedBoost, BoostRules
from merx.search.candidates import Facts, find_with_facts, gather_facts, id_query
from merx.search.documents import CANDIDATE_FIELDS, DESCRIPTION_WEIGHT, FIELD_WEIGHTS
from merx.search.facets import facet_counts
from merx.search.features import COLOUR_WEIGHT, FEATURE_NAMES, group_scores
from merx.search.stage3 import feature_columns
from merx.search.index import SearchIndex
from merx.search.model import Ranker
from merx.search import semantic_query
from merx.search.semantic import SEMANTIC_CANDIDATES, SEMANTIC_LANGUAGES, Fusion, embedder
from merx.search.settings import get_search_settings
from merx.search.synonyms import SynonymTable, cyrillic_alternatives
from merx.search.vectors import VectorStore

FUZZY_WEIGHT = 0.5  # a typo-corrected word scores a constant, half a field weight
PREFIX_WEIGHT = 0.5  # a word being typed (autocomplete) completed from its first letters
NEGATED_WEIGHT = 0.5  # a product that says "without X" for a query "without X"


@dataclass
class RankConfig:
    min_candidates: int = 5
    depth: int = 1000
    count_cap: int = 500_000


@dataclass
class Filters:
    category: str | None = None
    brand: str | None = None
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    attributes: list[tuple[str, str]] = field(default_factory=list)
    store: str | None = None  # available at this location
    seller_id: int | None = None
    include_inactive: bool = False
    # products this caller may not see yet (early access before launch: the catalog answers
    # at query time, so a launch needs no re-index)
    exclude_ids: list[int] = field(default_factory=list)


@dataclass
class SearchRequest:
    q: str = ""
    lang: str | None = None
    page: int = 1
    limit: int = 20
    filters: Filters = field(default_factory=Filters)
    region: str | None = None  # shopper's region (next-day local delivery)
    near: str | None = None  # location code nearest the shopper
    explain: bool = False
    facets: bool = True
    complete: bool = False  # autocomplete: the last word may be unfinished ("lam" -> lamp)
    retrieval: str | None = None  # "lexical" | "semantic" | "hybrid"; None: hybrid when the model is installed


@dataclass(frozen=True)
class Pin:
    product_id: int
    position: int | None = None  # 1-based; None with hidden=True
    hidden: bool = False


class Candidate:
    """One materialised candidate (a plain slotted class: a query makes up to 1,000)."""

    __slots__ = ("product_id", "address", "stage2", "exact_code", "pinned", "probability", "boosts", "final",
                 "lexical", "semantic", "rrf", "linear", "via_semantic")

    def __init__(self, product_id: int, address: Any, stage2: float) -> None:
        self.product_id = product_id
        self.address = address
        self.stage2 = stage2  # the stage 2 score: BM25, the cosine, or their fusion (by retrieval mode)
        self.lexical = stage2  # BM25
        self.semantic = 0.0  # cosine similarity to the query
        self.rrf = 0.0
        self.linear = 0.0
        self.via_semantic = False  # a candidate only the semantic stage found
        self.exact_code = False
        self.pinned: int | None = None
        self.probability = 0.0
        self.boosts: list[AppliedBoost] = []
        self.final = 0.0

    def __repr__(self) -> str:
        return f"Candidate({self.product_id}, stage2={self.stage2:.3f}, final={self.final:.4f})"


@dataclass
class SearchOutcome:
    total: int
    mode: str  # "and" | "or" | "browse" | "none"
    lang: str
    query_key: str
    page_items: list[dict[str, Any]]
    facets: dict[str, Any]
    timings_ms: dict[str, float]
    model: str
    page_features: dict[int, list[float]] = field(default_factory=dict)  # feature rows of the page
    suggestions: list[str] = field(default_factory=list)  # on a page that found nothing: what to try
    retrieval: str = "lexical"  # what stage 1-2 ran: lexical, semantic or hybrid
    query_vector_cached: bool | None = None  # the query's vector came from the cache (None: not embedded)
    semantic_overlapped: bool | None = None  # the semantic lookup ran beside the lexical stage
    _candidates: list[Candidate] = field(default_factory=list, repr=False)
    _order: list[int] = field(default_factory=list, repr=False)
    _probabilities: Any = field(default=None, repr=False)
    _final: Any = field(default=None, repr=False)

    @property
    def ranked(self) -> list[Candidate]:
        """Every ranked candidate (up to the depth) in display order, with its scores
        (evaluation tooling; the API only materialises the page)."""
        out = []
        for i in self._order:
            c = self._candidates[i]
            c.probability, c.final = float(self._probabilities[i]), float(self._final[i])
            out.append(c)
        return out


def _key(tokens: Sequence[QueryToken]) -> str:
    return " ".join((NEGATED if t.negated else "") + t.text for t in tokens)[:500]


def query_key(q: str, lang: str) -> str:
    """The normalised form pins are stored under: analysed tokens joined by spaces."""
    return _key(analyze_query(q, lang))


class Engine:
    def __init__(self, index: SearchIndex, ranker: Ranker | None = None, config: RankConfig | None = None,
                 *, default_lang: str = "en", vectors: VectorStore | None = None, fusion: Fusion | None = None,
                 overlap: bool | str | None = None) -> None:
        self.index = index
        # the semantic lookup beside the lexical stage (semantic_query.py): True, False or
        # "auto" (while the machine has an idle core); None: the setting
        self.overlap = get_search_settings().semantic_overlap if overlap is None else overlap
        self.ranker = ranker or Ranker()
        self.config = config or RankConfig()
        self.default_lang = default_lang
        self.vectors = vectors
        self.fusion = fusion or Fusion()

    def semantic_ready(self) -> bool:
        return self.vectors is not None and len(self.vectors) > 0 and embedder() is not None

    # -- query construction ------------------------------------------------------------------
    def _term(self, field_name: str, text: str) -> tantivy.Query:
        return tantivy.Query.term_query(self.index.schema, field_name, text)

    def _token_clause(self, searcher: tantivy.Searcher, tok: QueryToken, fields: Sequence[str],
                      prefix: bool = False) -> tantivy.Query:
        clauses = [(tantivy.Occur.Should, tantivy.Query.boost_query(self._term(f, tok.text), FIELD_WEIGHTS[f]))
                   for f in fields]
        weight = max(FIELD_WEIGHTS[f] for f in fields)
        edits = tok.max_edits
        # Typo tolerance runs on the surface word the shopper typed, never on its stem, and
        # only when neither the stem nor the typed word is in the catalog.
        if edits and tok.surface and not any(searcher.doc_freq(f, tok.text) for f in fields) \
                and not searcher.doc_freq("surface", tok.surface):
            fuzzy = tantivy.Query.fuzzy_term_query(self.index.schema, "surface", tok.surface, edits, True)
            clauses.append((tantivy.Occur.Should, tantivy.Query.boost_query(fuzzy, weight * FUZZY_WEIGHT)))
        if prefix and tok.surface and not tok.exact_only:
            started = tantivy.Query.fuzzy_term_query(self.index.schema, "surface", tok.surface, 0, True, True)
            clauses.append((tantivy.Occur.Should, tantivy.Query.boost_query(started, weight * PREFIX_WEIGHT)))
        return tantivy.Query.boolean_query(clauses)

    def _group_clause(self, searcher: tantivy.Searcher, group: list[tuple[QueryToken, ...]],
                      fields: Sequence[str] = CANDIDATE_FIELDS, prefix: bool = False) -> tantivy.Query:
        alternatives = []
        for alt in group:
            parts = [self._token_clause(searcher, t, fields, prefix and k == len(alt) - 1) for k, t in enumerate(alt)]
            q = parts[0] if len(parts) == 1 else tantivy.Query.boolean_query([(tantivy.Occur.Must, p) for p in parts])
            alternatives.append((tantivy.Occur.Should, q))
        out = alternatives[0][1] if len(alternatives) == 1 else tantivy.Query.boolean_query(alternatives)
        first = group[0]
        if len(first) == 1 and first[0].colour:
            out = tantivy.Query.boost_query(out, COLOUR_WEIGHT)
        return out

    def _negated_clauses(self, negated: Sequence[QueryToken]) -> list[tuple[Any, tantivy.Query]]:
        """"without X": products that mention X (outside a "without X" of their own) are
        excluded; those that say "without X" rank higher."""
        out: list[tuple[Any, tantivy.Query]] = []
        for tok in negated:
            for f in ("name", "category", "attrs"):
                out.append((tantivy.Occur.MustNot, self._term(f, tok.text)))
            for f in CANDIDATE_FIELDS:
                out.append((tantivy.Occur.Should, tantivy.Query.boost_query(
                    self._term(f, NEGATED + tok.text), FIELD_WEIGHTS[f] * NEGATED_WEIGHT)))
        return out

    def _filter_clauses(self, f: Filters) -> list[tuple[Any, tantivy.Query]]:
        must: list[tantivy.Query] = []
        if not f.include_inactive:
            must.append(self._term("status", "active"))
        if f.category:
            must.append(tantivy.Query.boolean_query([
                (tantivy.Occur.Should, self._term("category_f", f.category)),
                (tantivy.Occur.Should, self._term("category_path_f", f.category.casefold()))]))
        if f.brand:
            must.append(self._term("brand_f", f.brand))
        for code, value in f.attributes:
            must.append(self._term("attr_f", f"{code}={value}"))
        if f.store:
            must.append(self._term("store_f", f.store))
        if f.seller_id is not None:
            must.append(tantivy.Query.term_query(self.index.schema, "seller_id", int(f.seller_id)))
        if f.price_min is not None or f.price_max is not None:
            lo = float(f.price_min) if f.price_min is not None else 0.0
            hi = float(f.price_max) if f.price_max is not None else 1e18
            must.append(tantivy.Query.range_query(self.index.schema, "price", tantivy.FieldType.Float, lo, hi))
        out = [(tantivy.Occur.Must, tantivy.Query.const_score_query(q, 0.0)) for q in must]
        if f.exclude_ids:
            out.append((tantivy.Occur.MustNot,
                        id_query(self.index.schema, list(f.exclude_ids))))
        return out

    def build_query(self, searcher: tantivy.Searcher, groups: list[list[tuple[QueryToken, ...]]], mode: str,
                    filters: Filters, negated: Sequence[QueryToken] = (), prefix: bool = False) -> tantivy.Query:
        clauses: list[tuple[Any, tantivy.Query]] = self._filter_clauses(filters) + self._negated_clauses(negated)
        if not groups:
            clauses.append((tantivy.Occur.Must, tantivy.Query.const_score_query(tantivy.Query.all_query(), 0.0)))
            return tantivy.Query.boolean_query(clauses)
        group_queries = [self._group_clause(searcher, g, prefix=prefix and k == len(groups) - 1)
                         for k, g in enumerate(groups)]
        if mode == "and":
            clauses += [(tantivy.Occur.Must, q) for q in group_queries]
        else:
            clauses.append((tantivy.Occur.Must, tantivy.Query.boolean_query(
                [(tantivy.Occur.Should, q) for q in group_queries])))
        for g in groups:
            for alt in g:
                for t in alt:
                    clauses.append((tantivy.Occur.Should, tantivy.Query.boost_query(
                        self._term("description", t.text), DESCRIPTION_WEIGHT)))
        return tantivy.Query.boolean_query(clauses)

    # -- the pipeline --------------------------------------------------------------------------
    def search(self, req: SearchRequest, *, synonyms: SynonymTable | None = None, rules: BoostRules | None = None,
               pins: Sequence[Pin] = ()) -> SearchOutcome:
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        query_vector_cached: bool | None = None
        overlapped: bool | None = None
        synonyms = synonyms or SynonymTable()
        rules = rules or BoostRules()
        lang = req.lang or guess_language(req.q, self.default_lang)
        all_tokens = analyze_query(req.q, lang) if req.q.strip() else []
        key = _key(all_tokens)
        negated = [t for t in all_tokens if t.negated]
        tokens = [t for t in all_tokens if not t.negated]
        groups = synonyms.groups(lang, tokens)
        for group, alt in zip(groups, cyrillic_alternatives(req.q, lang, tokens)):
            if alt is not None and len(group[0]) == 1 and group[0][0].text != alt.text:
                group.append((alt,))
        searcher = self.index.searcher()
        semantic_ok = self.semantic_ready()
        semantic_ok = semantic_ok and lang in SEMANTIC_LANGUAGES
        retrieval = req.retrieval or ("hybrid" if semantic_ok else "lexical")
        if retrieval != "lexical" and not semantic_ok:
            retrieval = "lexical"
        pending = None  # the semantic lookup, running beside the lexical stage
        if semantic_ok and groups and self.vectors is not None:
            self.vectors.refresh()
            model = embedder()
            assert model is not None
            # lexical retrieval embeds the query too (the cosine is a stage 3 feature) but
            # adds no product by meaning: no ANN search
            pending = semantic_query.start(model, self.vectors, meaning_text(req.q, lang) if negated else req.q,
                                           SEMANTIC_CANDIDATES if retrieval != "lexical" else 0,
                                           overlap=self.overlap)
        timings["analysis"] = _ms(t0)

        # Stages 1-2: candidates and BM25, AND first then OR below the minimum
        t1 = time.perf_counter()
        mode = "and" if groups else "browse"
        query = self.build_query(searcher, groups, mode, req.filters, negated, req.complete)
        if retrieval == "semantic" and pending is not None:
            hits, count = [], 0
        else:
            result = searcher.search(query, self.config.depth, count=True)
            count = result.count or 0
            if mode == "and" and count < self.config.min_candidates and len(groups) > 1:
                mode = "or"
                query = self.build_query(searcher, groups, mode, req.filters, negated, req.complete)
                result = searcher.search(query, self.config.depth, count=True)
                count = result.count or 0
            hits = result.hits
        addresses = [h[1] for h in hits]
        pids = searcher.fast_field_values("product_id", addresses) if addresses else []
        candidates = [Candidate(pid, addr, score) for (score, addr), pid in zip(hits, pids)]
        by_id = {c.product_id: c for c in candidates}
        extra = 0
        timings["lexical"] = _ms(t1)

        # Stage 3's facts (signals, per-candidate questions) of the lexical candidates, while
        # an overlapped semantic lookup still runs; later candidates get theirs as they join.
        t_facts = time.perf_counter()
        questions = self._questions(searcher, groups, mode, req, rules, negated)
        facts = self._facts(searcher, candidates, questions)
        timings["facts"] = _ms(t_facts)

        # The semantic stage adds the nearest products by meaning (under the same filters
        # and exclusions), whatever their words; in hybrid only those close enough in meaning
        # (Fusion.min_similarity), ranked after the products that match every word.
        semantic: semantic_query.SemanticLookup | None = None
        if pending is not None:
            t_wait = time.perf_counter()
            semantic = pending.result()
            timings["semantic_wait"] = _ms(t_wait)  # what the overlap did not hide
            timings["embed"], timings["ann"] = semantic.embed_ms, semantic.ann_ms
            query_vector_cached = semantic.cached
            overlapped = semantic.overlapped
        if semantic is not None and retrieval in ("semantic", "hybrid") and self.vectors is not None:
            t_join = time.perf_counter()
            near_ids = semantic.ids
            if retrieval == "hybrid":
                near_ids = near_ids[semantic.sims >= self.fusion.min_similarity]
            wanted = [p for p in near_ids.tolist() if p not in by_id]
            if wanted:
                sem_q = tantivy.Query.boolean_query(
                    [(tantivy.Occur.Must, id_query(self.index.schema, wanted))]
                    + self._filter_clauses(req.filters) + self._negated_clauses(negated))
                addresses, joined_ids, joined_facts = find_with_facts(searcher, self.index.schema, sem_q, len(wanted),
                                                                      questions)
                for addr, pid in zip(addresses, joined_ids):
                    c = Candidate(pid, addr, 0.0)
                    c.via_semantic = True
                    by_id[pid] = c
                    candidates.append(c)
                extra += len(joined_ids)
                facts = facts + joined_facts
            timings["semantic_candidates"] = _ms(t_join)
        if semantic is not None and candidates and self.vectors is not None:
            t_fuse = time.perf_counter()
            semantic_query.fuse_into(candidates, semantic.vector, self.vectors, self.fusion, mode, retrieval)
            timings["fusion"] = _ms(t_fuse)

        # An exact SKU/EAN query: that product first, whatever its text score.
        code = normalise_code(req.q)
        code_ids: list[int] = []
        if code and any(ch.isdigit() for ch in code):
            code_q = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, self._term("codes", code))] + self._filter_clauses(req.filters))
            code_hits = searcher.search(code_q, 10, count=False).hits
            joined = []
            for addr, pid in zip([h[1] for h in code_hits],
                                 searcher.fast_field_values("product_id", [h[1] for h in code_hits]) if code_hits else []):
                pid = int(pid)
                if pid not in by_id:
                    by_id[pid] = Candidate(pid, addr, 0.0)
                    joined.append(by_id[pid])
                by_id[pid].exact_code = True
                code_ids.append(pid)
            if joined:
                candidates += joined
                extra += len(joined)
                facts = facts + self._facts(searcher, joined, questions)

        # Pinned products join even when their text does not match (merchandising decision).
        hidden = {p.product_id for p in pins if p.hidden}
        pinned = {p.product_id: p.position for p in pins if not p.hidden and p.position}
        missing = [pid for pid in pinned if pid not in by_id]
        if missing:
            pin_q = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, id_query(self.index.schema, missing))]
                + self._filter_clauses(req.filters))
            pin_hits = searcher.search(pin_q, len(missing), count=False).hits
            joined = []
            for addr, pid in zip([h[1] for h in pin_hits],
                                 searcher.fast_field_values("product_id", [h[1] for h in pin_hits]) if pin_hits else []):
                by_id[int(pid)] = Candidate(int(pid), addr, 0.0)
                joined.append(by_id[int(pid)])
            if joined:
                candidates += joined
                extra += len(joined)
                facts = facts + self._facts(searcher, joined, questions)
        for pid, pos in pinned.items():
            if pid in by_id:
                by_id[pid].pinned = pos
        timings["stages_1_2"] = _ms(t1)  # lexical, semantic, fusion, exact codes and pins

        # Stage 3
        t3 = time.perf_counter()
        n = len(candidates)
        matrix, columns = feature_columns(candidates, facts, groups, mode)
        probabilities = self.ranker.probabilities(matrix) if n else np.zeros(0)
        timings["stage3"] = _ms(t3)

        # Stage 4: boosts, then the display order (exact codes, pins, hides)
        t4 = time.perf_counter()
        pids = [c.product_id for c in candidates]
        boost_columns = {
            "express": columns["express"], "next_day_local": columns["_next_day_local"],
            "nearest_warehouse": columns["_nearest"], "seller_premium": columns["seller_premium"],
            "price_ratio": columns["price_ratio"], "seller_violations": columns["seller_violations"],
            "rating_avg": columns["rating_avg"], "rating_count": columns["rating_count"],
            "seller_rating": columns["seller_rating"], "seller_id": columns["seller_id"]}
        multiplier, applied = rules.vector(boost_columns, pids) if n else (np.zeros(0), [])
        final = probabilities * multiplier
        # "pads without wings": among products of the same word match, the ones whose own text
        # says "without wings" come first, after stage 3 and the boosts, so that a popular
        # plain "pads" (which may have wings) never outranks what the shopper asked for. The
        # BM25 favour of the negated clauses alone is undone by the learned stage's popularity.
        says = columns["_says_without"]
        if retrieval == "hybrid" and n and bool(columns["_semantic_only"].any()):
            # products with every query word first; then the partial and meaning-only
            # matches, by the fused stage 2 score inside the learned probability
            order = np.lexsort((np.asarray(pids), -columns["text_score"], -final, -says, -columns["text_all_words"]))
        elif mode == "or" and n:
            # Full matches first: a product with every query word is never outranked by one
            # with fewer because of its popularity; the learned score orders within a tier.
            # Lexical retrieval also tiers partial matches by coverage (a noun above a colour);
            # with the semantic stage, meaning orders the partial matches.
            tier = columns["_coverage"] if retrieval == "lexical" else columns["text_all_words"]
            order = np.lexsort((np.asarray(pids), -columns["text_score"], -final, -says, -tier))
        else:
            order = np.lexsort((np.asarray(pids), -columns["text_score"], -final, -says)) if n \
                else np.zeros(0, dtype=int)
        ranked_idx = [int(i) for i in order if pids[i] not in hidden]
        ranked_idx = _apply_display_rules(ranked_idx, pids, code_ids, pinned)[: self.config.depth]
        timings["stage4"] = _ms(t4)

        t5 = time.perf_counter()
        hidden_matched = sum(1 for pid in hidden if pid in by_id)
        total = max(min(count, self.config.count_cap) + extra - hidden_matched, len(ranked_idx))
        start = (req.page - 1) * req.limit
        page_idx = ranked_idx[start:start + req.limit]
        items = []
        for n_on_page, i in enumerate(page_idx):
            c = candidates[i]
            c.probability, c.final = float(probabilities[i]), float(final[i])
            c.boosts = [boost for boost, mask in applied if mask[i]]
            items.append(self._item(searcher, c, lang, start + n_on_page + 1, req.explain, matrix, i))
        page_features = {candidates[i].product_id: [float(v) for v in matrix[i]] for i in page_idx}
        timings["display"] = _ms(t5)
        facets: dict[str, Any] = {}
        if req.facets:
            t6 = time.perf_counter()
            facets = self.facets(searcher, self._facet_query(query, candidates, retrieval, req.filters, negated))
            timings["facets"] = _ms(t6)
        timings["total"] = _ms(t0)
        if not count and not extra:
            mode = "none" if groups else mode
        return SearchOutcome(total=total, mode=mode, lang=lang, query_key=key, page_items=items, facets=facets,
                             timings_ms=timings, model=self.ranker.name, page_features=page_features,
                             retrieval=retrieval, query_vector_cached=query_vector_cached,
                             semantic_overlapped=overlapped,
                             _candidates=candidates, _order=ranked_idx, _probabilities=probabilities, _final=final)

    def _questions(self, searcher: tantivy.Searcher, groups: list[list[tuple[QueryToken, ...]]], mode: str,
                   req: SearchRequest, rules: BoostRules, negated: Sequence[QueryToken] = ()) -> dict[str, tantivy.Query]:
        """Stage 3's per-candidate text and delivery questions (every word in the name, each
        query word, a store, "says without X"): all asked in one search over the candidates
        (see `candidates.candidate_matches`), not one search each."""
        questions: dict[str, tantivy.Query] = {}
        if groups:
            questions["name_all"] = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, self._group_clause(searcher, g, ("name",))) for g in groups])
            if mode != "and":
                for k, g in enumerate(groups):
                    questions[f"word_{k}"] = self._group_clause(
                        searcher, g, prefix=req.complete and k == len(groups) - 1)
        if req.near:
            questions["near"] = self._term("store_f", req.near)
        local_locations = rules.next_day_locations(req.region)
        if local_locations:
            questions["local"] = tantivy.Query.term_set_query(self.index.schema, "store_f", local_locations)
        if negated:
            questions["says_without"] = tantivy.Query.boolean_query(
                [(tantivy.Occur.Should, self._term(f, NEGATED + t.text)) for t in negated for f in CANDIDATE_FIELDS])
        return questions

    def _facts(self, searcher: tantivy.Searcher, candidates: Sequence[Candidate],
               questions: dict[str, tantivy.Query]) -> Facts:
        return gather_facts(searcher, self.index.schema, [c.address for c in candidates],
                            [c.product_id for c in candidates], questions)

    def _item(self, searcher: tantivy.Searcher, c: Candidate, lang: str, position: int, explain: bool,
              matrix: np.ndarray, idx: int) -> dict[str, Any]:
        display = json.loads(searcher.doc(c.address).get_first("display") or "{}")
        names = display.get("names") or {}
        name = names.get(lang) or next(iter(names.values()), "")
        price = None
        if display.get("price") is not None:
            price = {"amount": display["price"], "currency": display["currency"]}
        item: dict[str, Any] = {
            "product_id": c.product_id, "sku": display.get("sku"), "name": name, "score": c.final,
            "position": position, "price": price, "category": display.get("category"), "brand": display.get("brand"),
            "seller_id": display.get("seller_id"),
        }
        if explain:
            groups = group_scores(matrix[idx:idx + 1])
            parts = [c.probability] + [b.factor for b in c.boosts]
            item["explain"] = {
                "stage2_score": c.stage2,
                "lexical_score": c.lexical,
                "semantic_score": c.semantic,
                "rrf_score": c.rrf,
                "linear_score": c.linear,
                "fusion": f"{self.fusion.method} (alpha {self.fusion.alpha})" if self.fusion.method == "linear"
                else f"rrf (k {self.fusion.rrf_k:g})",
                "found_by": "semantic" if c.via_semantic else "lexical",
                "probability": c.probability,
                "model": self.ranker.name,
                "features": {name: float(matrix[idx, j]) for j, name in enumerate(FEATURE_NAMES)},
                "group_scores": {g: float(v[0]) for g, v in groups.items()},
                "boosts": [b.as_dict() for b in c.boosts],
                "final_score": c.final,
                "product_of_parts": math.prod(parts),
                "exact_code_match": c.exact_code,
                "pinned_position": c.pinned,
            }
        return item

    def facets(self, searcher: tantivy.Searcher, query: tantivy.Query) -> dict[str, Any]:
        return facet_counts(searcher, query)

    def _facet_query(self, query: tantivy.Query, candidates: Sequence[Candidate], retrieval: str,
                     filters: Filters, negated: Sequence[QueryToken]) -> tantivy.Query:
        """What the facets count: the lexical matches plus the products only the semantic
        stage found (they are in the results, so a shopper filtering by their brand or
        category must find them counted); in semantic mode only the latter."""
        found = [c.product_id for c in candidates if c.via_semantic]
        if not found:
            return query
        by_meaning = tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, id_query(self.index.schema, found))]
            + self._filter_clauses(filters) + self._negated_clauses(negated))
        if retrieval == "semantic":
            return by_meaning
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, query), (tantivy.Occur.Should, by_meaning)])


def _apply_display_rules(order: list[int], pids: list[int], code_ids: list[int], pinned: dict[int, int]) -> list[int]:
    """Exact SKU/EAN matches first, then pinned products at their positions, the rest in
    score order (all as candidate indices)."""
    index_of = {pids[i]: i for i in order}
    first = [index_of[pid] for pid in dict.fromkeys(code_ids) if pid in index_of]
    first_set = set(first)
    pinned_idx = {index_of[pid]: pos for pid, pos in pinned.items() if pid in index_of and index_of[pid] not in first_set}
    out = first + [i for i in order if i not in first_set and i not in pinned_idx]
    for i, pos in sorted(pinned_idx.items(), key=lambda kv: kv[1]):
        out.insert(min(max(pos - 1, len(first)), len(out)), i)
    return out


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
