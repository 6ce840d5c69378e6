"""The test card gateway through checkout: frictionless, declined, 3-D Secure challenge,
delayed confirmation; signed webhooks (replays, out of order, bad signatures, unknown
payments); partial capture and refund limits."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from standardwebhooks.webhooks import Webhook

from merx.core.uow import UnitOfWork
from merx.payments import public as payments

CHALLENGE = "4000 0027 6000 3184"
DELAYED = "4000 0000 0000 0077"


def _secret(db):  # type: ignore[no-untyped-def]
    with UnitOfWork(db) as uow:
        return payments.webhook_secret(uow, "testcard")


def _post_webhook(shop, kind: str, reference: str, amount: str | None, *, event_id: str, secret: str | None = None,
                  currency: str = "EUR"):  # type: ignore[no-untyped-def]
    """Signed with the standardwebhooks library, independently of merx's own signing code."""
    body = json.dumps({"id": event_id, "type": f"payment.{kind}", "created": dt.datetime.now(dt.timezone.utc).isoformat(),
                       "data": {"reference": reference, "amount": amount, "currency": currency}})
    msg_id = "msg_" + event_id
    ts = dt.datetime.now(dt.timezone.utc)
    signature = Webhook(secret or _secret(shop.db)).sign(msg_id, ts, body)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(ts.timestamp())), "webhook-signature": signature,
               "content-type": "application/json"}
    return shop.client.post("/api/v1/payments/webhooks/testcard", content=body, headers=headers)


def _challenge_order(shop):  # type: ignore[no-untyped-def]
    r = shop.order([("TEE", 1)], payment={"provider": "testcard", "card": CHALLENGE})
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "pending" and order["payment"]["status"] == "action_required"
    return order


@pytest.mark.backends("sqlite", "postgresql")
def test_frictionless_card_pays_at_once(shop):
    shop.basic()
    r = shop.order([("TEE", 2)], payment={"provider": "testcard", "card": "4242 4242 4242 4242"})
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["status"] == "paid" and order["payment"]["status"] == "captured"
    p = shop.payment_of(order["id"])
    assert (p["status"], p["authorized"], p["captured"]) == ("captured", "200.00", "200.00")


def test_declined_card_cancels_the_order_and_releases_stock(shop):
    shop.basic()
    r = shop.order([("TEE", 3)], payment={"provider": "testcard", "card": "4000 0000 0000 0002"})
    assert r.status_code == 402 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["order_status"] == "cancelled"
    assert shop.reserved("TEE") == 0


