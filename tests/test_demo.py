"""`merx demo --no-serve` builds a realistic shop from nothing and prints a working admin key."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory):
    data_dir = tmp_path_factory.mktemp("demo")
    # a first demo on this machine: no vectors of an earlier one (search/demo.py's cache)
    env = {**os.environ, "MERX_DATA_DIR": str(data_dir), "MERX_LOG_LEVEL": "WARNING",
           "MERX_DEMO_VECTOR_CACHE": str(tmp_path_factory.mktemp("demo-vectors"))}
    env.pop("MERX_DATABASE_URL", None)
    merx = Path(sys.executable).parent / "merx"
    done = subprocess.run([str(merx), "demo", "--no-serve"], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return data_dir, done.stdout.strip().splitlines()[-1]


def test_demo_shop_is_populated_and_the_key_works(demo_run):
    from fastapi.testclient import TestClient

    from merx.app import create_app
    from merx.core.settings import Settings

    data_dir, key = demo_run
    assert key.startswith("mx_")
    app = create_app(Settings(data_dir=data_dir, log_level="WARNING"))
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:
        assert client.get("/api/v1/me", headers=headers).json()["role"] == "admin"
        products, cursor = 0, None
        while True:
            page = client.get("/api/v1/products", params={"limit": 500, **({"cursor": cursor} if cursor else {})},
                              headers=headers).json()
            products += len(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert products >= 2000
        categories = client.get("/api/v1/categories", params={"limit": 500}, headers=headers).json()["items"]
        assert len(categories) >= 20
        customers = client.get("/api/v1/customers", params={"limit": 500}, headers=headers).json()["items"]
        assert len(customers) >= 200
        # products carry real Polish, Romanian, Russian, Ukrainian and Chinese names, served by
        # Accept-Language, and found by searches in those languages
        from merx.demo_texts import COLOURS, LANGS

        def name_in(locale: str) -> str:
            r = client.get("/api/v1/products", params={"sku": "PHO-00000"}, headers={**headers, "Accept-Language": locale})
            assert r.status_code == 200, r.text
            body = r.json()
            return (body["items"][0] if "items" in body else body)["name"]

        for k, lang in enumerate(LANGS):
            assert any(colours[k] in name_in(lang) for colours in COLOURS.values()), lang
        assert not any(colours[0] in name_in("en") for colours in COLOURS.values())
        for query, lang in (("słuchawki", "pl"), ("meble", "pl"), ("наушники", "ru"), ("навушники", "uk"),
                            ("căști", "ro"), ("无线耳机", "zh"), ("чайник", "ru")):
            found = client.get("/api/v1/search", params={"q": query, "lang": lang}).json()
            assert found["total"] > 0, (query, found)
        # the sales team's pipeline: accounts, leads from several channels, deals in every stage,
        # quotes accepted through their links (orders placed), contracts with a few risky ones
        assert len(client.get("/api/v1/accounts", params={"limit": 200}, headers=headers).json()["items"]) == 40
        leads = client.get("/api/v1/leads", params={"limit": 500}, headers=headers).json()["items"]
        assert len(leads) >= 150 and {"trade_fair", "chat_group", "forum", "qr_scan", "web_form"} <= {
            x["source"] for x in leads} and any(x["merged_sources"] for x in leads)
        report = client.get("/api/v1/deals/pipeline", headers=headers).json()
        assert all(s["deals"] > 0 for s in report["by_stage"]), report["by_stage"]
        quotes = client.get("/api/v1/quotes", params={"limit": 200}, headers=headers).json()["items"]
        assert {"draft", "pending_approval", "sent", "accepted", "rejected"} <= {q["status"] for q in quotes}
        risky = client.get("/api/v1/contracts", params={"risk_level": "high"}, headers=headers).json()["items"]
        assert risky and all(c["risk_reasons"] for c in risky)
        # some account contacts have open support tickets (shown on the sales account page)
        contacts = [c["customer_id"] for a in client.get("/api/v1/accounts", params={"limit": 20},
                                                         headers=headers).json()["items"] for c in a["contacts"]]
        assert any(client.get("/api/v1/tickets", params={"customer_id": cid}, headers=headers).json()["items"]
                   for cid in contacts[:12])
    app.state.db.dispose()


def test_demo_has_a_year_of_orders_in_every_state_with_the_visits_behind_them(demo_run):
    """#20 Build 1: twelve months of activity ending today, through the real use cases."""
    import datetime as dt

    from fastapi.testclient import TestClient

    from merx.app import create_app
    from merx.core.settings import Settings

    data_dir, key = demo_run
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(Settings(data_dir=data_dir, log_level="WARNING"))) as client:
        orders, cursor = [], None
        while True:
            r = client.get("/api/v1/orders", params={"limit": 200, **({"cursor": cursor} if cursor else {})},
                           headers=headers)
            assert r.status_code == 200, r.text
            page = r.json()
            orders += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        purchases = client.get("/api/v1/tracked-events", params={"type": "purchase", "limit": 5},
                               headers=headers).json()["items"]
    assert len(orders) >= 400
    placed = sorted(dt.datetime.fromisoformat(o["created_at"]) for o in orders)
    now = dt.datetime.now(dt.timezone.utc)
    assert (now - placed[0]).days >= 330 and (now - placed[-1]).days <= 7
    months = {(p.year, p.month) for p in placed}
    assert len(months) >= 12
    statuses = {o["status"] for o in orders}
    assert {"completed", "cancelled", "refunded"} <= statuses, statuses
    assert {o["channel"] for o in orders} >= {"web", "store", "b2b"}
    assert {o["fulfilment"]["type"] for o in orders} == {"ship", "pickup"}
    assert any(o["coupon"] for o in orders) and any(o["fulfilment"]["tracking"] for o in orders)
    assert purchases and all(e["type"] == "purchase" for e in purchases)


