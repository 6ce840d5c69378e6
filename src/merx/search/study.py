"""Lexical, semantic and hybrid retrieval side by side on judged query sets (issue 22, item 4):
`merx search study`.

The catalog and its ground truth are the simulation's (`simulate.py`: products with a type,
colour, material, brand and hidden quality; a shopper never buys another type of product).
Three query sets are judged by that ground truth:
- simulated: the simulation's own queries, worded like the titles ("red oak chair");
- paraphrase: the same needs worded unlike any title: another noun for the type ("couch"
  for sofa, "carpet" for rug), colour and material words the titles never use ("dark blue"
  for navy, "wooden" for oak/walnut/pine, "wicker" for rattan), a few with a phrase
  ("something to sit on" for a chair);
- negation: "<type> without <material>", a product of that material being irrelevant.
The paraphrase and negation sets are written here, by this project, from the catalog's
vocabulary; no shopper typed them. Their judgments follow from each query's intent (type,
acceptable colours and materials, excluded material) and the simulation's buy
probability, so they are as trustworthy as the simulation and no more.

Each set is split: a part tunes the fusion (RRF vs a linear mix and its alpha; the learned
stage trains on the simulated training queries as in `simulate.py`), the other part is
reported. Hybrid vs lexical differences come with a paired bootstrap interval."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from merx.search.evaluate import Difference, Metrics, evaluate_rankings, paired_bootstrap
from merx.search.model import Ranker, TrainedModel, train_model
from merx.search.ranking import Engine, RankConfig, SearchRequest
from merx.search.semantic import Fusion, embed_records, embedder
from merx.search.vectors import VectorStore
from merx.search.simulate import COLOURS, MATERIALS, SimCatalog, SimProduct, SimQuery, build_index, generate_catalog
from merx.search.documents import build_record

# Other words for each type (none of them appears in a title)
TYPE_PARAPHRASES: dict[str, list[str]] = {
    "chair": ["seat", "something to sit on at a desk"], "table": ["dining surface", "family dining surface"],
    "sofa": ["couch", "settee", "loveseat"], "lamp": ["reading light", "light for the bedside"],
    "rug": ["carpet", "floor covering"], "bed": ["mattress frame", "double bedstead"],
    "desk": ["writing table", "workstation for a home office"], "shelf": ["wall ledge", "floating ledge"],
    "mirror": ["looking glass", "vanity glass"], "cabinet": ["cupboard", "storage cupboard"],
    "stool": ["bar seat", "counter seat"], "bench": ["long seat for the hallway", "entryway seat"],
    "dresser": ["chest of drawers", "drawer chest"], "wardrobe": ["closet", "armoire"],
    "ottoman": ["footstool", "pouf"], "curtain": ["drapes", "window drape"], "pillow": ["cushion", "throw cushion"],
    "blanket": ["throw", "bedspread"], "vase": ["flower holder", "vessel for flowers"],
    "clock": ["timepiece", "wall timepiece"], "planter": ["flower pot", "plant pot"],
    "basket": ["hamper", "storage bin"], "headboard": ["bed backboard", "bed head panel"],
    "nightstand": ["bedside table", "night table"], "bookcase": ["bookshelf", "book shelving"],
    "sideboard": ["buffet cabinet", "credenza"], "armchair": ["easy chair", "accent chair"],
    "futon": ["sofa bed", "sleeper couch"], "hammock": ["hanging bed", "swing bed for the garden"],
    "chandelier": ["ceiling light", "pendant light fixture"],
}
COLOUR_PARAPHRASES: dict[str, list[str]] = {
    "black": ["jet", "ebony"], "white": ["ivory", "snow"], "grey": ["charcoal", "slate"], "beige": ["cream", "sand"],
    "navy": ["dark blue", "midnight blue"], "green": ["olive", "emerald"], "red": ["crimson", "scarlet"],
    "yellow": ["mustard", "lemon"], "brown": ["chocolate", "espresso"], "pink": ["blush", "rose"],
    "teal": ["turquoise", "aqua"], "orange": ["tangerine", "rust"],
}
MATERIAL_PARAPHRASES: dict[str, tuple[str, ...]] = {
    "wooden": ("oak", "walnut", "pine"), "solid wood": ("oak", "walnut", "pine"), "steel": ("metal",),
    "iron": ("metal",), "wicker": ("rattan",), "stone": ("marble",), "cane": ("rattan", "bamboo"),
    "plush": ("velvet",), "hide": ("leather",),
}


@dataclass
class StudyQuery(SimQuery):
    colours: tuple[str, ...] = ()  # any of these colours is the wanted one
    materials: tuple[str, ...] = ()
    not_material: str | None = None
    kind: str = "simulated"


def as_study(q: SimQuery) -> StudyQuery:
    return StudyQuery(q.text, q.type, q.colour, q.material, colours=(q.colour,) if q.colour else (),
                      materials=(q.material,) if q.material else ())


def match_level(q: StudyQuery, p: SimProduct) -> int:
    """0: another type, or the excluded material; 1: the right type, another colour or
    material; 2: all."""
    if p.type != q.type or (q.not_material and p.material == q.not_material):
        return 0
    if (q.colours and p.colour not in q.colours) or (q.materials and p.material not in q.materials):
        return 1
    return 2


def grade(q: StudyQuery, p: SimProduct) -> float:
    """The simulation's bands of the buy probability (simulate.grade), with this intent."""
    level = match_level(q, p)
    if level == 0:
        return 0.0
    b = 1.0 / (1.0 + math.exp(-(-5.0 + 2.2 * level + 1.0 * p.quality)))
    return 3.0 if b >= 0.5 else 2.0 if b >= 0.25 else 1.0 if b >= 0.08 else 0.0


