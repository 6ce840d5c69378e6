"""A generated catalog and simulated shoppers with a known ground truth, to show with
numbers what the learned layer (stage 3) adds over text relevance alone (stage 2). The model
is described in docs/search-quality.md; in short:

- Products: a type (chair, lamp, rug ...), a colour, a material, a brand, a price, and a
  hidden quality q ~ N(0, 1). Names are built from those words, so many products share
  the same words and text relevance cannot tell them apart.
- What search can observe, as a shop would after months of traffic: views, cart adds,
  purchases, rating and its count, price against its 30-day average, stock. Each is a
  noisy function of quality (better products sell more and rate higher), plus noise and
  a popularity that has nothing to do with quality.
- Ground truth of a query (type, optional colour/material): a shopper never buys another
  type of product; otherwise buys a product looked at with probability
  b = sigmoid(-5 + 2.2 * match + q), match = 1 (wrong colour/material) or 2 (all words).
  Products are looked at with probability 1 / log2(rank + 1) (position bias). The graded
  relevance used by NDCG is b in bands: 3 (b >= 0.5), 2 (>= 0.25), 1 (>= 0.08), else 0.
- Training: shoppers search the training queries, see the top 20 (ranked by the fallback
  formula with some shuffling so every position gets traffic), and buy per the ground
  truth; the (features, bought) rows train LightGBM. Evaluation: held-out queries (query
  strings never seen in training), NDCG@10 / MRR / recall@1000 of stage 2 alone, of the
  fallback formula and of the trained model."""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from merx.search.documents import ProductSignals, build_record
from merx.search.evaluate import Metrics, evaluate_rankings
from merx.search.index import SearchIndex
from merx.search.model import Ranker, TrainedModel, train_model
from merx.search.ranking import Engine, RankConfig, SearchRequest

TYPES = ["chair", "table", "sofa", "lamp", "rug", "bed", "desk", "shelf", "mirror", "cabinet", "stool", "bench",
         "dresser", "wardrobe", "ottoman", "curtain", "pillow", "blanket", "vase", "clock", "planter", "basket",
         "headboard", "nightstand", "bookcase", "sideboard", "armchair", "futon", "hammock", "chandelier"]
COLOURS = ["black", "white", "grey", "beige", "navy", "green", "red", "yellow", "brown", "pink", "teal", "orange"]
MATERIALS = ["oak", "walnut", "pine", "metal", "glass", "velvet", "linen", "leather", "rattan", "marble", "bamboo"]
STYLES = ["modern", "rustic", "vintage", "classic", "industrial", "scandinavian", "boho", "minimal"]
BRANDS = [f"brand{i:02d}" for i in range(40)]


@dataclass
class SimProduct:
    product_id: int
    type: str
    colour: str
    material: str
    style: str
    brand: str
    price: Decimal
    quality: float
    signals: ProductSignals


@dataclass
class SimQuery:
    text: str
    type: str
    colour: str | None = None
    material: str | None = None


@dataclass
class SimCatalog:
    products: list[SimProduct]
    queries: list[SimQuery]
    by_id: dict[int, SimProduct] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {p.product_id: p for p in self.products}


def _doc(p: SimProduct) -> Any:
    from merx.catalog.public import ProductDocument

    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    name = f"{p.style.title()} {p.colour} {p.material} {p.type} by {p.brand}"
    return ProductDocument(
        product_id=p.product_id, status="active", name=name, description=f"A {p.style} {p.type} for every home.",
        category=p.type, category_path=["Home", p.type.title()], brand=p.brand, seller_id=None, default_locale="en",
        translations={}, attributes={"color": p.colour, "material": p.material},
        variants=[{"variant_id": p.product_id, "sku": f"SIM-{p.product_id:07d}", "ean": None, "options": {},
                   "prices": {"EUR": p.price}}], channels=["web"], updated_at=now, created_at=now)


def generate_catalog(n_products: int = 3000, n_queries: int = 240, seed: int = 11) -> SimCatalog:
    rng = random.Random(seed)
    products = []
    for i in range(1, n_products + 1):
        q = rng.gauss(0, 1)
        hype = rng.gauss(0, 1)  # popularity unrelated to quality (marketing, novelty)
        views = math.exp(3.0 + 0.7 * q + 0.6 * hype + rng.gauss(0, 0.5))
        carts = views * 0.08 * math.exp(0.4 * q + rng.gauss(0, 0.3))
        purchases = carts * 0.35 * math.exp(0.4 * q + rng.gauss(0, 0.3))
        rating_count = int(purchases * 0.3 + rng.random() * 3)
        rating = min(5.0, max(1.0, 3.6 + 0.6 * q + rng.gauss(0, 0.5))) if rating_count else 0.0
        ratio = max(0.6, min(1.5, 1.0 + rng.gauss(0, 0.1)))
        signals = ProductSignals(
            pop_views=views, pop_carts=carts, pop_favourites=carts * 0.2, sales_purchases=purchases,
            sales_conversion=min(1.0, purchases / views) if views else 0.0, price_ratio=ratio,
            price_discount=max(0.0, 1 - ratio), rating_avg=rating, rating_count=float(rating_count),
            in_stock=rng.random() > 0.1, express=rng.random() < 0.15)
        products.append(SimProduct(i, rng.choice(TYPES), rng.choice(COLOURS), rng.choice(MATERIALS),
                                   rng.choice(STYLES), rng.choice(BRANDS),
                                   Decimal(rng.randint(900, 99900)) / 100, q, signals))
    queries: list[SimQuery] = []
    seen: set[str] = set()
    while len(queries) < n_queries:
        t = rng.choice(TYPES)
        shape = rng.random()
        if shape < 0.3:
            q = SimQuery(t, t)
        elif shape < 0.65:
            c = rng.choice(COLOURS)
            q = SimQuery(f"{c} {t}", t, colour=c)
        elif shape < 0.9:
            mat = rng.choice(MATERIALS)
            q = SimQuery(f"{mat} {t}", t, material=mat)
        else:
            c, mat = rng.choice(COLOURS), rng.choice(MATERIALS)
            q = SimQuery(f"{c} {mat} {t}", t, colour=c, material=mat)
        if q.text not in seen:
            seen.add(q.text)
            queries.append(q)
    return SimCatalog(products, queries)


