"""Moderated product proposals: a seller proposes a new catalog product; staff approve it
(an active catalog product appears, which the seller can then offer and shoppers can find)
or reject it with a reason; bad proposals are refused naming the field; a seller cannot put a
product on sale directly any more."""

from __future__ import annotations

import pytest

from marketplace_helpers import Market


def _proposal(**extra):
    return {"sku": "TEAPOT-1", "name": "Cast-iron teapot", "description": "0.8 l, enamel inside",
            "category": "home", "brand": None, "attributes": {"color": "black"},
            "image_urls": ["https://img.example/teapot.jpg"], "price": {"amount": "42.00", "currency": "EUR"},
            **extra}


@pytest.mark.backends("sqlite", "postgresql")
def test_a_proposal_approved_becomes_a_catalog_product_the_seller_offers(client, admin, make_key, db):
    m = Market(client, admin, make_key)
    m.category("home")
    m.ok(client.post("/api/v1/attributes", json={"code": "color", "name": "Colour", "type": "text"}, headers=admin), 201)
    seller_id, a = m.seller("alfa")
    p = m.ok(client.post("/api/v1/product-proposals", json=_proposal(), headers=a), 201)
    assert (p["seller_id"], p["status"], p["product_id"]) == (seller_id, "pending", None)
    # not in the catalog yet: nothing to offer, nothing public
    assert client.get("/api/v1/products", params={"sku": "TEAPOT-1"}, headers=admin).json()["items"] == []
    r = client.post("/api/v1/offers", headers=a, json={"sku": "TEAPOT-1", "price": {"amount": "40.00", "currency": "EUR"},
                                                        "quantity": 3})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "sku"
    pending = m.ok(client.get("/api/v1/product-proposals", params={"status": "pending"}, headers=admin))["items"]
    assert [x["id"] for x in pending] == [p["id"]]

    approved = m.ok(client.post(f"/api/v1/product-proposals/{p['id']}/approve", headers=admin))
    assert approved["status"] == "approved" and approved["product_id"] is not None
    product = m.ok(client.get(f"/api/v1/products/{approved['product_id']}"))  # public: active
    assert (product["sku"], product["name"], product["status"], product["category"]) == (
        "TEAPOT-1", "Cast-iron teapot", "active", "home")
    assert product["media"] == ["https://img.example/teapot.jpg"] and product["attributes"]["color"] == "black"
    assert product["seller_id"] is None  # a catalog product any seller may offer
    m.offer(a, "TEAPOT-1", "40.00", quantity=3)
    _, b = m.seller("bravo")
    m.offer(b, "TEAPOT-1", "41.00", quantity=2)
    # decided once: approving or rejecting again is refused
    again = client.post(f"/api/v1/product-proposals/{p['id']}/approve", headers=admin)
    assert again.status_code == 409
    assert client.post(f"/api/v1/product-proposals/{p['id']}/reject", json={"reason": "x"},
                       headers=admin).status_code == 409
    from merx.core.models import OutboxEvent
    import sqlalchemy as sa

    with db.engine.connect() as conn:
        types = [r.type for r in conn.execute(sa.select(OutboxEvent.__table__.c.type)
                                              .where(OutboxEvent.__table__.c.type.like("product_proposal.%"))
                                              .order_by(OutboxEvent.__table__.c.seq))]
    assert types == ["product_proposal.submitted", "product_proposal.approved"]


def test_a_rejected_proposal_keeps_its_reason_and_creates_nothing(client, admin, make_key):
    m = Market(client, admin, make_key)
    m.category("home")
    m.ok(client.post("/api/v1/attributes", json={"code": "color", "name": "Colour", "type": "text"}, headers=admin), 201)
    _, a = m.seller("alfa")
    p = m.ok(client.post("/api/v1/product-proposals", json=_proposal(), headers=a), 201)
    r = client.post(f"/api/v1/product-proposals/{p['id']}/reject", json={}, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    rejected = m.ok(client.post(f"/api/v1/product-proposals/{p['id']}/reject",
                                json={"reason": "photos show a different model"}, headers=admin))
    assert (rejected["status"], rejected["reason"]) == ("rejected", "photos show a different model")
    mine = m.ok(client.get(f"/api/v1/product-proposals/{p['id']}", headers=a))
    assert mine["reason"] == "photos show a different model"
    assert client.get("/api/v1/products", params={"sku": "TEAPOT-1"}, headers=admin).json()["items"] == []


def test_bad_proposals_are_refused_naming_the_field(client, admin, make_key):
    m = Market(client, admin, make_key)
    m.product("MUG-1", "9.00", "home")
    m.ok(client.post("/api/v1/attributes", json={"code": "color", "name": "Colour", "type": "text"}, headers=admin), 201)
    _, a = m.seller("alfa")
    cases = [
        (_proposal(sku="MUG-1"), "sku", 422),  # already in the catalog: offer it instead
        (_proposal(category="nope"), "category", 422),
        (_proposal(image_urls=["javascript:alert(1)"]), "image_urls[0]", 422),
        (_proposal(price={"amount": "42.00", "currency": "USD"}), "price.currency", 422),
        (_proposal(name=""), "name", 422),
        (_proposal(attributes={"made_up": "x"}), "attributes.made_up", 422),
    ]
    for body, field, status in cases:
        r = client.post("/api/v1/product-proposals", json=body, headers=a)
        assert r.status_code == status, (field, r.text)
        assert any(e["field"].startswith(field) for e in r.json()["errors"]), (field, r.json())
    m.ok(client.post("/api/v1/product-proposals", json=_proposal(), headers=a), 201)
    twice = client.post("/api/v1/product-proposals", json=_proposal(), headers=a)
    assert twice.status_code == 422 and twice.json()["errors"][0]["code"] == "duplicate"
    # a seller's own product cannot go on sale without moderation
    direct = client.post("/api/v1/products", headers=a, json={"sku": "SNEAKY-1", "name": "Sneaky",
                                                               "price": {"amount": "1.00", "currency": "EUR"}})
    assert direct.status_code == 403 and direct.json()["errors"][0]["field"] == "status"