def paraphrase_queries(seed: int = 17, n: int = 180) -> list[StudyQuery]:
    rng = random.Random(seed)
    out: dict[str, StudyQuery] = {}
    types = sorted(TYPE_PARAPHRASES)
    attempts = 0
    while len(out) < n and attempts < n * 50:
        attempts += 1
        t = rng.choice(types)
        noun = rng.choice(TYPE_PARAPHRASES[t])
        shape = rng.random()
        if shape < 0.35:
            q = StudyQuery(noun, t, kind="paraphrase")
        elif shape < 0.7:
            c = rng.choice(sorted(COLOUR_PARAPHRASES))
            q = StudyQuery(f"{rng.choice(COLOUR_PARAPHRASES[c])} {noun}", t, colours=(c,), kind="paraphrase")
        else:
            word = rng.choice(sorted(MATERIAL_PARAPHRASES))
            q = StudyQuery(f"{word} {noun}", t, materials=MATERIAL_PARAPHRASES[word], kind="paraphrase")
        out.setdefault(q.text, q)
    return list(out.values())


def negation_queries(seed: int = 19, n: int = 60) -> list[StudyQuery]:
    rng = random.Random(seed)
    out: dict[str, StudyQuery] = {}
    types = sorted(TYPE_PARAPHRASES)
    while len(out) < n:
        t, mat = rng.choice(types), rng.choice(MATERIALS)
        word = rng.choice(["without", "no"])
        q = StudyQuery(f"{t} {word} {mat}", t, not_material=mat, kind="negation")
        out.setdefault(q.text, q)
    return list(out.values())


def judgments(catalog: SimCatalog, queries: list[StudyQuery]) -> dict[str, dict[int, float]]:
    return {q.text: {p.product_id: g for p in catalog.products if (g := grade(q, p)) > 0} for q in queries}


MODES = ("lexical", "semantic", "hybrid")


def rank(engine: Engine, queries: list[StudyQuery], retrieval: str) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    stage2: dict[str, list[int]] = {}
    full: dict[str, list[int]] = {}
    for q in queries:
        out = engine.search(SearchRequest(q=q.text, lang="en", limit=10, facets=False, retrieval=retrieval))
        full[q.text] = [c.product_id for c in out.ranked]
        stage2[q.text] = [c.product_id for c in sorted(out.ranked, key=lambda c: (-c.stage2, c.product_id))]
    return stage2, full


@dataclass
class StudyReport:
    products: int
    semantic: str  # the model, or why there is none
    fusion: str
    fusion_tuning: dict[str, float]  # candidate -> NDCG@10 on the tuning queries
    # set -> ranking ("stage2", "fallback", "learned") -> mode -> metrics
    results: dict[str, dict[str, dict[str, Metrics]]] = field(default_factory=dict)
    # set -> ranking -> hybrid minus lexical NDCG@10
    differences: dict[str, dict[str, Difference]] = field(default_factory=dict)
    embed_ms_per_product: float = 0.0