def match_level(q: SimQuery, p: SimProduct) -> int:
    """0: another type of product; 1: the right type, a wrong colour or material; 2: all."""
    if p.type != q.type:
        return 0
    if (q.colour and p.colour != q.colour) or (q.material and p.material != q.material):
        return 1
    return 2


def buy_probability(q: SimQuery, p: SimProduct) -> float:
    """The shopper's true chance of buying `p` when it is looked at: never another type of
    product; otherwise a logistic of how well it matches and of its hidden quality."""
    level = match_level(q, p)
    if level == 0:
        return 0.0
    return 1.0 / (1.0 + math.exp(-(-5.0 + 2.2 * level + 1.0 * p.quality)))


def grade(q: SimQuery, p: SimProduct) -> float:
    """Ground-truth relevance: the buy probability in four bands (so a perfect match of poor
    quality can rank below a good product of the wrong colour, as shoppers decide)."""
    b = buy_probability(q, p)
    return 3.0 if b >= 0.5 else 2.0 if b >= 0.25 else 1.0 if b >= 0.08 else 0.0


def purchase_probability(q: SimQuery, p: SimProduct, rank: int) -> float:
    """Looked at with probability 1 / log2(rank + 1) (position bias), then bought or not."""
    return buy_probability(q, p) / math.log2(rank + 1)


def build_index(catalog: SimCatalog, path: Path, on_progress: Callable[[int], None] | None = None) -> SearchIndex:
    index = SearchIndex(path)
    index.rebuild((build_record(_doc(p), p.signals) for p in catalog.products), on_progress=on_progress)
    return index


def judgments_for(catalog: SimCatalog, queries: Iterable[SimQuery]) -> dict[str, dict[int, float]]:
    out = {}
    for q in queries:
        out[q.text] = {p.product_id: g for p in catalog.products if (g := grade(q, p)) > 0}
    return out


def collect_training_rows(engine: Engine, catalog: SimCatalog, queries: list[SimQuery], *, sessions_per_query: int = 12,
                          seed: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = random.Random(seed)
    rows: list[list[float]] = []
    labels: list[int] = []
    positions: list[int] = []
    for q in queries:
        out = engine.search(SearchRequest(q=q.text, lang="en", limit=20, facets=False))
        shown = list(out.page_features.items())
        for _ in range(sessions_per_query):
            order = shown[:]
            # light shuffling: every position gets some traffic, so the data is not only
            # about what the current ranking already put on top
            for i in range(len(order) - 1):
                if rng.random() < 0.3:
                    order[i], order[i + 1] = order[i + 1], order[i]
            for rank, (pid, feats) in enumerate(order, start=1):
                p = catalog.by_id[pid]
                bought = rng.random() < purchase_probability(q, p, rank)
                rows.append(feats)
                labels.append(1 if bought else 0)
                positions.append(rank)
    return np.asarray(rows, dtype=np.float64), np.asarray(labels, dtype=np.float64), np.asarray(positions)


def rank_queries(engine: Engine, queries: list[SimQuery]) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    stage2: dict[str, list[int]] = {}
    full: dict[str, list[int]] = {}
    for q in queries:
        out = engine.search(SearchRequest(q=q.text, lang="en", limit=10, facets=False))
        full[q.text] = [c.product_id for c in out.ranked]
        stage2[q.text] = [c.product_id for c in sorted(out.ranked, key=lambda c: (-c.stage2, c.product_id))]
    return stage2, full


@dataclass
class SimulationReport:
    products: int
    train_queries: int
    test_queries: int
    training_rows: int
    positives: int
    stage2: Metrics
    fallback: Metrics
    learned: Metrics
    group_importance: dict[str, float]
    published_weights: dict[str, float]


def run_simulation(path: Path, *, n_products: int = 3000, n_queries: int = 240, seed: int = 11,
                   on_progress: Callable[[int], None] | None = None) -> tuple[SimulationReport, TrainedModel]:
    catalog = generate_catalog(n_products, n_queries, seed)
    index = build_index(catalog, path, on_progress)
    rng = random.Random(seed + 1)
    queries = catalog.queries[:]
    rng.shuffle(queries)
    split = int(len(queries) * 0.6)
    train_q, test_q = queries[:split], queries[split:]
    engine = Engine(index, Ranker(), RankConfig(min_candidates=5))
    matrix, labels, positions = collect_training_rows(engine, catalog, train_q, seed=seed + 2)
    booster, meta = train_model(matrix, labels, positions, seed=seed)
    judgments = judgments_for(catalog, test_q)
    stage2, fallback = rank_queries(engine, test_q)
    model = TrainedModel("simulation", booster, meta)
    engine.ranker = Ranker(model)
    _, learned = rank_queries(engine, test_q)
    report = SimulationReport(
        products=n_products, train_queries=len(train_q), test_queries=len(test_q), training_rows=int(matrix.shape[0]),
        positives=int(labels.sum()), stage2=evaluate_rankings(stage2, judgments),
        fallback=evaluate_rankings(fallback, judgments), learned=evaluate_rankings(learned, judgments),
        group_importance=meta["group_importance"], published_weights=meta["published_weights"])
    return report, model
