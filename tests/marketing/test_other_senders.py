"""Notifications of the other senders, driven through their producers' real APIs: a marketplace
seller refuses a line (sellers emits `seller_order.line_refunded`) and the customer is told, in
their language; a sales rep sends a quote (sales emits `quote.sent`) and the buyer gets its
link. The mail is read from the real local SMTP server."""

from __future__ import annotations

import pytest

from marketplace_helpers import Market
from sales_helpers import person, product


def _send(db, settings):  # type: ignore[no-untyped-def]
    from merx.marketing import sending

    return sending.dispatch_until_idle(db, settings=settings)


@pytest.mark.backends("sqlite", "postgresql")
def test_a_refused_marketplace_line_is_mailed_to_the_customer_in_their_language(client, db, settings, admin,
                                                                                make_key, smtp_server):
    m = Market(client, admin, make_key)
    m.product("GADGET-1", "50.00", "gadgets", name="Pocket gadget")
    m.product("MUG-1", "9.00", "home", name="Blue mug")
    _, b = m.seller("bravo")
    gadget = m.offer(b, "GADGET-1", "45.50", quantity=3)
    mug = m.offer(b, "MUG-1", "7.25", quantity=8)
    r = m.checkout([("GADGET-1", 1, gadget["id"]), ("MUG-1", 3, mug["id"])],
                   customer={"email": "ola@example.com", "first_name": "Ola", "locale": "pl"})
    assert r.status_code == 201, r.text
    order = r.json()
    _send(db, settings)
    before = len(smtp_server.wait_for(2))  # the order confirmation and payment received
    sub, = m.seller_orders(b)
    mug_line = next(ln for ln in sub["lines"] if ln["sku"] == "MUG-1")
    gadget_line = next(ln for ln in sub["lines"] if ln["sku"] == "GADGET-1")
    r = client.put(f"/api/v1/seller-orders/{sub['id']}/accept", headers=b, json={"lines": [
        {"line_id": gadget_line["id"], "accepted": True},
        {"line_id": mug_line["id"], "accepted": False, "reason": "brak towaru w magazynie"}]})
    assert r.status_code == 200, r.text
    assert {ln["sku"]: ln["refund_status"] for ln in r.json()["lines"]}["MUG-1"] == "refunded"

    # one mail: the line's explanation, which names the money paid back; the order's generic
    # refund notice (order.refunded with cause "undelivered_lines") is not sent beside it
    assert _send(db, settings).sent == 1
    got = smtp_server.wait_for(before + 1)
    assert not any(msg["Subject"].startswith("Zwrot pieniędzy za zamówienie") for msg in got[before:])
    refused = [msg for msg in got if "nie zostanie dostarczona" in msg["Subject"]]
    assert len(refused) == 1, [msg["Subject"] for msg in got]
    msg = refused[0]
    assert msg["To"] == "ola@example.com" and order["number"] in msg["Subject"]
    body = msg.get_body(("plain",)).get_content()
    assert "Dzień dobry Ola" in body
    assert "Bravo nie może dostarczyć 3 x Blue mug (MUG-1)" in body
    assert "brak towaru w magazynie" in body and "Zwróciliśmy 21.75 EUR" in body
    # the accepted line is not mentioned; nothing is sent twice
    assert "GADGET-1" not in body
    assert _send(db, settings).sent == 0
    assert len(smtp_server.wait_for(before + 2, timeout=0.5)) == before + 1


@pytest.mark.backends("sqlite", "postgresql")
def test_a_sent_quote_mails_its_link_to_the_buyer(client, db, settings, admin, smtp_server):
    rep = person(db, "sales_rep", "Rob Rep")
    product(db, "SEED-1", "100.00")
    r = client.post("/api/v1/accounts", headers=rep.headers, json={
        "name": "Green Leaf Gardens GmbH", "contacts": [{"name": "Anna Berg", "email": "anna@greenleaf.example"}]})
    assert r.status_code == 201, r.text
    account_id = r.json()["id"]
    r = client.post("/api/v1/quotes", headers=rep.headers,
                    json={"account_id": account_id, "lines": [{"sku": "SEED-1", "quantity": 3}]})
    assert r.status_code == 201, r.text
    quote = r.json()
    # a draft is not mailed
    assert _send(db, settings).sent == 0
    r = client.post(f"/api/v1/quotes/{quote['id']}/send", headers=rep.headers)
    assert r.status_code == 200, r.text
    token = r.json()["accept_url"].rsplit("/", 1)[1]

    assert _send(db, settings).sent == 1
    [msg] = smtp_server.wait_for(1)
    assert msg["To"] == "anna@greenleaf.example"
    assert msg["Subject"].startswith(f"Your quote {quote['number']}")
    body = msg.get_body(("plain",)).get_content()
    assert "Hello Anna" in body and "for Green Leaf Gardens GmbH" in body and "300.00 EUR" in body
    link = next(word for word in body.split() if word.endswith(f"/quote/{token}"))
    # the mailed link is the buyer's working link
    page = client.get("/quote/" + link.rsplit("/quote/", 1)[1])
    assert page.status_code == 200 and quote["number"] in page.text
    assert msg["List-Unsubscribe"] is None  # transactional
