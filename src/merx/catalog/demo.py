"""The demo's product costs (`merx demo`): what each product costs the shop, as a share of its
price that depends on the category (electronics run thin, beauty and accessories fat: 35-70%),
with a little spread per product, in EUR and PLN like the prices. The costs are in force from
before the demo's year of orders, so every order line lands its cost at checkout; a fifth of
the products had a supplier price rise four months ago (the cost history has two entries),
and a few new products have no cost yet, so the margin reports name what they must assume.
The demo's history sells the marketplace sellers' products from the shop's own stock, so they
have a shop cost too. Everything goes through `import_costs`."""

from __future__ import annotations

import datetime as dt
import random
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from merx.core.db import Database, utcnow
from merx.core.uow import UnitOfWork

# cost as a share of the selling price, per category (by the leaf category's code)
COST_RATIO = {
    "phones": "0.68", "laptops": "0.70", "headphones": "0.55", "tv": "0.66",
    "kitchen": "0.52", "furniture": "0.48", "lighting": "0.45", "decor": "0.38",
    "shoes": "0.50", "menswear": "0.42", "womenswear": "0.40", "accessories": "0.36",
    "cycling": "0.60", "running": "0.50", "fitness": "0.47", "camping": "0.55",
    "beauty": "0.35", "toys": "0.52", "books": "0.62", "garden": "0.55", "pets": "0.48",
}
DEFAULT_RATIO = "0.55"
UNCOSTED_SHARE = 0.03  # new products whose cost the buyer has not entered yet
PRICE_RISE_SHARE = 0.2
CHUNK = 5000


def seed_costs(db: Database, progress: Any, *, history_days: int = 365, seed: int = 15) -> dict[str, int]:
    """Record the demo catalog's costs. Uses its own random stream (the demo's other data stay
    as they were without costs)."""
    from merx.catalog import public as catalog

    rng = random.Random(seed)
    now = utcnow()
    first = dt.datetime.combine(now.date() - dt.timedelta(days=history_days + 30), dt.time(0), dt.timezone.utc)
    rise = dt.datetime.combine(now.date() - dt.timedelta(days=120), dt.time(0), dt.timezone.utc)
    rows: list[Any] = []
    with UnitOfWork(db, readonly=True) as uow:
        docs = list(catalog.iter_product_documents(uow))
    task = progress.add_task("product costs", total=len(docs))
    uncosted = 0
    for doc in docs:
        progress.advance(task)
        if rng.random() < UNCOSTED_SHARE:
            uncosted += 1
            continue
        ratio = Decimal(COST_RATIO.get(doc.category or "", DEFAULT_RATIO)) + Decimal(rng.randint(-40, 40)) / 1000
        ratio = min(max(ratio, Decimal("0.35")), Decimal("0.70"))
        rises = rng.random() < PRICE_RISE_SHARE
        increase = 1 + Decimal(rng.randint(3, 8)) / 100
        for v in doc.variants:
            for currency, price in v["prices"].items():
                cost = (Decimal(price) * ratio).quantize(Decimal("0.01"), ROUND_HALF_UP)
                rows.append(catalog.CostRowIn(sku=v["sku"], currency=currency, amount=str(cost), effective_from=first,
                                              reference="opening standard cost"))
                if rises:
                    # the supplier's rise, capped so the cost stays within 70% of the price
                    later = min(cost * increase, Decimal(price) * Decimal("0.70")).quantize(Decimal("0.01"),
                                                                                           ROUND_HALF_UP)
                    rows.append(catalog.CostRowIn(sku=v["sku"], currency=currency, amount=str(later),
                                                  effective_from=rise, reference="supplier price list 2"))
    recorded = 0
    for start in range(0, len(rows), CHUNK):
        with UnitOfWork(db) as uow:
            report = catalog.import_costs(uow, catalog.CostImport(rows=rows[start:start + CHUNK], source="erp",
                                                                  reference="demo ERP export"))
            recorded += report.recorded
    return {"product costs": recorded, "products without a cost": uncosted}
