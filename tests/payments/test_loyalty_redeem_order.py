"""`POST /loyalty/redeem` spends points only against an existing, open order of that customer
(it used to return a discount for an order number that did not exist)."""

from __future__ import annotations


def test_redeem_needs_an_open_order_of_the_customer(shop):
    shop.basic(price="40.00")
    a = shop.admin
    r = shop.client.post("/api/v1/loyalty/programs", headers=a, json={
        "code": "club", "name": "Club", "currency": "EUR", "points_per_unit": "1", "point_value": "0.05"})
    assert r.status_code in (200, 201), r.text
    order = shop.order([("TEE", 1)], email="loyal@example.com").json()
    other = shop.order([("TEE", 1)], email="someone@example.com").json()
    cid = order["customer_id"]
    assert shop.client.post("/api/v1/loyalty/adjust", headers=a,
                            json={"customer_id": cid, "points": 100, "reason": "welcome"}).status_code == 200
    balance = lambda: shop.client.get(f"/api/v1/customers/{cid}/loyalty", headers=a).json()  # noqa: E731

    def redeem(ref: str, points: int = 10):  # type: ignore[no-untyped-def]
        return shop.client.post("/api/v1/loyalty/redeem", headers=a,
                                json={"customer_id": cid, "points": points, "order_ref": ref})

    before = balance()
    for ref in ("MX99999999", other["number"]):  # no such order; someone else's order
        r = redeem(ref)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "order_ref", r.text
    assert balance() == before  # nothing was spent
    assert redeem(order["number"], points=1000).json()["errors"][0]["field"] == "points"  # beyond the balance
    ok = redeem(order["number"])
    assert ok.status_code == 200 and ok.json()["discount"] == {"amount": "0.50", "currency": "EUR"}
    assert shop.client.post(f"/api/v1/orders/{order['id']}/cancel", headers=a).status_code == 200
    assert redeem(order["number"]).status_code == 422
