"""The demo marketplace: sellers from the Olist public data set (`../shared/data/olist_sellers.csv`,
read at demo time, never copied into the repository) with company data and onboarding
statuses, commission rules, offers on the operator's catalog, marketplace orders in every
seller-order state (awaiting acceptance, accepted, refused, expired, shipped on time and late,
cancelled, an incident refunded), a violation, a closed payout cycle and computed ratings.

Called by `merx.demo.build_demo` after the catalog, customers and stock exist."""

from __future__ import annotations

import csv
import datetime as dt
import os
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

from merx.core.auth import SYSTEM
from merx.core.db import Database, utcnow
from merx.core.errors import Problem
from merx.core.uow import UnitOfWork

OLIST_SELLERS = Path("../shared/data/olist_sellers.csv")
SELLER_COUNT = 30
OFFERS_PER_SELLER = 8
ORDER_COUNT = 32


def olist_path() -> Path | None:
    """The data set: in MERX_SHARED_DATA when set (as the tests and benchmarks read it: a git
    worktree has no `../shared` beside it), else beside the checkout (`../shared/data`), from the
    working directory or the repository."""
    candidates = [Path(os.environ["MERX_SHARED_DATA"]) / OLIST_SELLERS.name] if os.environ.get("MERX_SHARED_DATA") else []
    candidates += [(base / OLIST_SELLERS).resolve() for base in (Path.cwd(), Path(__file__).resolve().parents[3])]
    return next((path for path in candidates if path.is_file()), None)


def _olist_rows(limit: int) -> list[dict[str, str]]:
    path = olist_path()
    if path is None:
        return []
    with path.open(newline="", encoding="utf-8") as f:
        rows = []
        for row in csv.DictReader(f):
            if row.get("seller_id") and row.get("seller_city"):
                rows.append(row)
            if len(rows) >= limit:
                break
    return rows


_expiring: set[int] = set()  # sub-orders the demo lets expire
SUFFIXES = ["Comércio", "Distribuidora", "Utilidades", "Store", "Casa & Cia", "Import", "Atacado", "Express"]


