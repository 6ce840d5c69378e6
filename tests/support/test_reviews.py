"""Reviews: a verified purchase's published review becomes the product's search rating
feature (seen in explain); a review of a product never bought is kept but unverified and
counts for nothing; moderation and roles."""

from __future__ import annotations

from decimal import Decimal

import pytest

from support_shop import delivered_order, product, stock, warehouse


def _explain(client, admin, q, product_id):  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/search", params={"q": q, "lang": "en", "explain": "true"}, headers=admin)
    assert r.status_code == 200, r.text
    return next(i["explain"] for i in r.json()["items"] if i["product_id"] == product_id)


@pytest.mark.backends("sqlite", "postgresql")
def test_a_published_verified_review_moves_the_search_rating_feature(client, admin, make_key) -> None:
    warehouse(client, admin)
    fern = product(client, admin, "FERN-1", "Boston fern plant")
    palm = product(client, admin, "PALM-1", "Kentia palm plant")
    stock(client, admin, "FERN-1", 10)
    order = delivered_order(client, admin, "ania@example.pl", [("FERN-1", 1)])
    ania = make_key("customer", customer_id=order["customer_id"])

    before = _explain(client, admin, "fern", fern)
    assert before["features"]["rating_count"] == 0.0 and before["features"]["rating_avg"] == 0.0
    neutral = before["group_scores"]["rating"]

    r = client.post("/api/v1/reviews", json={"product_id": fern, "rating": 5, "title": "Took root at once",
                                             "body": "Healthy and big."}, headers=ania)
    assert r.status_code == 201, r.text
    review = r.json()
    assert review["verified"] is True and review["order_id"] == order["id"] and review["status"] == "pending"
    # pending reviews are not public and move nothing
    assert client.get("/api/v1/reviews", params={"product_id": fern}).json()["items"] == []
    assert _explain(client, admin, "fern", fern)["features"]["rating_count"] == 0.0

    agent = make_key("support_agent")
    r = client.post(f"/api/v1/reviews/{review['id']}/moderation", json={"decision": "publish"}, headers=agent)
    assert r.status_code == 200 and r.json()["status"] == "published"
    after = _explain(client, admin, "fern", fern)
    assert after["features"]["rating_avg"] == 5.0 and after["features"]["rating_count"] == 1.0
    assert after["group_scores"]["rating"] > neutral
    public = client.get("/api/v1/reviews", params={"product_id": fern}).json()["items"]
    assert [p["id"] for p in public] == [review["id"]]

    # a review of a product Ania never bought: kept, unverified, never counted
    r = client.post("/api/v1/reviews", json={"product_id": palm, "rating": 1, "body": "Never had it"}, headers=ania)
    assert r.status_code == 201 and r.json()["verified"] is False and r.json()["order_id"] is None
    client.post(f"/api/v1/reviews/{r.json()['id']}/moderation", json={"decision": "publish"}, headers=agent)
    assert _explain(client, admin, "palm", palm)["features"]["rating_count"] == 0.0

    # rejecting the verified review takes the rating away again
    client.post(f"/api/v1/reviews/{review['id']}/moderation", json={"decision": "reject"}, headers=agent)
    assert _explain(client, admin, "fern", fern)["features"]["rating_count"] == 0.0


def test_review_input_and_roles(client, admin, make_key, db) -> None:
    from merx.core.uow import UnitOfWork
    from merx.customers.public import CustomerCreate, create_customer

    fern = product(client, admin, "FERN-2", "Fern")
    with UnitOfWork(db) as uow:
        customer = make_key("customer", customer_id=create_customer(uow, CustomerCreate(email="c@example.pl")).id)
    assert client.post("/api/v1/reviews", json={"product_id": fern, "rating": 6}, headers=customer).status_code == 422
    assert client.post("/api/v1/reviews", json={"product_id": 999999, "rating": 4}, headers=admin).status_code == 422
    assert client.post("/api/v1/reviews", json={"product_id": fern, "rating": 4}).status_code == 401
    r = client.post("/api/v1/reviews", json={"product_id": fern, "rating": 4, "customer_id": 5}, headers=customer)
    assert r.status_code == 403
    assert client.post("/api/v1/reviews/1/moderation", json={"decision": "publish"}, headers=customer).status_code == 403