def run_study(path: Path, *, n_products: int = 3000, n_queries: int = 240, seed: int = 11,
              n_paraphrases: int = 180, n_negations: int = 60,
              on_progress: Callable[[str], None] | None = None) -> StudyReport:
    say = on_progress or (lambda _msg: None)
    catalog = generate_catalog(n_products, n_queries, seed)
    say("indexing the catalog")
    index = build_index(catalog, path)
    model = embedder()
    vectors = VectorStore(None)
    embed_ms = 0.0
    if model is not None:
        import time

        from merx.search.simulate import _doc

        say("embedding the catalog")
        records = [build_record(_doc(p), p.signals) for p in catalog.products]
        started = time.perf_counter()
        vectors.upsert(embed_records(records, model, vectors), save=False)
        embed_ms = (time.perf_counter() - started) * 1000 / max(len(records), 1)
    engine = Engine(index, Ranker(), RankConfig(min_candidates=5), vectors=vectors)
    modes = MODES if model is not None else ("lexical",)

    rng = random.Random(seed + 1)
    simulated = [as_study(q) for q in catalog.queries]
    rng.shuffle(simulated)
    split = int(len(simulated) * 0.6)
    sim_train, sim_test = simulated[:split], simulated[split:]
    para = paraphrase_queries(seed + 6, n_paraphrases)
    neg = negation_queries(seed + 8, n_negations)
    para_tune, para_test = para[: len(para) * 2 // 5], para[len(para) * 2 // 5:]
    neg_tune, neg_test = neg[: len(neg) * 2 // 5], neg[len(neg) * 2 // 5:]

    # Fusion: chosen on the tuning queries by the pipeline's NDCG@10 (fallback formula)
    tuning: dict[str, float] = {}
    best = Fusion()
    if model is not None:
        say("tuning the fusion")
        tune_q = sim_train[:60] + para_tune + neg_tune
        tune_j = judgments(catalog, tune_q)
        best_score = -1.0
        # the similarity cut is fixed at the shipped default (semantic.py says why not lower)
        grid = [Fusion(method, alpha) for method, alpha in (("rrf", 0.5), ("linear", 0.5), ("linear", 0.65),
                                                             ("linear", 0.8))]
        for candidate in grid:
            engine.fusion = candidate
            _, full = rank(engine, tune_q, "hybrid")
            score = evaluate_rankings(full, tune_j).ndcg10
            tuning[candidate.label] = round(score, 4)
            if score > best_score:
                best, best_score = candidate, score
        engine.fusion = best

    # The learned stage: trained on simulated shoppers of the training queries (hybrid
    # features when the model is installed), as `simulate.run_simulation` does.
    say("training the learned stage")
    from merx.search.simulate import collect_training_rows

    matrix, labels, positions = collect_training_rows(engine, catalog, [q for q in sim_train], seed=seed + 2)
    booster, meta = train_model(matrix, labels, positions, seed=seed)
    learned = TrainedModel("study", booster, meta)

    report = StudyReport(products=n_products, semantic=(model.model_id if model is not None else "not installed"),
                         fusion=best.label,
                         fusion_tuning=tuning, embed_ms_per_product=round(embed_ms, 3))
    for set_name, queries in (("simulated", sim_test), ("paraphrase", para_test), ("negation", neg_test)):
        say(f"evaluating the {set_name} queries")
        judged = judgments(catalog, queries)
        per: dict[str, dict[str, Metrics]] = {"stage2": {}, "fallback": {}, "learned": {}}
        for mode in modes:
            engine.ranker = Ranker()
            stage2, fallback = rank(engine, queries, mode)
            engine.ranker = Ranker(learned)
            _, trained = rank(engine, queries, mode)
            per["stage2"][mode] = evaluate_rankings(stage2, judged)
            per["fallback"][mode] = evaluate_rankings(fallback, judged)
            per["learned"][mode] = evaluate_rankings(trained, judged)
        engine.ranker = Ranker()
        report.results[set_name] = per
        if "hybrid" in modes:
            report.differences[set_name] = {
                ranking: paired_bootstrap(per[ranking]["lexical"].per_query_ndcg10 or {},
                                          per[ranking]["hybrid"].per_query_ndcg10 or {})
                for ranking in per}
    return report


def report_json(report: StudyReport) -> dict[str, Any]:
    return {
        "products": report.products, "semantic_model": report.semantic, "fusion": report.fusion,
        "fusion_tuning_ndcg@10": report.fusion_tuning, "embed_ms_per_product": report.embed_ms_per_product,
        "results": {s: {r: {m: x.as_dict() for m, x in modes.items()} for r, modes in per.items()}
                    for s, per in report.results.items()},
        "hybrid_minus_lexical_ndcg@10": {s: {r: d.as_dict() for r, d in per.items()}
                                         for s, per in report.differences.items()},
    }
