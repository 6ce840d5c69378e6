"""Per-seller rate limits: all of a seller's keys share one budget on the marketplace routes
("seller_api"); another seller and staff are not held back by it."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_a_sellers_keys_share_one_budget(db, settings, make_key):
    from merx.app import create_app

    app = create_app(settings.model_copy(update={"rate_limits": {"seller_api": "3/minute"}}), db)
    with TestClient(app, raise_server_exceptions=False) as client:
        admin = make_key("admin")
        ids = [client.post("/api/v1/sellers", json={"code": c, "name": c.title()}, headers=admin).json()["id"]
               for c in ("alfa", "bravo")]
        first, second = make_key("seller", seller_id=ids[0]), make_key("seller", seller_id=ids[0])
        other = make_key("seller", seller_id=ids[1])
        codes = [client.get("/api/v1/offers", headers=key).status_code for key in (first, second, first, second)]
        assert codes == [200, 200, 200, 429]
        limited = client.get("/api/v1/seller-orders", headers=first)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
        assert limited.headers["content-type"].startswith("application/problem+json")
        assert client.get("/api/v1/offers", headers=other).status_code == 200
        assert all(client.get("/api/v1/offers", headers=admin).status_code == 200 for _ in range(5))
