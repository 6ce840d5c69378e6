"""QR scan -> order -> revenue attributed to the campaign (first and last touch, 7-day window)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from marketing_shop import make_customers, seed_products, static_segment
from order_events import order_placed


def test_a_qr_scan_then_an_order_is_revenue_of_that_campaign(client, db, admin):
    seed_products(db)
    segment = static_segment(db, "nobody yet", make_customers(db, 1, prefix="seg"))
    r = client.post("/api/v1/campaigns", headers=admin, json={"name": "Flyers December", "segment_id": segment,
                                                             "template": "newsletter"})
    campaign = r.json()["id"]
    r = client.post("/api/v1/qr-codes", headers=admin, json={"label": "Flyer at the station", "source": "flyer",
                                                            "target_url": "/search?q=kettle", "campaign_id": campaign})
    assert r.status_code == 201, r.text
    qr = r.json()
    assert qr["short_url"].endswith(f"/q/{qr['code']}")
    svg = client.get(f"/api/v1/qr-codes/{qr['id']}/image.svg", headers=admin)
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml" and b"<svg" in svg.content
    png = client.get(f"/api/v1/qr-codes/{qr['id']}/image.png", headers=admin)
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"

    # a shopper scans the flyer, lands on the search page, buys in the storefront
    scan = client.get(f"/q/{qr['code']}", follow_redirects=False)
    assert scan.status_code == 303 and scan.headers["location"] == "/search?q=kettle"
    assert client.cookies.get("merx_mkt")
    client.get("/")
    token = client.cookies.get("merx_csrf")
    client.post("/cart/add", data={"csrf_token": token, "sku": "KETTLE-1", "quantity": "2"})
    r = client.post("/checkout", data={"csrf_token": token, "email": "scan@example.com", "first_name": "Ola",
                                       "fulfilment": "pickup", "store": "ST-WAW", "payment": "manual"},
                    follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    orders = client.get("/api/v1/orders", headers=admin).json()["items"]
    [order] = [o for o in orders if o["email"] == "scan@example.com"]
    expected = Decimal(order["totals"]["total"])
    assert expected > 0

    # another visitor scans and never buys; the buyer's order 8 days later is outside the window
    from fastapi.testclient import TestClient

    with TestClient(client.app) as other:
        assert other.get(f"/q/{qr['code']}", follow_redirects=False).status_code == 303
    from merx.core.uow import UnitOfWork

    with UnitOfWork(db) as uow:
        uow.emit(order_placed(99_001, order["customer_id"], [{"sku": "MUG-1", "quantity": 1, "unit_price": "9.90"}],
                              placed_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=8)))
        uow.commit()

    report = client.get(f"/api/v1/campaigns/{campaign}/report", headers=admin).json()
    assert report["window_days"] == 7
    for model in ("first_touch", "last_touch"):
        assert report[model]["orders"] == 1
        assert report[model]["revenue"] == [{"amount": str(expected), "currency": "EUR"}]
    sources = client.get("/api/v1/marketing/sources", headers=admin).json()["items"]
    flyer = next(s for s in sources if s["source"] == "flyer: Flyer at the station")
    assert flyer["scans"] == 2 and flyer["last_touch"]["orders"] == 1


def test_first_and_last_touch_credit_different_campaigns():
    from merx.marketing import rules

    t0 = dt.datetime(2026, 12, 1, 12, tzinfo=dt.timezone.utc)
    touches = [rules.TouchPoint(1, t0, 10, "flyer"), rules.TouchPoint(1, t0 + dt.timedelta(days=2), 20, "email click"),
               rules.TouchPoint(1, t0 - dt.timedelta(days=30), 30, "poster")]  # too old for the window
    order = rules.OrderPoint(500, 1, t0 + dt.timedelta(days=3), 1000, "EUR")
    window = dt.timedelta(days=7)
    assert rules.attribute([order], touches, window, "first")[500].campaign_id == 10
    assert rules.attribute([order], touches, window, "last")[500].campaign_id == 20
    assert rules.attribute([rules.OrderPoint(501, 2, t0, 5, "EUR")], touches, window, "last") == {}


def test_ab_significance_and_reproducible_draw():
    from merx.marketing import rules

    # 10% vs 5% click rate on 1,000 each: z = 4.19, p < 0.001 (hand-computed from the pooled formula)
    res = rules.two_proportion_test(100, 1000, 50, 1000)
    pooled = 150 / 2000
    z = (0.10 - 0.05) / (pooled * (1 - pooled) * (2 / 1000)) ** 0.5
    assert abs(res.z - z) < 1e-9 and res.significant and res.winner == "A" and res.p_value < 0.001
    close = rules.two_proportion_test(52, 1000, 50, 1000)
    assert not close.significant and close.winner is None and close.p_value > 0.5
    entries = list(range(1, 501))
    assert rules.draw(entries, 42, 3) == rules.draw(list(reversed(entries)), 42, 3)
    assert rules.draw(entries, 42, 3) != rules.draw(entries, 43, 3)
