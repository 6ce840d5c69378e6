"""A year of business for `merx demo`, replayed day by day through the real use cases.

Every order is placed by `orders.place_order` (stock allocated, promotions and coupons
priced, events written to the outbox) with the clock set to the moment it would have
happened (`core.db.simulated_clock`), then moved on as a shop would: shipped and delivered,
made ready and collected in store, cancelled, returned and refunded. Shoppers' visits,
product views, carts and purchases are recorded as tracked events, so the five-stage
funnel has every stage, and some carts are left behind. Stock is received monthly, as a
warehouse would, so the year does not run the shelves dry.

Nothing here writes another context's tables: the contexts see exactly what a live shop
would have sent them, and their reactions (CRM facts, analytics, search) follow from the
outbox when the app starts."""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from typing import Any

from rich.progress import Progress

from merx.core.auth import SYSTEM
from merx.core.db import simulated_clock
from merx.core.errors import Problem
from merx.core.uow import UnitOfWork

# Orders per day on an average weekday, per demo size.
SIZES = {"small": 1.0, "medium": 3.0, "large": 12.0}
# Weekly shape (Mon..Sun) and a December peak: believable seasonality for the forecasts.
WEEKDAY_WEIGHT = (0.9, 0.95, 1.0, 1.0, 1.15, 1.3, 0.7)
CARRIERS = (("DPD", "https://tracking.dpd.de/status/en_US/parcel/{}"),
            ("InPost", "https://inpost.pl/sledzenie-przesylek?number={}"),
            ("DHL", "https://www.dhl.com/pl-en/home/tracking.html?tracking-id={}"))
COUPON = "WELCOME10"


@dataclass
class _Shop:
    customers: list[tuple[int, str, str | None]]  # id, email, phone
    skus: list[tuple[str, int]]  # sku, product id
    stores: list[str]
    return_stores: list[str]
    warehouses: dict[str, int]  # code -> id
    sold: dict[str, int] = field(default_factory=dict)  # units sold since the last delivery


def seed_history(db: Any, rng: random.Random, progress: Progress, *, size: str = "medium",
                 days: int = 365, today: dt.date | None = None) -> dict[str, int]:
    from merx.orders import public as orders

    today = today or dt.datetime.now(dt.timezone.utc).date()
    shop = _load_shop(db)
    if not shop.skus or not shop.customers:
        return {}
    _create_promotions(db, today - dt.timedelta(days=days))
    per_day = SIZES[size]
    counts = {"orders": 0, "delivered or collected": 0, "returns": 0, "cancelled": 0, "open": 0, "abandoned carts": 0,
              "tracked events": 0}
    task = progress.add_task("a year of orders", total=days + 1)
    popular = _popularity(rng, len(shop.skus))
    for offset in range(days, -1, -1):
        day = today - dt.timedelta(days=offset)
        if day.day == 1:
            _restock(db, rng, shop, day)
        season = 1.0 + 0.35 * math.exp(-((day.timetuple().tm_yday - 345) / 20) ** 2)  # December
        growth = 0.75 + 0.5 * (days - offset) / max(days, 1)  # a shop that grew over the year
        expected = per_day * WEEKDAY_WEIGHT[day.weekday()] * season * growth
        n = _poisson(rng, expected)
        events: list[dict[str, Any]] = []
        for _ in range(n):
            at = _moment(rng, day)
            if at > dt.datetime.now(dt.timezone.utc):
                continue
            placed = _place(db, rng, shop, popular, at)
            if placed is None:
                continue
            counts["orders"] += 1
            for line in placed["lines"]:
                shop.sold[line["sku"]] = shop.sold.get(line["sku"], 0) + line["quantity"]
            events += _journey(rng, shop, placed, at, bought=True)
            outcome = _progress_order(db, rng, orders, shop, placed, at)
            counts[outcome] = counts.get(outcome, 0) + 1
        # Visitors who looked, and some who put something in a cart and left.
        for _ in range(_poisson(rng, expected * 4)):
            at = _moment(rng, day)
            if at > dt.datetime.now(dt.timezone.utc):
                continue
            abandoned = rng.random() < 0.25
            events += _journey(rng, shop, None, at, bought=False, add_to_cart=abandoned)
            counts["abandoned carts"] += abandoned
        counts["tracked events"] += _track(db, events, day)
        progress.advance(task)
    return {k: v for k, v in counts.items() if v}


