"""A payment link is valid for MERX_INSTORE_PAYMENT_LINK_HOURS (72 h) after it was issued: the
order placed, or the link sent again. Past that, the page answers 410 with a page saying so and
the API a 410 problem naming the link; the order cannot be paid through it. Sending the link
again gives it a fresh period. A paid or cancelled order's page stays as it was. Real HTTP
through the ASGI app on real databases; the clock is moved by back-dating instore's own row."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import sqlalchemy as sa

from instore_shop import chain, staff_key  # noqa: F401 - chain: the fixture
from payment_shop import settings  # noqa: F401  (the shop takes card payments: testcard enabled)

CARD = "4242 4242 4242 4242"  # the test gateway pays it at once
ADDRESS = {"line1": "ul. Prosta 5", "city": "Warszawa", "postal_code": "00-001", "country": "PL"}


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def _link_order(client: Any, db: Any, chain: Any) -> tuple[dict[str, Any], str]:
    placed = client.post("/api/v1/instore/stores/ST-WAW/orders", headers=staff_key(db, chain.users["waw"]), json={
        "customer_id": chain.customers["anna"], "lines": [{"sku": "KETTLE-1", "quantity": 1}], "fulfilment": "ship",
        "address": ADDRESS, "payment_mode": "link"})
    assert placed.status_code == 201, placed.text
    return placed.json()["order"], placed.json()["payment_link"]


def _issued_ago(db: Any, order_id: int, hours: float, *, column: str = "payment_link_issued_at") -> None:
    """Back-date the link's issue time (or, for a never re-sent link, the order's placement)."""
    from merx.core.uow import UnitOfWork
    from merx.instore.models import AssistedOrder

    when = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=hours)
    with UnitOfWork(db) as uow:
        uow.session.execute(sa.update(AssistedOrder).where(AssistedOrder.order_id == order_id)
                            .values({column: when}))
        uow.session.commit()


def _payment(client: Any, db: Any, chain: Any, order_id: int) -> tuple[str, str, str]:
    got = client.get(f"/api/v1/orders/{order_id}", headers=staff_key(db, chain.users["admin"])).json()
    return got["status"], got["payment"]["provider"], got["payment"]["status"]


@pytest.mark.backends("sqlite", "postgresql")
def test_an_expired_link_is_refused_and_sending_it_again_makes_it_payable(client: Any, db: Any, chain: Any) -> None:
    order, link = _link_order(client, db, chain)
    api = f"/api/v1/instore/payment-links/{link.removeprefix('/pay/')}"
    # fresh: the page offers the card form, the API the order
    fresh = client.get(link)
    assert fresh.status_code == 200 and 'id="pay-now"' in fresh.text
    assert client.get(api).status_code == 200
    csrf = _csrf(fresh.text)

    # 71 h later it still works; 73 h later it does not
    _issued_ago(db, order["id"], 71, column="created_at")
    assert client.get(api).status_code == 200
    _issued_ago(db, order["id"], 73, column="created_at")
    page = client.get(link)
    assert page.status_code == 410
    assert "This payment link has expired: ask the store to send you a new one." in page.text
    assert order["number"] in page.text and 'id="pay-now"' not in page.text
    refused = client.post(link, data={"csrf_token": csrf, "provider": "testcard", "card": CARD})
    assert refused.status_code == 410 and 'id="pay-expired"' in refused.text
    gone = client.get(api)
    assert gone.status_code == 410 and gone.headers["content-type"].startswith("application/problem+json")
    problem = gone.json()
    assert problem["type"].endswith("/payment-link-expired") and problem["order_number"] == order["number"]
    assert "payment link" in problem["detail"] and "new one" in problem["detail"]
    assert client.post(f"{api}/pay", json={"provider": "testcard", "card": CARD}).status_code == 410
    assert _payment(client, db, chain, order["id"]) == ("confirmed", "manual", "awaiting")  # nothing charged

    # the associate sends it again: a fresh period, and the customer pays through it
    sent = client.post(f"/api/v1/instore/stores/ST-WAW/orders/{order['id']}/payment-link/send",
                       headers=staff_key(db, chain.users["waw"]))
    assert sent.status_code == 200, sent.text
    again = client.get(sent.json()["link"])
    assert again.status_code == 200 and 'id="pay-now"' in again.text
    paid = client.post(sent.json()["link"], data={"csrf_token": _csrf(again.text), "provider": "testcard",
                                                  "card": CARD})
    assert paid.status_code == 200 and 'id="paid"' in paid.text
    assert _payment(client, db, chain, order["id"])[1:] == ("testcard", "captured")

    # a re-sent link expires too, counted from the re-send
    _issued_ago(db, order["id"], 80)
    # ... but a paid order's page keeps saying it is paid, as before
    after = client.get(sent.json()["link"])
    assert after.status_code == 200 and 'id="paid"' in after.text


@pytest.mark.backends("sqlite")
def test_a_re_sent_link_runs_out_from_the_re_send(client: Any, db: Any, chain: Any) -> None:
    order, link = _link_order(client, db, chain)
    sent = client.post(f"/api/v1/instore/stores/ST-WAW/orders/{order['id']}/payment-link/send",
                       headers=staff_key(db, chain.users["waw"]))
    assert sent.status_code == 200
    _issued_ago(db, order["id"], 100, column="created_at")  # placed long ago, sent just now
    assert client.get(link).status_code == 200
    _issued_ago(db, order["id"], 73)
    assert client.get(link).status_code == 410


@pytest.mark.backends("sqlite")
def test_the_period_is_a_setting(client: Any, db: Any, chain: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from merx.instore.settings import get_instore_settings

    monkeypatch.setenv("MERX_INSTORE_PAYMENT_LINK_HOURS", "2")
    get_instore_settings.cache_clear()
    try:
        order, link = _link_order(client, db, chain)
        _issued_ago(db, order["id"], 1, column="created_at")
        assert client.get(link).status_code == 200
        _issued_ago(db, order["id"], 3, column="created_at")
        assert client.get(link).status_code == 410
    finally:
        monkeypatch.delenv("MERX_INSTORE_PAYMENT_LINK_HOURS")
        get_instore_settings.cache_clear()


@pytest.mark.backends("sqlite")
def test_a_cancelled_orders_expired_link_still_says_it_is_cancelled(client: Any, db: Any, chain: Any) -> None:
    order, link = _link_order(client, db, chain)
    admin = staff_key(db, chain.users["admin"])
    cancelled = client.post(f"/api/v1/orders/{order['id']}/cancel", headers=admin, json={"reason": "changed mind"})
    assert cancelled.status_code == 200, cancelled.text
    _issued_ago(db, order["id"], 200, column="created_at")
    page = client.get(link)
    assert page.status_code == 200 and 'id="pay-cancelled"' in page.text


@pytest.mark.backends("sqlite")
def test_the_receipt_says_the_link_expired_and_sending_it_again_from_there_renews_it(
        client: Any, db: Any, chain: Any) -> None:
    from instore_shop import PASSWORD

    page = client.get("/associate/login")
    client.post("/associate/login", data={"email": chain.users["waw"], "password": PASSWORD,
                                          "csrf_token": _csrf(page.text), "next": "/associate"})
    csrf = _csrf(client.get("/associate").text)
    order, link = _link_order(client, db, chain)
    receipt = client.get(f"/associate/orders/{order['id']}")
    assert 'id="link-valid"' in receipt.text and 'id="link-expired"' not in receipt.text
    _issued_ago(db, order["id"], 73, column="created_at")
    receipt = client.get(f"/associate/orders/{order['id']}")
    assert 'id="link-expired"' in receipt.text and "send it again" in receipt.text
    assert client.get(link).status_code == 410
    done = client.post(f"/associate/orders/{order['id']}/send-link", data={"csrf_token": csrf})
    assert "The payment link is sent to the customer" in done.text and 'id="link-valid"' in done.text
    assert client.get(link).status_code == 200
