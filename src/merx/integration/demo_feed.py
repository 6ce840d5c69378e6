"""The demo's marketplace order feed (`merx demo`): a `sales_lines` connector reading a
marketplace's order export, and two months of that export imported through it. Each order has
its products, the marketplace's commission (code MKTFEE, about 8% of the goods) and, on most,
carriage charged to the buyer (SHIP-<carrier>); the connector's `line_classes` keep both out of
the product figures, so the analytics pages show them in their own columns."""

from __future__ import annotations

import datetime as dt
import random
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from merx.core.auth import Principal, Role
from merx.core.db import Database, utcnow
from merx.core.uow import UnitOfWork

CODE = "marketplace-orders"
MAPPING = {
    "fields": {
        "order_ref": {"source": "OrderNo", "required": True},
        "line": {"source": "Pos", "type": "integer", "required": True},
        "sku": {"source": "Code", "required": True, "transform": ["strip", "upper"]},
        "quantity": {"source": "Qty", "type": "integer", "required": True},
        "unit_price": {"source": "UnitPrice", "type": "decimal", "required": True},
        "currency": {"source": "Currency", "required": True},
        "occurred_at": {"source": "Date", "type": "date", "required": True},
        "customer_ref": {"source": "BuyerId"},
        "country": {"source": "Country"},
    },
    "csv": {"delimiter": ";"},
    "line_classes": {"codes": {"MKTFEE": "fee"}, "patterns": [{"match": "SHIP-*", "class": "shipping"}]},
}
CARRIERS = ("SHIP-DPD", "SHIP-INPOST", "SHIP-DHL")
COUNTRIES = ("PL", "PL", "PL", "DE", "CZ")


def seed(db: Database, progress: Any, *, orders: int = 120, days: int = 60, seed: int = 2107) -> dict[str, int]:
    from merx.catalog import public as catalog
    from merx.integration.connectors import service
    from merx.integration.schemas import ConnectorCreate

    rng = random.Random(seed)
    staff = Principal(user_id=None, role=Role.staff, name="integration team")
    task = progress.add_task("marketplace order feed", total=2)
    with UnitOfWork(db, staff) as uow:
        service.create_connector(uow, ConnectorCreate(code=CODE, name="Marketplace orders (daily export)",
                                                      target="sales_lines", format="csv", mapping=MAPPING))
    with UnitOfWork(db, staff, readonly=True) as uow:
        goods = [(d.variants[0]["sku"], d.variants[0]["prices"]["EUR"]) for d in catalog.iter_product_documents(uow)
                 if d.status == "active" and d.variants and "EUR" in d.variants[0]["prices"]]
    progress.advance(task)
    goods = rng.sample(goods, min(len(goods), 150))
    today = utcnow().date()
    rows = ["OrderNo;Pos;Code;Qty;UnitPrice;Currency;Date;BuyerId;Country"]
    for n in range(orders):
        day = today - dt.timedelta(days=rng.randrange(1, days))
        ref, buyer, country = f"ALX-{day:%y%m%d}-{n:04d}", f"buyer-{rng.randrange(1, 90)}", rng.choice(COUNTRIES)
        pos, goods_value = 0, Decimal(0)
        for sku, price in rng.sample(goods, rng.choice((1, 1, 1, 2, 3))):
            pos, qty = pos + 1, rng.choice((1, 1, 1, 2))
            goods_value += qty * Decimal(price)
            rows.append(f"{ref};{pos};{sku};{qty};{price};EUR;{day};{buyer};{country}")
        fee = (goods_value * Decimal("0.08")).quantize(Decimal("0.01"), ROUND_HALF_UP)
        rows.append(f"{ref};{pos + 1};MKTFEE;1;-{fee};EUR;{day};{buyer};{country}")
        if rng.random() < 0.7:
            rows.append(f"{ref};{pos + 2};{rng.choice(CARRIERS)};1;{rng.choice(('4.99', '5.99', '3.49'))};EUR;"
                        f"{day};{buyer};{country}")
    job = service.run_import(db, CODE, ("\n".join(rows) + "\n").encode(), filename="marketplace-orders.csv",
                             actor=staff)
    progress.advance(task)
    return {"marketplace order lines": job.rows_created}
