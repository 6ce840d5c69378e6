"""Who sees which profile, consent, data export and erasure, and referral rewards."""

from __future__ import annotations

import pytest
import sqlalchemy as sa


def test_roles_see_only_the_profiles_they_may(client, make_key, new_customer, admin):
    rep_key = make_key("sales_rep", name="rep-a")
    rep_id = client.get("/api/v1/me", headers=rep_key).json()["user_id"]
    mine = new_customer(email="mine@example.com", sales_rep_user_id=rep_id)
    other = new_customer(email="other@example.com")
    me_key = make_key("customer", customer_id=mine["id"])

    for headers in (make_key("staff"), make_key("support_agent"), admin):
        for c in (mine, other):
            assert client.get(f"/api/v1/customers/{c['id']}/overview", headers=headers).status_code == 200
    assert client.get(f"/api/v1/customers/{mine['id']}/overview", headers=rep_key).status_code == 200
    assert client.get(f"/api/v1/customers/{other['id']}/overview", headers=rep_key).status_code == 404
    assert client.get(f"/api/v1/tracked-events?customer_id={other['id']}", headers=rep_key).status_code == 404
    assert client.get(f"/api/v1/customers/{mine['id']}/overview", headers=me_key).status_code == 200
    assert client.get(f"/api/v1/customers/{other['id']}/overview", headers=me_key).status_code == 404
    assert client.get(f"/api/v1/customers/{other['id']}/export", headers=me_key).status_code == 404
    assert client.get(f"/api/v1/customers/{mine['id']}/overview").status_code == 401
    assert client.get(f"/api/v1/customers/{mine['id']}/overview", headers=make_key("seller", seller_id=1)).status_code == 403
    # A customer cannot attach someone else's email to itself through identify.
    r = client.post("/api/v1/identify", json={"email": "other@example.com"}, headers=me_key)
    assert r.status_code == 409


def test_consent_export_and_erase(client, staff, admin, new_customer, emit_order, db):
    c = new_customer(email="eve@example.com", phone="+48600100400", first_name="Eve", last_name="Doe")
    client.post("/api/v1/events", json={"events": [{"type": "page_view", "anonymous_id": "eve-1",
                                                    "properties": {"url": "https://shop/eve"}}]})
    client.post("/api/v1/identify", json={"anonymous_id": "eve-1", "email": "eve@example.com"}, headers=staff)
    r = client.post(f"/api/v1/customers/{c['id']}/consents", json={"channel": "email", "granted": True,
                                                                    "source": "checkout"}, headers=staff)
    assert r.status_code == 201 and r.json()["email"]["granted"] is True
    client.post(f"/api/v1/customers/{c['id']}/consents", json={"channel": "email", "granted": False,
                                                                "source": "unsubscribe link"}, headers=staff)
    client.post(f"/api/v1/customers/{c['id']}/consents", json={"channel": "sms", "granted": True, "source": "store"},
                headers=staff)
    assert client.post(f"/api/v1/customers/{c['id']}/consents", json={"channel": "fax", "granted": True, "source": "x"},
                       headers=staff).status_code == 422
    consents = client.get(f"/api/v1/customers/{c['id']}/consents", headers=staff).json()
    assert consents["current"]["email"]["granted"] is False and consents["current"]["email"]["source"] == "unsubscribe link"
    assert len(consents["history"]) == 3
    order_id = emit_order(c["id"], "42.00")

    me = client.get(f"/api/v1/customers/{c['id']}/export", headers=staff)
    assert me.status_code == 200 and "attachment" in me.headers["content-disposition"]
    data = me.json()
    assert data["customer"]["email"] == "eve@example.com"
    assert [e["type"] for e in data["events"]][:1] == ["page_view"]
    assert {o["order_id"] for o in data["order_summaries"]} == {order_id}
    assert len(data["consents"]) == 3

    assert client.post(f"/api/v1/customers/{c['id']}/erase", headers=make_support(client, admin)).status_code == 403
    r = client.post(f"/api/v1/customers/{c['id']}/erase", headers=staff)
    assert r.status_code == 200, r.text
    assert client.get(f"/api/v1/customers/{c['id']}/overview", headers=staff).status_code == 404
    assert client.get("/api/v1/crm/lookup?email=eve@example.com", headers=staff).status_code == 404
    with db.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT email, phone, first_name, erased_at FROM customers WHERE id = :i"),
                           {"i": c["id"]}).one()
        assert row[:3] == (None, None, None) and row[3] is not None
        assert conn.execute(sa.text("SELECT count(*) FROM crm_identities WHERE customer_id = :i"), {"i": c["id"]}).scalar() == 0
        props = conn.execute(sa.text("SELECT properties, anonymous_id FROM crm_events WHERE customer_id = :i AND type = 'page_view'"),
                             {"i": c["id"]}).one()
        assert props == (None, None)
        # Order amounts stay for the books.
        assert conn.execute(sa.text("SELECT total_minor FROM crm_order_facts WHERE order_id = :o"),
                            {"o": order_id}).scalar() == 4200