def seed(db: Database, rng: random.Random, progress: Any = None) -> dict[str, int]:
    from merx.catalog import public as catalog
    from merx.customers import public as customers
    from merx.marketplace import public as marketplace
    from merx.orders import public as orders
    from merx.sellers import offers, payouts, rating, seller_orders
    from merx.sellers.schemas import AdjustmentIn, CommissionRuleIn, OfferCreate, ViolationIn

    task = progress.add_task("marketplace", total=ORDER_COUNT) if progress is not None else None
    now = utcnow()
    # -- sellers: Olist's, with onboarding statuses ------------------------------------------
    seller_ids: list[int] = []
    rows = _olist_rows(SELLER_COUNT)
    for i, row in enumerate(rows):
        city = row["seller_city"].strip().title()
        status = "pending" if i % 15 == 7 else "active"
        with UnitOfWork(db, actor=SYSTEM) as uow:
            s = marketplace.create_seller(uow, marketplace.SellerCreate(
                code=f"olist-{row['seller_id'][:10]}", name=f"{city} {SUFFIXES[i % len(SUFFIXES)]}", city=city,
                region=row.get("seller_state") or None, country="BR", premium=i % 9 == 0, status=status,
                legal_name=f"{city} {SUFFIXES[i % len(SUFFIXES)]} Ltda",
                registration_number=f"{rng.randint(10, 99)}.{rng.randint(100, 999)}.{rng.randint(100, 999)}/0001-"
                                    f"{rng.randint(10, 99)}",
                contact_email=f"ops@{row['seller_id'][:8]}.example.com",
                kyc_status="submitted" if status == "pending" else "verified"))
        if status == "active":
            seller_ids.append(s.id)
    if seller_ids:
        with UnitOfWork(db, actor=SYSTEM) as uow:  # one seller was switched off for a while
            marketplace.update_seller(uow, seller_ids[-1], marketplace.SellerUpdate(status="suspended"))
        seller_ids = seller_ids[:-1]

    # -- commissions --------------------------------------------------------------------------
    with UnitOfWork(db, actor=SYSTEM) as uow:
        for category, seller_id, rate in ((None, None, "0.12"), ("phones", None, "0.08"), ("laptops", None, "0.07"),
                                          ("tv", None, "0.08")):
            payouts.set_commission_rule(uow, CommissionRuleIn(category=category, seller_id=seller_id,
                                                              rate=Decimal(rate)))
    if seller_ids:
        with UnitOfWork(db, actor=SYSTEM) as uow:
            payouts.set_commission_rule(uow, CommissionRuleIn(seller_id=seller_ids[0], rate=Decimal("0.09")))

    # -- offers on the operator's own active products -------------------------------------------
    with UnitOfWork(db, actor=SYSTEM, readonly=True) as uow:
        candidates = []
        for doc in catalog.iter_product_documents(uow, batch_size=500):
            if doc.status == "active" and doc.seller_id is None and doc.variants:
                price = (doc.variants[0].get("prices") or {}).get("EUR")
                if price:
                    candidates.append((doc.variants[0]["sku"], Decimal(price)))
            if len(candidates) >= 600:
                break
    offer_ids: dict[int, list[tuple[int, str]]] = {}
    popular = candidates[:12]  # several sellers compete on these: the buy box has a choice
    made_offers = 0
    for n, seller_id in enumerate(seller_ids):
        picks = rng.sample(candidates[12:], min(OFFERS_PER_SELLER, max(len(candidates) - 12, 0))) + rng.sample(
            popular, min(3, len(popular)))
        with UnitOfWork(db, actor=SYSTEM) as uow:
            for sku, price in picks:
                factor = Decimal(rng.randint(85, 112)) / 100
                try:  # each offer commits on its own; a refused one (validation) wrote nothing
                    o = offers.create_offer(uow, OfferCreate(
                        sku=sku, seller_id=seller_id, quantity=rng.randint(3, 80),
                        price={"amount": str((price * factor).quantize(Decimal("0.01"))), "currency": "EUR"},
                        shipping={"amount": rng.choice(["0.00", "4.90", "9.90"]), "currency": "EUR"},
                        lead_time_days=rng.choice([1, 2, 2, 3, 5]),
                        condition="refurbished" if n % 7 == 3 else "new",
                        shipping_terms="Correios, tracked" if n % 2 else "Free returns within 30 days"))
                except Problem:
                    continue
                offer_ids.setdefault(seller_id, []).append((o.id, sku))
                made_offers += 1

    # -- marketplace orders in every state ------------------------------------------------------
    with UnitOfWork(db, actor=SYSTEM, readonly=True) as uow:
        customer_ids = [c.id for c in uow.session.scalars(customers.list_customers_stmt(uow).limit(60))]
    placed = 0
    _expiring.clear()
    sellers_with_offers = [s for s in seller_ids if offer_ids.get(s)]
    past = now - dt.timedelta(days=9)
    for i in range(ORDER_COUNT if sellers_with_offers else 0):
        chosen = rng.sample(sellers_with_offers, min(len(sellers_with_offers), 1 + (i % 3 == 0)))
        lines, used = [], set()
        for seller_id in chosen:
            for offer_id, sku in rng.sample(offer_ids[seller_id], min(2, len(offer_ids[seller_id]))):
                if sku not in used:
                    used.add(sku)
                    lines.append({"sku": sku, "quantity": rng.randint(1, 2), "offer_id": offer_id})
        customer = {"id": customer_ids[i % len(customer_ids)]} if customer_ids else {
            "email": f"marketplace.buyer.{i}@example.com"}
        try:
            with UnitOfWork(db, actor=SYSTEM) as uow:
                order = orders.place_order(uow, orders.OrderCreate(
                    channel="marketplace", customer=customer, lines=lines,
                    fulfilment={"type": "ship", "address": {"line1": f"Rua das Flores {10 + i}", "city": "Lisboa",
                                                            "postal_code": "1100-001", "country": "PT"}},
                    payment={"provider": "manual"}))
            with UnitOfWork(db, actor=SYSTEM) as uow:
                orders.capture_payment(uow, order["id"])  # paid on the marketplace before the sellers decide
        except Problem:
            continue
        placed += 1
        if task is not None:
            progress.advance(task)
        _drive(db, order["id"], i, rng, past, now)

    # -- lines nobody decided in time: the scheduler's sweep, two days on ----------------------
    with UnitOfWork(db, actor=SYSTEM) as uow:
        seller_orders.expire_overdue(uow, now + dt.timedelta(hours=seller_orders.ACCEPTANCE_HOURS, minutes=5),
                                     only=_expiring)
        seller_orders.refund_pending_lines(uow)

    # -- a violation, an adjustment, the past payout cycle, ratings ------------------------------
    if sellers_with_offers:
        with UnitOfWork(db, actor=SYSTEM) as uow:
            rating.record_violation(uow, ViolationIn(seller_id=sellers_with_offers[-1], kind="misleading_listing",
                                                     note="photos of a different model", penalty=Decimal("0.5")))
        with UnitOfWork(db, actor=SYSTEM) as uow:
            payouts.add_adjustment(uow, AdjustmentIn(seller_id=sellers_with_offers[0], direction="credit",
                                                     amount={"amount": "25.00", "currency": "EUR"},
                                                     description="launch campaign bonus"))
    cycles = 0
    with UnitOfWork(db, actor=SYSTEM) as uow:
        try:
            payouts.run_payout_cycle(uow, now - dt.timedelta(days=2), now=now)
            cycles = 1
        except Problem:
            pass
    proposals = _proposals(db, seller_ids) if seller_ids else 0
    with UnitOfWork(db, actor=SYSTEM) as uow:
        rated = rating.recompute_all(uow, now)
    if task is not None:
        progress.update(task, completed=ORDER_COUNT)
    return {"marketplace sellers": len(rows), "offers": made_offers, "marketplace orders": placed,
            "payout cycles": cycles, "rated sellers": rated, "product proposals": proposals}


