"""Feedback statistics by product category: a ticket counts for the category of its product,
else of its order line's product; published reviews per category with their average
rating; tickets linked to neither are left out; the console page and CSV show the table."""

from __future__ import annotations

import pytest

from support_shop import delivered_order, product, stock, warehouse


@pytest.mark.backends("sqlite", "postgresql")
def test_tickets_and_reviews_are_counted_by_product_category(client, admin, make_key) -> None:
    for code, name in (("garden", "Garden"), ("kitchen", "Kitchen")):
        assert client.post("/api/v1/categories", json={"code": code, "name": name}, headers=admin).status_code == 201
    warehouse(client, admin)
    hose = product(client, admin, "HOSE-1", "Garden hose", category="garden")
    pan = product(client, admin, "PAN-1", "Frying pan", category="kitchen")
    product(client, admin, "MISC-1", "Gift card")  # no category
    for sku in ("HOSE-1", "PAN-1", "MISC-1"):
        stock(client, admin, sku, 10)
    order = delivered_order(client, admin, "jan@example.pl", [("PAN-1", 1), ("HOSE-1", 1), ("MISC-1", 1)])
    agent = make_key("support_agent")
    tickets = [
        {"kind": "complaint", "subject": "Hose leaks", "product_id": hose},
        {"kind": "question", "subject": "Hose length?", "product_id": hose},
        {"kind": "return_request", "subject": "Pan warped", "order_id": order["id"], "order_line": 1},  # the pan
        {"kind": "complaint", "subject": "Card code", "order_id": order["id"], "order_line": 3},
        {"kind": "question", "subject": "Opening hours?"},  # no product: not in the table
    ]
    for body in tickets:
        assert client.post("/api/v1/tickets", json={**body, "channel": "email"}, headers=agent).status_code == 201
    jan = make_key("customer", customer_id=order["customer_id"])
    for pid, rating in ((hose, 2), (pan, 5)):
        review = client.post("/api/v1/reviews", json={"product_id": pid, "rating": rating}, headers=jan).json()
        client.post(f"/api/v1/reviews/{review['id']}/moderation", json={"decision": "publish"}, headers=agent)

    stats = client.get("/api/v1/feedback/stats", headers=agent).json()
    assert stats["by_category"] == [
        {"category": "garden", "name": "Garden", "tickets": 2, "kinds": {"complaint": 1, "question": 1},
         "reviews": 1, "average_rating": 2.0},
        {"category": "kitchen", "name": "Kitchen", "tickets": 1, "kinds": {"return_request": 1},
         "reviews": 1, "average_rating": 5.0},
        {"category": "uncategorised", "name": "uncategorised", "tickets": 1, "kinds": {"complaint": 1},
         "reviews": 0, "average_rating": None},
    ]