def _load_shop(db: Any) -> _Shop:
    import sqlalchemy as sa

    from merx.catalog.models import Variant  # read-only: which SKUs the demo made (as demo.py does)
    from merx.customers.models import Customer
    from merx.inventory import public as inventory

    with UnitOfWork(db, readonly=True) as uow:
        customers = [(c.id, c.email, c.phone) for c in uow.session.scalars(sa.select(Customer).order_by(Customer.id))]
        skus = [(v.sku, v.product_id) for v in uow.session.scalars(sa.select(Variant).order_by(Variant.id))]
        locations, _ = inventory.list_locations(uow, limit=500)
    stores = [loc["code"] for loc in locations if loc.get("pickup")]
    warehouses = {loc["code"]: loc["id"] for loc in locations if loc["kind"] == "warehouse"}
    return _Shop(customers=customers, skus=skus, stores=stores, warehouses=warehouses,
                 return_stores=[loc["code"] for loc in locations if loc.get("accepts_returns")])


def _create_promotions(db: Any, start: dt.date) -> None:
    from merx.pricing import service as pricing
    from merx.pricing.schemas import PromotionCreate

    begins = dt.datetime.combine(start, dt.time(0, 0), tzinfo=dt.timezone.utc)
    with simulated_clock(begins), UnitOfWork(db, actor=SYSTEM) as uow:
        pricing.create_promotion(uow, PromotionCreate(name="Welcome: 10% off the first order", kind="order_percent",
                                                      percent="10", coupon_code=COUPON))
        pricing.create_promotion(uow, PromotionCreate(name="Free shipping over 150 EUR", kind="free_shipping",
                                                      currency="EUR", min_subtotal="150.00"))


def _popularity(rng: random.Random, n: int) -> list[float]:
    """Cumulative weights with a long tail: a few products sell most (the Pareto a merchant sees)."""
    weights = [1.0 / (rank + 1) ** 0.9 for rank in range(n)]
    rng.shuffle(weights)
    total, acc, cumulative = sum(weights), 0.0, []
    for w in weights:
        acc += w / total
        cumulative.append(acc)
    return cumulative


def _pick(rng: random.Random, shop: _Shop, cumulative: list[float]) -> tuple[str, int]:
    import bisect

    return shop.skus[min(bisect.bisect_left(cumulative, rng.random()), len(shop.skus) - 1)]


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method: fine for the small daily rates here.
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _moment(rng: random.Random, day: dt.date) -> dt.datetime:
    # Shopping peaks around lunch and in the evening (local time is about UTC+1).
    hour = rng.choice((7, 9, 10, 11, 11, 12, 13, 15, 17, 18, 18, 19, 19, 20, 20, 21, 22))
    return dt.datetime.combine(day, dt.time(hour, rng.randrange(60), rng.randrange(60)), tzinfo=dt.timezone.utc)