def make_support(client, admin):  # type: ignore[no-untyped-def]
    key = client.post("/api/v1/api-keys", json={"name": "sup", "role": "support_agent"}, headers=admin).json()["key"]
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.backends("sqlite", "postgresql")
def test_referrer_is_rewarded_after_the_first_paid_order_and_contact_abuse_is_refused(client, staff, new_customer, emit_order, db):
    client.post("/api/v1/loyalty/programs", headers=staff, json={
        "code": "club", "name": "Club", "currency": "EUR", "points_per_unit": "1", "point_value": "0.01",
        "referral_reward_points": 500})
    ref = new_customer(email="john.smith@example.com", phone="+48600100500")
    code = client.post(f"/api/v1/customers/{ref['id']}/referral-code", headers=staff).json()["code"]
    emit_order(ref["id"], "10.00")

    def apply(customer_id: int):  # type: ignore[no-untyped-def]
        return client.post("/api/v1/referrals", json={"code": code, "referred_customer_id": customer_id}, headers=staff)

    assert apply(ref["id"]).json()["errors"][0]["code"] == "self_referral"
    alias = new_customer(email="johnsmith+promo@example.com")
    assert apply(alias["id"]).json()["errors"][0]["code"] == "same_email"
    # The referrer's phone cannot even become another profile's identifier (one owner per
    # identifier), so "same phone" abuse is stopped before a referral is attempted.
    twin = new_customer(email="twin@example.org")
    from merx.core.uow import UnitOfWork
    from merx.crm.identity import add_identity

    with UnitOfWork(db) as uow:
        assert add_identity(uow, twin["id"], "phone", "+48600100500", source="store") is None

    friend = new_customer(email="friend@example.com")
    r = apply(friend["id"])
    assert r.status_code == 201 and r.json()["status"] == "pending"
    assert apply(friend["id"]).status_code == 409
    emit_order(friend["id"], "20.00", paid=False)
    points = lambda: sum(a["balance"] for a in client.get(  # noqa: E731
        f"/api/v1/customers/{ref['id']}/loyalty", headers=staff).json()["accounts"])
    assert points() == 10  # only the referrer's own order so far: placed is not paid
    emit_order(friend["id"], "20.00")
    assert points() == 510
    emit_order(friend["id"], "20.00")
    assert points() == 510  # rewarded once
    # A referred customer paying with the referrer's own card: test_order_facts_from_orders.py
    ledger = client.get(f"/api/v1/customers/{ref['id']}/loyalty", headers=staff).json()["ledger"]
    assert [e["kind"] for e in ledger].count("referral") == 1


def _undo_order(db, order_id: int, customer_id: int, total: str, *, cancelled: bool) -> None:  # type: ignore[no-untyped-def]
    """What the orders context emits when an order is cancelled, or paid back in full."""
    from merx.core.money import Money
    from merx.core.uow import UnitOfWork
    from merx.orders.events import OrderCancelled, OrderRefunded

    common = dict(order_id=order_id, number=f"M-{order_id}", customer_id=customer_id, total=total, currency="EUR",
                  previous_status="paid")
    event = (OrderCancelled(**common, status="cancelled", reason="changed my mind", payment_status="refunded")
             if cancelled else
             OrderRefunded(**common, status="refunded", amount=Money.of(total, "EUR"),
                           refunded_total=Money.of(total, "EUR"), return_id=None, payment_status="refunded"))
    with UnitOfWork(db) as uow:
        uow.emit(event, version=3)
        uow.commit()


@pytest.mark.backends("sqlite", "postgresql")
@pytest.mark.parametrize("cancelled", [True, False], ids=["cancelled", "refunded"])
def test_a_referral_reward_is_taken_back_when_the_qualifying_order_is_cancelled_or_refunded(
        client, staff, new_customer, emit_order, db, cancelled):
    client.post("/api/v1/loyalty/programs", headers=staff, json={
        "code": "club", "name": "Club", "currency": "EUR", "points_per_unit": "1", "point_value": "0.01",
        "referral_reward_points": 500})
    ref = new_customer(email="ria@example.com")
    code = client.post(f"/api/v1/customers/{ref['id']}/referral-code", headers=staff).json()["code"]
    friend = new_customer(email="friend@example.org")
    r = client.post("/api/v1/referrals", json={"code": code, "referred_customer_id": friend["id"]}, headers=staff)
    assert r.status_code == 201, r.text

    def referrer() -> dict:  # type: ignore[type-arg]
        return client.get(f"/api/v1/customers/{ref['id']}/loyalty", headers=staff).json()

    order_id = emit_order(friend["id"], "20.00")
    assert referrer()["accounts"][0]["balance"] == 500
    _undo_order(db, order_id, friend["id"], "20.00", cancelled=cancelled)
    account = referrer()["accounts"][0]
    assert account["balance"] == 0 and account["lifetime_points"] == 0
    assert [e["points"] for e in referrer()["ledger"] if e["kind"] == "clawback"] == [-500]
    from merx.core.uow import UnitOfWork
    from merx.crm.referrals import referrals_of

    with UnitOfWork(db) as uow:
        assert [x["status"] for x in referrals_of(uow, friend["id"])] == ["revoked"]
    _undo_order(db, order_id, friend["id"], "20.00", cancelled=cancelled)  # seen twice: nothing twice
    assert referrer()["accounts"][0]["balance"] == 0
    told = client.get("/api/v1/events", params={"type": "referral.revoked"}, headers=staff)
    assert told.status_code == 200, told.text
    [event] = told.json()["items"]
    assert event["payload"]["referrer_id"] == ref["id"] and event["payload"]["points"] == 500