@pytest.mark.backends("sqlite", "postgresql")
def test_three_d_secure_challenge_approved_on_the_gateway_page_pays_the_order(shop):
    shop.basic()
    order = _challenge_order(shop)
    url = order["payment"]["action_url"]
    assert url.startswith("/pay/testcard/challenge")
    page = shop.client.get(url)
    assert page.status_code == 200 and "100.00 EUR" in page.text
    # nothing is paid before the bank answers
    assert shop.get_order(order["id"])["status"] == "pending"
    ref = order["payment"]["reference"]
    r = shop.client.post("/pay/testcard/challenge", data={"reference": ref, "outcome": "approve",
                                                          "return_to": "/order/x"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/order/x"
    after = shop.get_order(order["id"])
    assert after["status"] == "paid" and after["payment"]["status"] == "captured"
    assert shop.events("order.paid", order["id"]) == 1
    # the challenge is over
    assert shop.client.get(url).status_code == 404


def test_failed_challenge_cancels_the_order(shop):
    shop.basic()
    order = _challenge_order(shop)
    r = shop.client.post("/pay/testcard/challenge", data={"reference": order["payment"]["reference"],
                                                          "outcome": "fail"}, follow_redirects=False)
    assert r.status_code == 303
    after = shop.get_order(order["id"])
    assert after["status"] == "cancelled" and after["payment"]["status"] == "failed"
    assert shop.reserved("TEE") == 0


@pytest.mark.backends("sqlite", "postgresql")
def test_replayed_and_out_of_order_webhooks_change_nothing_twice(shop):
    shop.basic()
    order = _challenge_order(shop)
    ref = order["payment"]["reference"]
    # the capture arrives before the authorisation
    r = _post_webhook(shop, "captured", ref, "100.00", event_id="evt_cap")
    assert r.status_code == 200 and r.json()["outcomes"] == ["applied"], r.text
    paid = shop.get_order(order["id"])
    assert paid["status"] == "paid"
    # the late authorisation is stale; replays of both are duplicates
    assert _post_webhook(shop, "authorized", ref, "100.00", event_id="evt_auth").json()["outcomes"] == ["stale"]
    assert _post_webhook(shop, "captured", ref, "100.00", event_id="evt_cap").json()["outcomes"] == ["duplicate"]
    assert _post_webhook(shop, "authorized", ref, "100.00", event_id="evt_auth").json()["outcomes"] == ["duplicate"]
    # a decline arriving after all that cannot undo the payment
    assert _post_webhook(shop, "declined", ref, None, event_id="evt_decl").json()["outcomes"] == ["stale"]
    after = shop.get_order(order["id"])
    assert after["version"] == paid["version"] and after["status"] == "paid"
    assert shop.events("order.paid", order["id"]) == 1 and shop.events("order.confirmed", order["id"]) == 1
    p = shop.payment_of(order["id"])
    assert (p["captured"], p["status"]) == ("100.00", "captured")
    assert shop.count("payment_notifications") == 3  # captured, authorized, declined: each stored once


def test_bad_signature_and_unknown_payment_are_refused_and_change_nothing(shop):
    shop.basic()
    order = _challenge_order(shop)
    ref = order["payment"]["reference"]
    bad = _post_webhook(shop, "authorized", ref, "100.00", event_id="evt_1",
                        secret="whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=")
    assert bad.status_code == 401 and bad.headers["content-type"] == "application/problem+json"
    unsigned = shop.client.post("/api/v1/payments/webhooks/testcard", json={"id": "evt_2"})
    assert unsigned.status_code == 401
    unknown = _post_webhook(shop, "authorized", "tc_doesnotexist", "100.00", event_id="evt_3")
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["code"] == "unknown_transaction"
    assert shop.count("payment_notifications") == 0
    assert shop.get_order(order["id"])["status"] == "pending"


def test_delayed_confirmation_arrives_by_the_gateway_job(shop, db, settings):
    from merx.core.jobs import Scheduler, run_due_jobs
    from merx.payments import jobs

    shop.basic()
    r = shop.order([("TEE", 1)], payment={"provider": "testcard", "card": DELAYED})
    order = r.json()
    assert order["status"] == "pending" and order["payment"]["status"] == "pending"
    scheduler = Scheduler()
    jobs.register(scheduler)
    run_due_jobs(db, scheduler, now=dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1), settings=settings)
    assert shop.get_order(order["id"])["status"] == "paid"


@pytest.mark.backends("sqlite", "postgresql")
def test_partial_capture_and_refund_within_limits_with_idempotency_keys(shop):
    shop.basic()
    r = shop.order([("TEE", 1)], payment={"provider": "testcard", "card": "4242424242424242", "capture": False})
    order = r.json()
    assert order["status"] == "confirmed" and order["payment"]["status"] == "authorized"
    pid = shop.payment_of(order["id"])["id"]
    h = lambda key: {**shop.admin, "Idempotency-Key": key}  # noqa: E731
    over = shop.client.post(f"/api/v1/payments/{pid}/capture", json={"amount": "100.01"}, headers=h("c0"))
    assert over.status_code == 422 and over.json()["errors"][0]["code"] == "above_authorized"
    no_key = shop.client.post(f"/api/v1/payments/{pid}/capture", json={"amount": "10.00"}, headers=shop.admin)
    assert no_key.status_code == 422
    r1 = shop.client.post(f"/api/v1/payments/{pid}/capture", json={"amount": "100.00"}, headers=h("c1"))
    assert r1.status_code == 200 and r1.json()["captured"] == "100.00", r1.text
    assert shop.get_order(order["id"])["status"] == "paid"
    too_much = shop.client.post(f"/api/v1/payments/{pid}/refund", json={"amount": "100.50"}, headers=h("r0"))
    assert too_much.status_code == 422 and too_much.json()["errors"][0]["code"] == "above_captured"
    for _ in range(2):  # the same key twice refunds once
        rr = shop.client.post(f"/api/v1/payments/{pid}/refund", json={"amount": "30.00"}, headers=h("r1"))
        assert rr.status_code == 200, rr.text
    p = shop.payment_of(order["id"])
    assert (p["refunded"], p["status"]) == ("30.00", "partially_refunded")
    o = shop.get_order(order["id"])
    assert o["totals"]["refunded"] == "30.00" and o["payment"]["status"] == "partially_refunded"
    assert shop.events("order.refunded", order["id"]) == 1
    rest = shop.client.post(f"/api/v1/payments/{pid}/refund", json={"amount": "70.01"}, headers=h("r2"))
    assert rest.status_code == 422


def test_customer_cannot_touch_payments(shop, make_key):
    shop.basic()
    order = shop.order([("TEE", 1)], payment={"provider": "testcard"}).json()
    pid = shop.payment_of(order["id"])["id"]
    cust = make_key("customer", customer_id=order["customer_id"])
    assert shop.client.get("/api/v1/payments", headers=cust).status_code == 403
    r = shop.client.post(f"/api/v1/payments/{pid}/refund", json={"amount": "1.00"},
                         headers={**cust, "Idempotency-Key": "x"})
    assert r.status_code == 403


def test_pay_at_pickup_collected_at_the_counter_is_captured_in_the_ledger(shop):
    shop.basic()
    shop.location("SHOP1", kind="store", pickup=True)
    shop.stock("TEE", "SHOP1", 5)
    r = shop.order([("TEE", 1)], fulfilment={"type": "pickup", "location": "SHOP1"}, payment={"provider": "cod"})
    assert r.status_code == 201, r.text
    order = r.json()
    assert (order["status"], order["payment"]["status"]) == ("confirmed", "awaiting")
    a = shop.admin
    assert shop.client.post(f"/api/v1/orders/{order['id']}/ready-for-pickup", headers=a).status_code == 200
    done = shop.client.post(f"/api/v1/orders/{order['id']}/picked-up", headers=a,
                            json={"location": "SHOP1", "payment_collected": True})
    assert done.status_code == 200 and done.json()["payment"]["status"] == "captured", done.text
    p = shop.payment_of(order["id"])
    assert (p["status"], p["captured"]) == ("captured", "100.00")