def _place(db: Any, rng: random.Random, shop: _Shop, popular: list[float], at: dt.datetime) -> dict[str, Any] | None:
    from merx.orders import public as orders
    from merx.orders.schemas import OrderCreate

    # Most buyers are known customers (some of them many times); a few are guests.
    if rng.random() < 0.85:
        customer_id, email, phone = shop.customers[int(len(shop.customers) * rng.random() ** 1.6)]
        customer: dict[str, Any] = {"id": customer_id}
    else:
        email = f"guest.{rng.randrange(10**8)}@example.net"
        customer = {"email": email, "first_name": "Guest"}
    lines: dict[str, int] = {}
    for _ in range(1 + int(rng.random() ** 2 * 3)):
        sku, _pid = _pick(rng, shop, popular)
        lines[sku] = lines.get(sku, 0) + (1 if rng.random() < 0.85 else 2)
    roll = rng.random()
    if roll < 0.12 and shop.stores:
        channel, fulfilment = "web", {"type": "pickup", "location": rng.choice(shop.stores)}
    elif roll < 0.22:
        channel, fulfilment = "store", {"type": "pickup", "location": rng.choice(shop.stores)} if shop.stores else {"type": "ship"}
    elif roll < 0.28:
        channel, fulfilment = "b2b", {"type": "ship"}
    else:
        channel, fulfilment = "web", {"type": "ship"}
    data = {"channel": channel, "customer": customer, "lines": [{"sku": s, "quantity": q} for s, q in lines.items()],
            "fulfilment": fulfilment, "payment": {"provider": "manual"}}
    if channel == "web" and rng.random() < 0.08:
        data["coupon"] = COUPON
    with simulated_clock(at), UnitOfWork(db, actor=SYSTEM) as uow:
        try:
            return orders.place_order(uow, OrderCreate.model_validate(data))
        except Problem:
            return None  # sold out (the year's stock ran short for that item): the shopper bought nothing


def _progress_order(db: Any, rng: random.Random, orders: Any, shop: _Shop, order: dict[str, Any],
                    at: dt.datetime) -> str:
    """Moves the order on as the days since it was placed allow; returns what happened."""
    oid = order["id"]
    pickup = order["fulfilment"]["type"] == "pickup"

    def step(hours: float, fn: Any) -> bool:
        when = at + dt.timedelta(hours=hours)
        if when > dt.datetime.now(dt.timezone.utc):
            return False
        with simulated_clock(when), UnitOfWork(db, actor=SYSTEM) as uow:
            fn(uow)
        return True

    if rng.random() < 0.04:
        step(rng.uniform(1, 20), lambda uow: orders.cancel(uow, oid, reason="Customer changed their mind"))
        return "cancelled"
    if pickup:
        store = order["fulfilment"]["location"]
        if not step(rng.uniform(2, 20), lambda uow: orders.ready_for_pickup(uow, oid, read_back=False)):
            return "open"
        if not step(rng.uniform(24, 72), lambda uow: orders.picked_up(uow, oid, location=store,
                                                                      payment_collected=True, read_back=False)):
            return "open"
        done_after = 96.0
    else:
        number = f"{rng.randrange(10**11, 10**12)}"
        carrier, url = rng.choice(CARRIERS)
        if not step(rng.uniform(4, 30), lambda uow: orders.fulfil(uow, oid, carrier=carrier, tracking_number=number,
                                                                  tracking_url=url.format(number),
                                                                  read_back=False)):
            return "open"
        if not step(rng.uniform(40, 90), lambda uow: orders.simple_transition(uow, oid, "delivered", read_back=False)):
            return "open"
        done_after = 24 * 16.0
    if rng.random() < 0.06:
        return "returns" if _return(db, rng, orders, shop, order, at + dt.timedelta(days=rng.uniform(4, 12))) else "open"
    step(done_after, lambda uow: orders.simple_transition(uow, oid, "completed", read_back=False))
    return "delivered or collected"