def test_demo_marketplace_has_olist_sellers_orders_in_every_state_and_a_payout_cycle(demo_run):
    from fastapi.testclient import TestClient

    from merx.app import create_app
    from merx.core.settings import Settings

    data_dir, key = demo_run
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(Settings(data_dir=data_dir, log_level="WARNING"))) as client:
        r = client.get("/api/v1/sellers", params={"limit": 500}, headers=headers)
        assert r.status_code == 200, r.text
        sellers = r.json()["items"]
        olist = [s for s in sellers if s["code"].startswith("olist-")]
        assert len(olist) >= 20 and {s["status"] for s in olist} == {"active", "pending", "suspended"}
        subs = client.get("/api/v1/seller-orders", params={"limit": 200}, headers=headers).json()["items"]
        assert {"awaiting_acceptance", "accepted", "refused", "shipped", "cancelled"} <= {s["status"] for s in subs}
        assert {"expired", "refused"} <= {ln["status"] for s in subs for ln in s["lines"]}
        assert any(s["shipped_late"] for s in subs) and any(s["shipped_late"] is False for s in subs)
        assert client.get("/api/v1/payouts/cycles", headers=headers).json()["items"]
        assert client.get("/api/v1/payouts", headers=headers).json()["items"]
        buy_box = client.get("/api/v1/offers/buy-box", params={"sku": subs[0]["lines"][0]["sku"]}).json()
        assert buy_box["winner"] is not None
        proposals = client.get("/api/v1/product-proposals", headers=headers).json()["items"]
        assert {p["status"] for p in proposals} == {"pending", "approved", "rejected"}
        approved = next(p for p in proposals if p["status"] == "approved")
        assert client.get("/api/v1/offers/buy-box", params={"sku": approved["sku"]}).json()["winner"] is not None


def test_demo_search_knows_the_stock_inventory_holds(demo_run):
    """Issue 20, defect 5: the demo loads stock without search's event handlers; search's copy
    held 7 rows against about 3,185. The index step now reconciles it with inventory."""
    from merx.core.db import Database
    import sqlalchemy as sa

    data_dir, _ = demo_run
    db = Database(f"sqlite:///{data_dir / 'merx.db'}")
    with db.engine.connect() as conn:
        inventory = set(conn.execute(sa.text(
            "SELECT s.sku, l.code, s.on_hand - s.reserved FROM inventory_stock s "
            "JOIN inventory_locations l ON l.id = s.location_id WHERE l.active")).all())
        search = set(conn.execute(sa.text("SELECT sku, location, available FROM search_stock")).all())
        stores = {r[0] for r in conn.execute(sa.text("SELECT code FROM inventory_locations WHERE kind = 'store'"))}
    db.dispose()
    # (what the demo does after its index step, orders for instance, may move a few rows)
    keys = {(sku, loc) for sku, loc, _ in inventory}
    assert len(inventory) > 1000
    assert len(keys & {(sku, loc) for sku, loc, _ in search}) >= 0.95 * len(keys)
    assert len(search & inventory) >= 0.9 * len(inventory)
    assert stores and stores <= {loc for _, loc, available in search if available > 0}


