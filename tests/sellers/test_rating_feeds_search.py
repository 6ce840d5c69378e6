"""A seller with late shipments and a violation is deboosted in search by the documented
factors (low_seller_rating x0.90 and seller_violations x0.90: x0.81), visible in explain;
the rating's parts say why."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest

from marketplace_helpers import Market

SEARCH = "/api/v1/search"


def _explained(client, admin, product_id):
    r = client.get(SEARCH, params={"q": "lamp", "lang": "en", "explain": "true"}, headers=admin)
    assert r.status_code == 200, r.text
    item = next(i for i in r.json()["items"] if i["product_id"] == product_id)
    return item, {b["rule"]: b["factor"] for b in item["explain"]["boosts"]}


def test_late_shipments_and_a_violation_deboost_the_sellers_products(client, admin, make_key, db, app):
    from merx.core.auth import Principal, Role
    from merx.core.jobs import run_job_now
    from merx.core.uow import UnitOfWork
    from merx.sellers import seller_orders
    from merx.sellers.schemas import AcceptIn, ShipIn

    m = Market(client, admin, make_key)
    seller_id, key = m.seller("slowpoke")
    lamp = m.product("LAMP-1", "40.00", "lighting", name="Brass desk lamp", seller_id=seller_id)
    offer = m.offer(key, "LAMP-1", "39.00", quantity=10, lead_time_days=2)
    item, boosts = _explained(client, admin, lamp)
    assert "low_seller_rating" not in boosts and "seller_violations" not in boosts

    # two orders, accepted now, shipped five days later: two days promised, so both are late
    now = dt.datetime.now(dt.timezone.utc)
    seller = Principal(user_id=None, role=Role.seller, name="slowpoke", seller_id=seller_id)
    for _ in range(2):
        assert m.checkout([("LAMP-1", 1, offer["id"])]).status_code == 201
    for sub in m.seller_orders(key):
        with UnitOfWork(db, actor=seller) as uow:
            seller_orders.accept(uow, sub["id"], AcceptIn(lines=[{"line_id": sub["lines"][0]["id"], "accepted": True}]),
                                 now=now)
        with UnitOfWork(db, actor=seller) as uow:
            shipped = seller_orders.ship(uow, sub["id"], ShipIn(carrier="DHL", tracking_number=f"L{sub['id']}"),
                                         now=now + dt.timedelta(days=5))
        assert shipped.shipped_late is True
    r = client.post("/api/v1/seller-violations", headers=admin,
                    json={"seller_id": seller_id, "kind": "misleading_listing", "note": "photo of another lamp"})
    assert r.status_code == 201, r.text

    # the nightly job rates the seller over the window (it runs a week later here)
    run = run_job_now(db, app.state.scheduler, "sellers.ratings", now=now + dt.timedelta(days=6))
    assert run.succeeded, run.error
    rating = m.ok(client.get(f"/api/v1/sellers/{seller_id}/rating", headers=key))
    # on-time 0 of 2, nothing refused, cancelled or complained about: 5 x (0.25 + 0.15 + 0.20) = 3.00, less 0.5
    assert rating["parts"]["on_time"] == "0.0000" and rating["parts"]["late_shipments"] == "2"
    assert Decimal(rating["rating"]) == Decimal("2.50") and rating["violations"] == 1

    item, boosts = _explained(client, admin, lamp)
    assert boosts["low_seller_rating"] == pytest.approx(0.90)
    assert boosts["seller_violations"] == pytest.approx(0.90)
    others = math.prod(f for rule, f in boosts.items() if rule not in ("low_seller_rating", "seller_violations"))
    assert item["score"] == pytest.approx(item["explain"]["probability"] * 0.81 * others)
