"""The demo's competitor prices and pricing rules (`merx demo`): three competitors (one
Polish shop whose prices are seen in PLN and converted at a stated rate), prices seen over
the last three weeks for the home and electronics ranges (around ours, some cheaper, some
dearer), a `competitive` price list, a "match the lowest within a 15% margin floor, .99"
rule for home goods and a cost-plus rule for books, both run, with a few proposals approved
and one rejected, so the pricing page has a position chart, pending proposals and
decisions. Everything goes through the pricing use cases."""

from __future__ import annotations

import datetime as dt
import random
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from merx.core.auth import Principal, Role
from merx.core.db import Database, utcnow
from merx.core.errors import Problem
from merx.core.uow import UnitOfWork

COMPETITORS = [("homehub", "HomeHub Online", "https://homehub.example", "EUR"),
               ("baltic-deals", "Baltic Deals", "https://baltic-deals.example", "EUR"),
               ("tatra-outlet", "Tatra Outlet (PL)", "https://tatra-outlet.example", "PLN")]
PLN_RATE = "0.2326"  # EUR per PLN, as the pricing team noted it
WATCHED = ("lighting", "decor", "kitchen", "headphones", "books")


def seed(db: Database, progress: Any, *, seed: int = 815) -> dict[str, int]:
    from merx.catalog import public as catalog
    from merx.pricing import public as pricing

    rng = random.Random(seed)
    now = utcnow()
    manager = Principal(user_id=None, role=Role.staff, name="pricing team")
    task = progress.add_task("competitor prices", total=4)
    with UnitOfWork(db, manager) as uow:
        pricing.create_price_list(uow, pricing.PriceListCreate(code="competitive", name="Competitive prices (rules)",
                                                               currency="EUR"))
    for code, name, site, _cur in COMPETITORS:
        with UnitOfWork(db, manager) as uow:
            pricing.create_competitor(uow, pricing.CompetitorCreate(code=code, name=name, website=site))
    with UnitOfWork(db, manager) as uow:
        docs = [d for d in catalog.iter_product_documents(uow)
                if d.seller_id is None and d.status == "active" and d.category in WATCHED]
    progress.advance(task)
    rng.shuffle(docs)
    rows = []
    for doc in docs[:220]:
        v = doc.variants[0]
        ours = v["prices"].get("EUR")
        if ours is None:
            continue
        for code, _name, _site, cur in COMPETITORS:
            if rng.random() < 0.3:
                continue
            factor = Decimal(str(round(rng.gauss(1.0, 0.09), 3)))
            seen = Decimal(ours) * max(factor, Decimal("0.6"))
            if cur == "PLN":
                seen = seen / Decimal(PLN_RATE)
            when = now - dt.timedelta(days=rng.randint(0, 20), hours=rng.randint(0, 23))
            rows.append({"competitor": code, "sku": v["sku"], "currency": cur, "observed_at": when,
                         "amount": str(seen.quantize(Decimal("0.01"), ROUND_HALF_UP)),
                         "source": "price-feed" if code != "tatra-outlet" else "manual check",
                         "url": f"https://{code}.example/p/{v['sku'].lower()}"})
    with UnitOfWork(db, manager) as uow:
        report = pricing.import_competitor_prices(uow, pricing.CompetitorPriceImport(rows=rows,
                                                                                     rates={"PLN": PLN_RATE}))
    progress.advance(task)
    with UnitOfWork(db, manager) as uow:
        pricing.create_rule(uow, pricing.PricingRuleCreate(
            code="match-home", name="Match the lowest on home goods", kind="match_lowest", price_list="competitive",
            undercut=Decimal("0.01"), floor_margin_percent=Decimal("15"), rounding="0.99",
            categories=["lighting", "decor", "kitchen"]))
    with UnitOfWork(db, manager) as uow:
        pricing.create_rule(uow, pricing.PricingRuleCreate(
            code="books-plus", name="Books at cost + 70%", kind="cost_plus", price_list="competitive",
            markup_percent=Decimal("70"), floor_margin_percent=Decimal("20"), rounding="0.95", categories=["books"]))
    proposed = 0
    for code in ("match-home", "books-plus"):
        with UnitOfWork(db, manager) as uow:
            proposed += pricing.run_rule(uow, code).proposed
    progress.advance(task)
    with UnitOfWork(db, manager) as uow:
        pending, _ = pricing.proposals_page(uow, status="pending", rule="match-home", limit=10, cursor=None)
    decided = 0
    for i, p in enumerate(pending[:5]):
        try:
            with UnitOfWork(db, manager) as uow:
                if i == 4:
                    pricing.reject_proposal(uow, p.id, note="keep the price: new stock arrives next week")
                else:
                    pricing.approve_proposal(uow, p.id, note="approved in the weekly pricing review")
            decided += 1
        except Problem:
            continue
    progress.advance(task)
    return {"competitor prices": report.recorded, "price proposals": proposed, "pricing decisions": decided}