def test_demo_index_and_vectors_hold_every_product_as_the_catalog_ends(demo_run):
    """The demo embeds its catalog while it replays the year of orders, before sellers and
    staff add and change products: the index built at the end must still hold every product,
    each with the vector of its final text (hybrid search ranks by it), none left stale."""
    from merx.contexts import import_models
    from merx.core.db import Database
    from merx.core.uow import UnitOfWork
    from merx.catalog import public as catalog
    from merx.search import public as search
    from merx.search.documents import semantic_text_of
    from merx.search.semantic import retrieval_mode, text_key
    from merx.search.vectors import VectorStore

    data_dir, _ = demo_run
    import_models()
    db = Database(f"sqlite:///{data_dir / 'merx.db'}")
    with UnitOfWork(db, readonly=True) as uow:
        texts = {int(d.product_id): semantic_text_of(d) for d in catalog.iter_product_documents(uow)}
    db.dispose()
    assert len(texts) > 2400  # the 2,400 generated, the sellers' approved proposals, the early-access collection
    assert search.indexed_products(data_dir) == len(texts)
    if retrieval_mode()[0] != "hybrid":
        pytest.skip("the semantic extra is not installed: no vectors to check")
    # as another process opens them: the snapshot plus the append log of later edits
    store = VectorStore(data_dir / "search" / "vectors")
    vectors = {int(pid): store.known_key(int(pid)) for pid in store.ids}
    assert vectors == {pid: text_key(text) for pid, text in texts.items()}


def test_every_subscriber_has_caught_up_with_the_outbox_when_the_demo_is_ready(demo_run):
    """Readiness (#20): the server the demo hands over to has no reaction left to run, so the
    console's invoices, the campaigns' revenue and the CRM facts are there on the first page
    view (the demo walk once found the invoices page empty: the invoicing subscriber had not
    caught up when the server started). Every context's durable subscriber, and this
    replica's search index follower, stands at the outbox's last event."""
    import sqlalchemy as sa

    from merx.contexts import handler_modules, import_models
    from merx.core.db import Database
    from merx.core.events import MessageBus
    from merx.core.models import OutboxEvent
    from merx.core.subscribers import subscriber_status
    from merx.core.uow import UnitOfWork

    data_dir, _ = demo_run
    import_models()
    bus = MessageBus()
    for module in handler_modules():
        module.register(bus)
    db = Database(f"sqlite:///{data_dir / 'merx.db'}")
    try:
        with UnitOfWork(db, readonly=True) as uow:
            head = uow.session.scalar(sa.select(sa.func.max(OutboxEvent.seq)))
            rows = subscriber_status(uow, bus)
    finally:
        db.dispose()
    assert head and head > 10_000  # a year of a shop's events
    registered = [r["name"] for r in rows if r["registered"]]
    assert len(registered) >= 15 and "invoicing.orders" in registered and "marketing.orders" in registered
    assert any(r["name"].startswith("search.index@") for r in rows)
    assert {r["name"]: r["last_seq"] for r in rows} == {r["name"]: head for r in rows}
    assert all(r["dead_letters"] == 0 and r["last_error"] is None for r in rows), rows


def test_demo_starts_from_a_fresh_database(demo_run, tmp_path):
    # a copy of the built demo, so the other tests' admin key and data stay as they were
    data_dir = tmp_path / "again"
    shutil.copytree(demo_run[0], data_dir)
    env = {**os.environ, "MERX_DATA_DIR": str(data_dir), "MERX_LOG_LEVEL": "WARNING"}
    env.pop("MERX_DATABASE_URL", None)
    merx = Path(sys.executable).parent / "merx"
    again = subprocess.run([str(merx), "demo", "--no-serve", "--products", "50", "--size", "none"], env=env, capture_output=True,
                           text=True, timeout=900)  # as the first build: the shared CI machine may be busy
    assert again.returncode == 0, again.stderr[-3000:]
    from merx.core.db import Database
    import sqlalchemy as sa

    db = Database(f"sqlite:///{data_dir / 'merx.db'}")
    with db.engine.connect() as conn:
        # the 50 asked for, plus the products the demo's sellers proposed and staff approved,
        # none of the first run's 2,400
        products = conn.execute(sa.text("SELECT count(*) FROM catalog_products")).scalar()
        approved = conn.execute(sa.text("SELECT count(*) FROM sellers_product_proposals WHERE status = 'approved'")).scalar()
        # and the upcoming collection the demo opens early to repeat customers (demo_early_access.py)
        early = conn.execute(sa.text("SELECT count(*) FROM catalog_products WHERE early_access_segment_id IS NOT NULL"
                                     )).scalar()
        assert early > 0
        assert products == 50 + approved + early
    db.dispose()