def _return(db: Any, rng: random.Random, orders: Any, shop: _Shop, order: dict[str, Any], when: dt.datetime) -> bool:
    from merx.orders.schemas import ReturnCreate

    if when + dt.timedelta(days=3) > dt.datetime.now(dt.timezone.utc):
        return False
    line = rng.choice(order["lines"])
    reason = rng.choice(("too_small", "too_large", "no_longer_needed", "damaged", "not_as_described", "defective"))
    # Handed in at a store that takes returns: where it was collected, or any such store.
    store = order["fulfilment"].get("location")
    if store not in shop.return_stores:
        store = rng.choice(shop.return_stores) if shop.return_stores else None
    if store is None:
        return False
    data = ReturnCreate(location=store, reason=None, lines=[{
        "line": line["line"], "quantity": 1, "reason": reason, "restock": reason not in ("damaged", "defective")}])
    with simulated_clock(when), UnitOfWork(db, actor=SYSTEM) as uow:
        created = orders.create_return(uow, order["id"], data)
    with simulated_clock(when + dt.timedelta(days=2)), UnitOfWork(db, actor=SYSTEM) as uow:
        orders.receive_return(uow, created["id"], location=store)
    return True


def _restock(db: Any, rng: random.Random, shop: _Shop, day: dt.date) -> None:
    """The monthly delivery: what sold since the last one comes back in, plus a little."""
    from merx.inventory import public as inventory

    if not shop.warehouses:
        return
    codes = list(shop.warehouses)
    at = dt.datetime.combine(day, dt.time(6, 0), tzinfo=dt.timezone.utc)
    receipts = [(sku, shop.warehouses[rng.choice(codes)], quantity + rng.randint(1, 4))
                for sku, quantity in sorted(shop.sold.items())]
    with simulated_clock(at), UnitOfWork(db, actor=SYSTEM) as uow:
        inventory.receive_stock_many(uow, receipts, reason="receipt", reference=f"PO-{day:%Y%m}")
        uow.commit()
    shop.sold.clear()


def _journey(rng: random.Random, shop: _Shop, order: dict[str, Any] | None, at: dt.datetime, *, bought: bool,
             add_to_cart: bool = False) -> list[dict[str, Any]]:
    """The tracked events of one visit: landing, product views, cart, checkout, purchase."""
    anon = f"demo-{rng.randrange(16**12):012x}"
    source = rng.choice(("google", "google", "direct", "instagram", "newsletter", "facebook", "qr"))
    who: dict[str, Any] = {"anonymous_id": anon}
    if order is not None and order.get("customer_id"):
        who["customer"] = {"customer_id": order["customer_id"]}
    start = at - dt.timedelta(minutes=rng.randint(4, 40))
    out = [{**who, "type": "page_view", "timestamp": start.isoformat(), "source": source,
            "properties": {"url": "https://shop.example.com/"}}]
    viewed = [line["sku"] for line in order["lines"]] if order else [shop.skus[rng.randrange(len(shop.skus))][0]
                                                                     for _ in range(rng.randint(1, 4))]
    for i, sku in enumerate(viewed):
        out.append({**who, "type": "product_view", "timestamp": (start + dt.timedelta(minutes=i + 1)).isoformat(),
                    "properties": {"sku": sku}})
    if bought or add_to_cart:
        out.append({**who, "type": "add_to_cart", "timestamp": (start + dt.timedelta(minutes=len(viewed) + 1)).isoformat(),
                    "properties": {"sku": viewed[0], "quantity": 1}})
    if bought and order is not None:
        value, currency = order["totals"]["total"], order["currency"]
        out.append({**who, "type": "checkout_started", "timestamp": (at - dt.timedelta(minutes=1)).isoformat(),
                    "properties": {"value": value, "currency": currency}})
        out.append({**who, "type": "purchase", "timestamp": at.isoformat(),
                    "properties": {"order_id": order["number"], "value": value, "currency": currency}})
    return out


def _track(db: Any, events: list[dict[str, Any]], day: dt.date) -> int:
    from merx.crm import public as crm

    if not events:
        return 0
    end_of_day = dt.datetime.combine(day, dt.time(23, 59), tzinfo=dt.timezone.utc)
    accepted = 0
    with simulated_clock(min(end_of_day, dt.datetime.now(dt.timezone.utc))), UnitOfWork(db, actor=SYSTEM) as uow:
        for start in range(0, len(events), 1000):
            accepted += crm.ingest_events(uow, events[start:start + 1000]).accepted
    return accepted
