"""Staff place an order for a customer from the console over the real ASGI stack (issue #20):
preview it (prices and total, nothing written), refusals beside their field (an unknown SKU
beside its row, a missing city beside the city, more than is in stock), then place it paid
later; sending the same form twice places one order; support and sales reps cannot."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.conftest import csrf_of, form_sign_in as sign_in


def _field_error(html: str, key: str) -> str:
    m = re.search(rf'data-field="{re.escape(key)}"[^>]*>([^<]+)<', html)
    assert m, f"no message next to {key}"
    return m.group(1)


def _customer(db: Any) -> int:
    from merx.core.uow import UnitOfWork
    from merx.customers import service as customers
    from merx.customers.schemas import CustomerCreate

    with UnitOfWork(db) as uow:
        return customers.create_customer(uow, CustomerCreate(email="phone@example.com", first_name="Piotr",
                                                             country="PL")).id


def _orders_of(client: Any, cid: int) -> list[dict[str, Any]]:
    return client.get("/api/v1/orders", params={"customer_id": cid}).json()["items"]


@pytest.mark.backends("sqlite", "postgresql")
def test_staff_preview_and_place_an_order_for_a_customer_once(client, shop, db):
    cid = _customer(db)
    sign_in(client, shop.users["staff"])
    assert f"/console/new-order?customer_id={cid}" in client.get(f"/console/customers/{cid}").text
    page = client.get("/console/new-order", params={"customer_id": cid})
    assert page.status_code == 200 and "phone@example.com" in page.text
    token = csrf_of(page.text)
    form_key = re.search(r'name="form_key" value="([^"]+)"', page.text).group(1)
    base = {"csrf_token": token, "form_key": form_key, "customer_id": str(cid), "channel": "web",
            "sku0": "LAMP-DESK", "qty0": "2", "sku1": "KETTLE-1", "qty1": "3", "fulfilment": "pickup",
            "location": "ST-WAW"}

    preview = client.post("/console/new-order", data={**base, "action": "preview"})
    assert preview.status_code == 200
    assert re.search(r'id="preview-total"><strong>205\.70 EUR', preview.text)  # 2 × 49.00 + 3 × 35.90
    assert _orders_of(client, cid) == []  # a preview places nothing

    # each refused form comes back with a fresh key: a corrected form is a new request
    unknown = client.post("/console/new-order", data={**base, "sku1": "NO-SUCH", "action": "place"})
    assert unknown.status_code == 422 and "NO-SUCH" in _field_error(unknown.text, "line1")
    assert 'value="NO-SUCH"' in unknown.text
    no_city = client.post("/console/new-order", data={**base, "fulfilment": "ship", "address.line1": "Długa 1",
                                                      "address.country": "PL", "action": "preview"})
    assert no_city.status_code == 422 and _field_error(no_city.text, "address.city")
    too_many = client.post("/console/new-order", data={**base, "qty0": "500", "action": "place"})
    assert too_many.status_code == 422 and "LAMP-DESK" in too_many.text
    nobody = client.post("/console/new-order", data={**base, "customer_id": "", "action": "place"})
    assert nobody.status_code == 422 and _field_error(nobody.text, "customer_id")
    assert _orders_of(client, cid) == []

    base["form_key"] = re.search(r'name="form_key" value="([^"]+)"', nobody.text).group(1)
    placed = client.post("/console/new-order", data={**base, "action": "place"}, follow_redirects=False)
    assert placed.status_code == 303
    url = placed.headers["location"]
    order = client.get(f"/api/v1/orders/{int(url.rsplit('/', 1)[1])}").json()
    assert order["customer_id"] == cid and order["totals"]["total"] == "205.70"
    assert order["payment"]["provider"] == "manual"
    assert sorted((ln["sku"], ln["quantity"]) for ln in order["lines"]) == [("KETTLE-1", 3), ("LAMP-DESK", 2)]

    again = client.post("/console/new-order", data={**base, "action": "place"}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == url  # the same order, not a second one
    assert len(_orders_of(client, cid)) == 1


def test_only_admin_and_staff_place_orders_for_customers(client, shop, db):
    cid = _customer(db)
    for role in ("support_agent", "sales_rep"):
        client.cookies.clear()
        sign_in(client, shop.users[role])
        assert client.get("/console/new-order").status_code == 403
        token = csrf_of(client.get("/console/password").text)
        assert client.post("/console/new-order", data={
            "csrf_token": token, "form_key": "k", "customer_id": str(cid), "sku0": "MUG-1", "qty0": "1",
            "fulfilment": "pickup", "location": "ST-WAW", "action": "place"}).status_code == 403
    client.cookies.clear()
    sign_in(client, shop.users["admin"])
    assert _orders_of(client, cid) == []