def test_demo_orders_carry_costs_and_pricing_has_competitors_and_proposals(demo_run):
    """Costs believable per category (35-70% of price) landed on the history's orders; the
    margin reports name the few products without a cost; competitors, a position report and
    rules with pending and decided proposals."""
    from decimal import Decimal

    from fastapi.testclient import TestClient

    from merx.app import create_app
    from merx.core.settings import Settings

    data_dir, key = demo_run
    app = create_app(Settings(data_dir=data_dir, log_level="WARNING"))
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:
        from merx.core.events import bus

        assert bus.drain(600)  # analytics' subscribers catch up with the demo's outbox first
        orders = client.get("/api/v1/orders", params={"limit": 100}, headers=headers).json()["items"]
        lines = [ln for o in orders for ln in o["lines"]]
        costed = [ln for ln in lines if ln["unit_cost"] is not None]
        assert len(costed) >= 0.85 * len(lines) and len(costed) < len(lines)  # ~3% of products uncosted
        for ln in costed:
            assert Decimal("0.30") <= Decimal(ln["unit_cost"]) / Decimal(ln["unit_price"]) <= Decimal("0.75"), ln
        coverage = client.get("/api/v1/product-costs/coverage", headers=headers).json()
        assert 0.9 < coverage["with_cost"] / coverage["variants"] < 1
        portfolio = client.get("/api/v1/analytics/portfolio", headers=headers).json()
        assert portfolio["cost_missing"]["products"] and portfolio["cost_missing"]["revenue_share"] < 0.2
        assert len(client.get("/api/v1/sales/competitors", headers=headers).json()["items"]) == 3
        position = client.get("/api/v1/sales/price-position", headers=headers).json()
        assert len(position["rows"]) >= 100 and position["summary"]["cheapest"] > 0
        proposals = client.get("/api/v1/sales/price-proposals", params={"limit": 500}, headers=headers).json()["items"]
        assert {"pending", "approved", "rejected"} <= {p["status"] for p in proposals}
        assert all(Decimal(p["proposed_price"]) >= Decimal(p["floor"]) >= Decimal(p["cost"]) for p in proposals)
    app.state.db.dispose()


def test_demo_integration_has_signed_deliveries_retries_and_an_import_with_bad_rows(demo_run):
    """The console's integration page has something to show: endpoints whose delivery log came
    from real signed posts (the demo's receiver answers 204 only to a valid signature), a retry
    after a 503, a 410 that the relay stopped at, and a stock file whose bad rows are reported."""
    from fastapi.testclient import TestClient

    from merx.app import create_app
    from merx.core.settings import Settings

    data_dir, key = demo_run
    app = create_app(Settings(data_dir=data_dir, log_level="WARNING"))
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(app) as client:
        endpoints = {e["url"].rsplit("/", 2)[-2]: e
                     for e in client.get("/api/v1/webhooks", headers=headers).json()["items"]}
        assert set(endpoints) == {"erp", "crm", "legacy"}
        # none stays active: nobody listens on the demo receiver's port once the demo is loaded
        assert not any(e["active"] for e in endpoints.values())
        assert "10 consecutive" in endpoints["legacy"]["disabled_reason"] or "consecutive failed" in \
            endpoints["legacy"]["disabled_reason"]

        def deliveries(name: str) -> list[dict]:
            r = client.get(f"/api/v1/webhooks/{endpoints[name]['id']}/deliveries", params={"limit": 200},
                           headers=headers)
            assert r.status_code == 200, r.text
            return r.json()["items"]

        erp = deliveries("erp")
        assert {"order.placed", "order.cancelled"} <= {d["event_type"] for d in erp}
        assert all(d["status"] == "succeeded" and d["last_status_code"] == 204 for d in erp)
        crm = deliveries("crm")
        assert crm and all(d["status"] == "succeeded" and d["attempts"] == 2 for d in crm)
        one = client.get(f"/api/v1/webhooks/{endpoints['crm']['id']}/deliveries/{crm[0]['id']}",
                         headers=headers).json()
        assert [(a["status_code"], a["outcome"]) for a in one["attempt_log"]] == [(503, "retryable"), (204, "succeeded")]
        assert one["payload"]["id"] == one["event_id"]  # the signed body is kept for a replay
        legacy = deliveries("legacy")
        assert len(legacy) >= 10 and all(d["status"] == "failed" and d["last_status_code"] == 410 for d in legacy)

        jobs = client.get("/api/v1/connectors/wms-stock/imports", headers=headers).json()["items"]
        assert len(jobs) == 1 and jobs[0]["status"] == "partial"
        job = jobs[0]
        assert job["rows_failed"] == 5 and job["rows_total"] == job["rows_failed"] + job["rows_created"] + \
            job["rows_updated"] + job["rows_unchanged"]
        assert {e["field"] for e in job["errors"]} == {"sku", "location", "quantity"}
        report = client.get(f"/api/v1/connectors/wms-stock/imports/{job['id']}/errors.csv", headers=headers)
        assert report.status_code == 200 and "GDYNIA" in report.text and "PALLET" in report.text
    app.state.db.dispose()
