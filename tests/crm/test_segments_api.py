"""Rule segments over the API: evaluation, incremental freshness, errors with positions,
exports; and the value-tier, cluster and Pareto analyses."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

EXAMPLE = 'orders_count >= 3 and days_since_last_order <= 90 and country in ("PL", "RO")'


@pytest.mark.backends("sqlite", "postgresql")
def test_rule_segment_is_evaluated_and_kept_fresh_incrementally(client, staff, new_customer, emit_order, db):
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=200)
    pl = new_customer(email="pl@example.com", country="PL", first_name="=cmd")
    ro = new_customer(email="ro@example.com", country="RO")
    de = new_customer(email="de@example.com", country="DE")
    lapsed = new_customer(email="old@example.com", country="PL")
    for c in (pl, de):
        for _ in range(3):
            emit_order(c["id"], "10.00")
    for _ in range(2):
        emit_order(ro["id"], "10.00")
    for _ in range(3):
        emit_order(lapsed["id"], "10.00", placed_at=old)

    r = client.post("/api/v1/segments", json={"name": "Loyal PL/RO", "expression": EXAMPLE}, headers=staff)
    assert r.status_code == 201, r.text
    seg = r.json()
    assert seg["member_count"] == 1
    members = client.get(f"/api/v1/segments/{seg['id']}/members", headers=staff).json()["items"]
    assert members == [pl["id"]]

    # A third order moves the Romanian customer in, with no re-evaluation asked for.
    third = emit_order(ro["id"], "10.00")
    members = client.get(f"/api/v1/segments/{seg['id']}/members", headers=staff).json()["items"]
    assert members == sorted([pl["id"], ro["id"]])
    assert client.get(f"/api/v1/segments/{seg['id']}", headers=staff).json()["member_count"] == 2
    # Cancelling that order moves them out again (order.cancelled through the real bus).
    from merx.core.uow import UnitOfWork
    from merx.orders.events import OrderCancelled

    with UnitOfWork(db) as uow:
        uow.emit(OrderCancelled(order_id=third, number=f"M-{third}", customer_id=ro["id"], status="cancelled",
                                previous_status="paid", total="10.00", currency="EUR", reason="changed mind",
                                payment_status="refund_pending"), version=3)
        uow.commit()
    members = client.get(f"/api/v1/segments/{seg['id']}/members", headers=staff).json()["items"]
    assert members == [pl["id"]]
    emit_order(ro["id"], "10.00")
    overview = client.get(f"/api/v1/customers/{ro['id']}/overview", headers=staff).json()
    assert [s["name"] for s in overview["segments"]] == ["Loyal PL/RO"]

    # Export by id, CSV (formula-looking cells defused) and XLSX.
    r = client.get(f"/api/v1/segments/{seg['id']}/export?format=csv", headers=staff)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][:2] == ["customer_id", "email"]
    assert {row[1] for row in rows[1:]} == {"pl@example.com", "ro@example.com"}
    assert "'=cmd" in {row[3] for row in rows[1:]}
    r = client.get(f"/api/v1/segments/{seg['id']}/export?format=xlsx", headers=staff)
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(r.content)).active
    assert sheet.max_row == 3


def test_invalid_expression_is_a_422_pointing_at_the_position(client, staff, db):
    r = client.post("/api/v1/segments", json={"name": "bad", "expression": "orders_count >= 3 and coutry == 'PL'"},
                    headers=staff)
    assert r.status_code == 422
    body = r.json()
    assert body["errors"][0]["field"] == "expression"
    assert body["position"] == 22 and "unknown field 'coutry'" in body["detail"]
    assert body["pointer"].splitlines()[1] == " " * 22 + "^"
    assert client.get("/api/v1/segments", headers=staff).json() == {"items": [], "next_cursor": None}
    r = client.post("/api/v1/segments/preview", json={"expression": "orders_count >>= 3"}, headers=staff)
    assert r.status_code == 422 and r.json()["position"] == 14


def test_segments_are_for_marketing_roles(client, make_key):
    body = {"name": "x", "expression": "orders_count > 1"}
    assert client.post("/api/v1/segments", json=body).status_code == 401
    for role in ("sales_rep", "support_agent"):
        assert client.post("/api/v1/segments", json=body, headers=make_key(role)).status_code == 403


def test_value_tiers_clusters_and_pareto(private_app, placed_event):
    from merx.core.uow import UnitOfWork

    client, db, staff = private_app
    now = dt.datetime.now(dt.timezone.utc)
    customers = []
    for i in range(12):
        r = client.post("/api/v1/customers", json={"email": f"c{i}@example.com"}, headers=staff)
        assert r.status_code == 201, r.text
        customers.append(r.json())
    order_ids = iter(range(1, 1000))

    def emit_order(customer_id: int, total: str, placed_at: dt.datetime) -> None:
        order_id = next(order_ids)
        with UnitOfWork(db) as uow:
            uow.emit(placed_event(order_id, customer_id, total, placed_at=placed_at), version=1)
            uow.commit()

    # Two clear groups: frequent recent big spenders, and one-off buyers from long ago.
    for c in customers[:4]:
        for k in range(6):
            emit_order(c["id"], "200.00", placed_at=now - dt.timedelta(days=5 + k))
    for c in customers[4:]:
        emit_order(c["id"], "15.00", placed_at=now - dt.timedelta(days=300))

    r = client.post("/api/v1/crm/value-tiers", json={"active_days": 90, "save_segments": True}, headers=staff)
    assert r.status_code == 200, r.text
    counts = r.json()["counts"]
    assert counts["lifecycle"] == {"returning": 4, "new": 8}
    assert counts["activity"] == {"active": 4, "churned": 8}
    assert counts["value"]["high"] == 4  # ceil(12 * 0.2) = 3, and the fourth ties with the third
    active_id = r.json()["segment_ids"]["Tier: active"]
    assert client.get(f"/api/v1/segments/{active_id}/members", headers=staff).json()["items"] == \
        sorted(c["id"] for c in customers[:4])

    r = client.post("/api/v1/crm/clusters", json={"k_max": 4, "save_segments": True}, headers=staff)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["k"] == 2 and set(body["silhouettes"]) == {"2", "3", "4"}
    assert body["silhouettes"]["2"] == max(body["silhouettes"].values())
    assert [c["size"] for c in body["clusters"]] == [8, 4]
    assert body["clusters"][1]["label"] == "recent, frequent, high spend"

    r = client.get("/api/v1/crm/pareto", headers=staff)
    revenue = r.json()["revenue"]
    assert revenue["top_customers"] == 3
    assert revenue["share"] == round(3 * 1200 / (4 * 1200 + 8 * 15), 4)
    # the figures and the profit come from analytics, through the hook CRM declares (crm/sources.py)
    assert r.json()["source"] == "analytics"
    assert r.json()["profit"]["customers"] == 12 and r.json()["profit_note"]