def test_published_reviews_set_the_sellers_rating(client, admin, make_key) -> None:
    r = client.post("/api/v1/sellers", json={"code": "greenco", "name": "Green Co"}, headers=admin)
    assert r.status_code == 201, r.text
    seller = r.json()["id"]
    warehouse(client, admin)
    cactus = product(client, admin, "CACT-1", "Cactus", seller_id=seller)
    aloe = product(client, admin, "ALOE-1", "Aloe", seller_id=seller)
    stock(client, admin, "CACT-1", 5)
    stock(client, admin, "ALOE-1", 5)
    agent = make_key("support_agent")
    for email, sku, pid, rating in (("a@example.pl", "CACT-1", cactus, 5), ("b@example.pl", "ALOE-1", aloe, 2)):
        order = delivered_order(client, admin, email, [(sku, 1)])
        key = make_key("customer", customer_id=order["customer_id"])
        review = client.post("/api/v1/reviews", json={"product_id": pid, "rating": rating}, headers=key).json()
        assert review["seller_id"] == seller and review["verified"] is True
        client.post(f"/api/v1/reviews/{review['id']}/moderation", json={"decision": "publish"}, headers=agent)
    # (5 + 2) / 2 over the seller's published verified reviews
    # (the one rating, computed by the sellers context from these reviews: sellers/rating.py)
    assert Decimal(client.get(f"/api/v1/sellers/{seller}", headers=admin).json()["rating"]) == Decimal("3.5")


def test_staff_and_the_products_seller_reply_to_a_review_in_public(client, admin, make_key) -> None:
    sellers = [client.post("/api/v1/sellers", json={"code": code, "name": code}, headers=admin).json()["id"]
               for code in ("potters", "others")]
    warehouse(client, admin)
    jug = product(client, admin, "JUG-1", "Stoneware jug", seller_id=sellers[0])
    stock(client, admin, "JUG-1", 5)
    order = delivered_order(client, admin, "ewa@example.pl", [("JUG-1", 1)])
    ewa = make_key("customer", customer_id=order["customer_id"])
    review = client.post("/api/v1/reviews", json={"product_id": jug, "rating": 2, "body": "Handle chipped"},
                         headers=ewa).json()
    agent = make_key("support_agent")
    client.post(f"/api/v1/reviews/{review['id']}/moderation", json={"decision": "publish"}, headers=agent)

    potter = make_key("seller", seller_id=sellers[0])
    other = make_key("seller", seller_id=sellers[1])
    url = f"/api/v1/reviews/{review['id']}/reply"
    assert client.post(url, json={"body": "Not ours"}, headers=other).status_code == 404  # another seller's review
    assert client.post(url, json={"body": "Me too"}, headers=ewa).status_code == 403
    assert client.post(url, json={"body": ""}, headers=potter).status_code == 422
    r = client.post(url, json={"body": "Sorry! A new jug is on its way."}, headers=potter)
    assert r.status_code == 200 and r.json()["reply"] == "Sorry! A new jug is on its way."
    public = client.get("/api/v1/reviews", params={"product_id": jug}).json()["items"]
    assert public[0]["reply"] == "Sorry! A new jug is on its way."  # shoppers read the answer
    # staff may answer too (the last answer is the one shown)
    r = client.post(url, json={"body": "We also refunded the shipping."}, headers=agent)
    assert r.status_code == 200
    assert client.get("/api/v1/reviews", params={"product_id": jug}).json()["items"][0]["reply"] == \
        "We also refunded the shipping."
