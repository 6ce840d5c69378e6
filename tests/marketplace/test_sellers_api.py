def test_staff_manage_sellers_and_a_seller_sees_only_itself(client, admin, make_key):
    a = client.post("/api/v1/sellers", json={"code": "acme", "name": "ACME", "premium": True, "rating": "4.5"}, headers=admin)
    assert a.status_code == 201, a.text
    b = client.post("/api/v1/sellers", json={"code": "bolt", "name": "Bolt"}, headers=admin).json()
    dup = client.post("/api/v1/sellers", json={"code": "acme", "name": "Again"}, headers=admin)
    assert dup.status_code == 409 and dup.json()["errors"][0]["field"] == "code"
    seller_a = make_key("seller", seller_id=a.json()["id"])
    assert client.get(f"/api/v1/sellers/{a.json()['id']}", headers=seller_a).json()["premium"] is True
    assert client.get(f"/api/v1/sellers/{b['id']}", headers=seller_a).status_code == 404
    assert client.get("/api/v1/sellers", headers=seller_a).status_code == 403
    assert client.post("/api/v1/sellers", json={"code": "x", "name": "X"}, headers=seller_a).status_code == 403
    bad = client.post("/api/v1/sellers", json={"code": "y", "name": "Y", "rating": "7"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "rating"