PROPOSALS = [  # sku, name, description, price, what staff decided (None: still pending)
    ("MKT-CAPIM-01", "Capim dourado woven basket", "Hand-woven golden grass basket from Jalapão, 25 cm.", "38.00",
     "approve"),
    ("MKT-REDE-02", "Cotton hammock, Ceará weave", "Two-person cotton hammock with crocheted fringes.", "64.90", None),
    ("MKT-CUIA-03", "Gourd mate cup with bombilla", "Natural gourd cup with a stainless steel straw.", "19.50",
     "reject"),
    ("MKT-RENDA-04", "Bilro lace table runner", "Bobbin lace runner, 1.2 m, made in Fortaleza.", "45.00", None),
]


def _proposals(db: Database, seller_ids: list[int]) -> int:
    """Sellers' proposals of new catalog products: one approved (now on sale and offered by
    its proposer), one rejected with a reason, two waiting for staff."""
    from merx.core.auth import Principal, Role
    from merx.sellers import offers, proposals
    from merx.sellers.schemas import OfferCreate, ProposalDecisionIn, ProposalIn

    made = 0
    for i, (sku, name, description, price, decision) in enumerate(PROPOSALS):
        seller_id = seller_ids[i % len(seller_ids)]
        seller = Principal(user_id=None, role=Role.seller, name="demo seller", seller_id=seller_id)
        try:
            with UnitOfWork(db, actor=seller) as uow:
                p = proposals.propose(uow, ProposalIn(sku=sku, name=name, description=description,
                                                      image_urls=[f"https://images.example.com/olist/{sku.lower()}.jpg"],
                                                      price={"amount": price, "currency": "EUR"}))
            if decision == "approve":
                with UnitOfWork(db, actor=SYSTEM) as uow:
                    proposals.approve(uow, p.id)
                with UnitOfWork(db, actor=seller) as uow:
                    offers.create_offer(uow, OfferCreate(sku=sku, price={"amount": price, "currency": "EUR"},
                                                         quantity=12, lead_time_days=3))
            elif decision == "reject":
                with UnitOfWork(db, actor=SYSTEM) as uow:
                    proposals.reject(uow, p.id, ProposalDecisionIn(
                        reason="a gourd cup is already in the catalog: offer that product instead"))
        except Problem:
            continue
        made += 1
    return made


def _drive(db: Database, order_id: int, i: int, rng: random.Random, past: dt.datetime, now: dt.datetime) -> None:
    """Move the order's sub-orders to a state picked by `i`: the older ones were decided and
    shipped last week (their money went through the payout cycle), the newest wait."""
    from merx.sellers import seller_orders
    from merx.sellers.schemas import AcceptIn, IncidentIn, ShipIn

    with UnitOfWork(db, actor=SYSTEM, readonly=True) as uow:
        subs = [s for s in seller_orders.list_seller_orders(uow, order_id=order_id, limit=10).items
                if s.seller_id is not None]
    stage = i % 8
    decided_at = past + dt.timedelta(hours=i)
    for sub in subs:
        lines = [ln for ln in sub.lines if ln.status == "awaiting_acceptance"]
        if stage == 1:
            _expiring.add(sub.id)  # the seller lets the deadline pass
        if stage in (0, 1) or not lines:
            continue  # still awaiting acceptance
        decisions = [{"line_id": ln.id, "accepted": True} for ln in lines]
        if stage == 3:
            decisions[-1] = {"line_id": lines[-1].id, "accepted": False, "reason": "out of stock at our warehouse"}
        try:
            with UnitOfWork(db, actor=SYSTEM) as uow:
                seller_orders.accept(uow, sub.id, AcceptIn(lines=decisions),
                                     now=decided_at if stage >= 4 else now)
            if stage >= 4 and any(d["accepted"] for d in decisions):
                late = stage == 6
                shipped_at = decided_at + dt.timedelta(days=6 if late else 1)
                with UnitOfWork(db, actor=SYSTEM) as uow:
                    seller_orders.ship(uow, sub.id, ShipIn(carrier=rng.choice(["Correios", "CTT", "DHL", "UPS"]),
                                                           tracking_number=f"BR{rng.randint(10**8, 10**9)}PT"),
                                       now=shipped_at)
                if stage == 7:
                    with UnitOfWork(db, actor=SYSTEM) as uow:
                        inc = seller_orders.open_incident(uow, sub.id, IncidentIn(
                            line_id=lines[0].id, kind="damaged", note="box arrived crushed"))
                    if i % 16 == 15:
                        with UnitOfWork(db, actor=SYSTEM) as uow:
                            seller_orders.refund_incident(uow, inc.id)
        except Problem:
            continue
    if stage == 2 and subs:  # the customer changed their mind before anyone shipped
        from merx.orders import public as orders

        with UnitOfWork(db, actor=SYSTEM) as uow:
            orders.cancel(uow, order_id, reason="customer changed their mind")
        # what the sellers.orders subscriber does once a server runs; the demo process has no
        # subscribers, and the subscriber's later pass finds nothing left to cancel
        with UnitOfWork(db, actor=SYSTEM) as uow:
            seller_orders.cancel_for_order(uow, order_id, "order cancelled: customer changed their mind")
            uow.commit()
