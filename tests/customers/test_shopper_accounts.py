"""Storefront shopper accounts through the real API and a real local SMTP server: sign-up,
the confirmation mail, guest orders claimed only after the email is confirmed, sign-in with
the lockout, password reset (single use, expiring, ending other sessions), and shoppers who
cannot see each other's orders, invoices, addresses or saved carts."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from tests.web.conftest import seed_shop

PASSWORD = "lamp-lover-2026"
A = "/api/v1/storefront/account"


@pytest.fixture
def settings(settings, smtp_server):  # type: ignore[no-untyped-def]
    from pydantic import SecretStr

    return settings.model_copy(update={"smtp_url": SecretStr(smtp_server.url), "public_url": "https://shop.example.test"})


@pytest.fixture
def shop(db):  # type: ignore[no-untyped-def]
    return seed_shop(db)


def _link(message, path: str) -> str:  # type: ignore[no-untyped-def]
    body = message.get_body(("plain",)).get_content()
    match = re.search(r"https://shop\.example\.test" + re.escape(path) + r"\?token=(\S+)", body)
    assert match, body
    return match.group(1)


def _guest_order(client, email: str, provider: str = "test") -> dict:  # type: ignore[no-untyped-def]
    payment = {"provider": provider} | ({"behaviour": "succeed"} if provider == "test" else {})
    r = client.post("/api/v1/orders", json={"channel": "web", "customer": {"email": email},
                                            "lines": [{"sku": "MUG-1", "quantity": 1}],
                                            "fulfilment": {"type": "ship"}, "payment": payment})
    assert r.status_code == 201, r.text
    return r.json()


def _open_account(client, smtp_server, email: str, *, first: str = "Ann") -> str:  # type: ignore[no-untyped-def]
    """Sign up and confirm; returns the bearer."""
    before = len(smtp_server.messages)
    r = client.post(f"{A}/sign-up", json={"email": email, "password": PASSWORD, "first_name": first})
    assert r.status_code == 202, r.text
    mail = smtp_server.wait_for(before + 1)[before]
    assert mail["To"] == email and mail["Subject"] == "Confirm your email address"
    r = client.post(f"{A}/verify", json={"token": _link(mail, "/account/verify"), "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["token"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.backends("sqlite", "postgresql")
def test_guest_orders_are_claimed_only_once_the_email_is_confirmed(client, shop, smtp_server):
    earlier = _guest_order(client, "Ann.Guest@Example.com")  # a guest order, mixed case
    r = client.post(f"{A}/sign-up", json={"email": "ann.guest@example.com", "password": PASSWORD,
                                          "first_name": "Ann"})
    assert r.status_code == 202
    mail = smtp_server.wait_for(1)[0]
    token = _link(mail, "/account/verify")
    # the token is in the mail only: not in any event or the audit log
    with client.app.state.db.engine.connect() as conn:
        payloads = " ".join(str(p) for p in conn.execute(sa.text("SELECT payload FROM outbox_events")).scalars())
        audit = " ".join(str(p) for p in conn.execute(sa.text("SELECT after FROM audit_log")).scalars())
    assert token not in payloads and token.split(".")[0] not in payloads and token.split(".")[0] not in audit

    # before confirming: no sign-in, so nothing of the guest's is visible to whoever signed up
    r = client.post(f"{A}/sign-in", json={"email": "ann.guest@example.com", "password": PASSWORD})
    assert r.status_code == 403 and r.json()["type"].endswith("email-not-verified")
    # the link alone activates nothing: the password chosen at sign-up is needed
    wrong = client.post(f"{A}/verify", json={"token": token, "password": "not-the-password"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "password"
    r = client.post(f"{A}/verify", json={"token": token, "password": PASSWORD})
    assert r.status_code == 200, r.text
    session = r.json()
    assert session["token"].startswith("mxs_") and session["account"]["status"] == "active"
    me = _bearer(session["token"])
    orders = client.get("/api/v1/orders", headers=me).json()["items"]
    assert [o["number"] for o in orders] == [earlier["number"]]  # the guest order is now the account's
    assert client.get(f"/api/v1/orders/{earlier['id']}", headers=me).status_code == 200
    record = client.get("/api/v1/customers/me", headers=me).json()
    assert record["id"] == earlier["customer_id"] and record["is_guest"] is False
    # the link is single use
    again = client.post(f"{A}/verify", json={"token": token, "password": PASSWORD})
    assert again.status_code == 422 and again.json()["errors"][0]["code"] == "token_used"
    # a signed-in shopper's order is theirs
    placed = client.post("/api/v1/orders", headers=me, json={
        "channel": "web", "customer": {}, "lines": [{"sku": "LAMP-DESK", "quantity": 1}],
        "fulfilment": {"type": "ship"}, "payment": {"provider": "manual"}})
    assert placed.status_code == 201, placed.text
    assert placed.json()["customer_id"] == record["id"]
    assert len(client.get("/api/v1/orders", headers=me).json()["items"]) == 2


def test_signing_up_with_an_email_that_has_an_account_changes_nothing_and_tells_the_owner(client, shop, smtp_server):
    me = _bearer(_open_account(client, smtp_server, "owner@example.com"))
    r = client.post(f"{A}/sign-up", json={"email": "owner@example.com", "password": "attacker-password"})
    assert r.status_code == 202  # the same answer as for a new email
    mail = smtp_server.wait_for(2)[1]
    assert mail["Subject"] == "You already have an account"
    assert client.post(f"{A}/sign-in", json={"email": "owner@example.com",
                                             "password": "attacker-password"}).status_code == 401
    assert client.post(f"{A}/sign-in", json={"email": "owner@example.com", "password": PASSWORD}).status_code == 200
    assert client.get(A, headers=me).json()["email"] == "owner@example.com"


def test_a_second_sign_up_for_a_pending_email_voids_the_first_link(client, shop, smtp_server):
    client.post(f"{A}/sign-up", json={"email": "pending@example.com", "password": "someone-elses-pass"})
    first = _link(smtp_server.wait_for(1)[0], "/account/verify")
    client.post(f"{A}/sign-up", json={"email": "pending@example.com", "password": PASSWORD})
    second = _link(smtp_server.wait_for(2)[1], "/account/verify")
    r = client.post(f"{A}/verify", json={"token": first, "password": "someone-elses-pass"})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "token_used"
    assert client.post(f"{A}/verify", json={"token": second, "password": PASSWORD}).status_code == 200


def test_wrong_passwords_lock_the_account_and_the_lockout_is_per_account(client, shop, smtp_server):
    _open_account(client, smtp_server, "locked@example.com")
    for _ in range(4):
        r = client.post(f"{A}/sign-in", json={"email": "locked@example.com", "password": "guess-guess"})
        assert r.status_code == 401 and r.json()["detail"] == "The email or password is not right."
    r = client.post(f"{A}/sign-in", json={"email": "locked@example.com", "password": "guess-guess"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    # locked: even the right password is refused until the lockout ends
    r = client.post(f"{A}/sign-in", json={"email": "locked@example.com", "password": PASSWORD})
    assert r.status_code == 429
    # an unknown email answers like a wrong password
    r = client.post(f"{A}/sign-in", json={"email": "nobody@example.com", "password": PASSWORD})
    assert r.status_code == 401 and r.json()["detail"] == "The email or password is not right."


def test_password_reset_is_single_use_expires_and_ends_other_sessions(client, shop, smtp_server, db):
    old = _bearer(_open_account(client, smtp_server, "reset@example.com"))
    assert client.get(A, headers=old).status_code == 200
    unknown = client.post(f"{A}/password-reset", json={"email": "nobody@example.com"})
    known = client.post(f"{A}/password-reset", json={"email": "reset@example.com"})
    assert unknown.status_code == known.status_code == 202
    assert unknown.json()["detail"].replace("nobody", "reset") == known.json()["detail"]
    mails = smtp_server.wait_for(2)
    assert len(mails) == 2 and mails[1]["Subject"] == "Reset your password"  # none for the unknown email
    token = _link(mails[1], "/account/reset")
    weak = client.post(f"{A}/password-reset/confirm", json={"token": token, "password": "short"})
    assert weak.status_code == 422 and weak.json()["errors"][0]["field"] == "password"
    r = client.post(f"{A}/password-reset/confirm", json={"token": token, "password": "a brand new secret"})
    assert r.status_code == 200, r.text
    assert client.get(A, headers=old).status_code == 401  # the other session ended
    assert client.get(A, headers=_bearer(r.json()["token"])).status_code == 200
    reused = client.post(f"{A}/password-reset/confirm", json={"token": token, "password": "another new secret"})
    assert reused.status_code == 422 and reused.json()["errors"][0]["code"] == "token_used"
    assert client.post(f"{A}/sign-in", json={"email": "reset@example.com", "password": PASSWORD}).status_code == 401

    # an expired link is refused
    client.post(f"{A}/password-reset", json={"email": "reset@example.com"})
    late = _link(smtp_server.wait_for(3)[2], "/account/reset")
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE customer_account_tokens SET expires_at = :t WHERE used_at IS NULL"),
                     {"t": dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)})
    r = client.post(f"{A}/password-reset/confirm", json={"token": late, "password": "too late secret"})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "token_expired"
    forged = client.post(f"{A}/password-reset/confirm", json={"token": late[:-3] + "abc", "password": "forged secret"})
    assert forged.status_code == 422 and forged.json()["errors"][0]["code"] == "token_invalid"


@pytest.mark.backends("sqlite", "postgresql")
def test_shoppers_cannot_see_each_others_orders_invoices_addresses_or_carts(client, shop, smtp_server):
    _guest_order(client, "a@example.com")  # paid by the test card provider: invoiced
    a = _bearer(_open_account(client, smtp_server, "a@example.com"))
    b = _bearer(_open_account(client, smtp_server, "b@example.com", first="Bob"))
    order = client.get("/api/v1/orders", headers=a).json()["items"][0]
    docs = client.get(f"/api/v1/invoices?order_id={order['id']}", headers=a).json()["items"]
    assert len(docs) == 1 and docs[0]["kind"] == "invoice"
    address = client.post(f"{A}/addresses", headers=a, json={
        "name": "Ann A", "line1": "ul. Długa 5", "city": "Kraków", "postal_code": "31-147", "country": "PL"}).json()
    assert address["default_shipping"] and address["default_billing"]  # the first address is the default
    work = client.post(f"{A}/addresses", headers=a, json={
        "label": "Work", "name": "Ann A", "line1": "Rondo 1", "city": "Warszawa", "country": "PL"}).json()
    assert not work["default_shipping"]
    assert client.post(f"{A}/addresses/{work['id']}/default-shipping", headers=a).json()["default_shipping"]
    book = {x["label"] or "first": x for x in client.get(f"{A}/addresses", headers=a).json()}
    assert book["Work"]["default_shipping"] and not book["first"]["default_shipping"]  # one default at a time
    assert book["first"]["default_billing"]
    assert client.post(f"{A}/addresses/{work['id']}/default-shipping", headers=b).status_code == 404
    cart = client.post(f"{A}/saved-carts", headers=a, json={"name": "Lamps", "lines": [
        {"sku": "LAMP-DESK", "quantity": 2}, {"sku": "LAMP-DESK", "quantity": 1}]}).json()
    assert cart["lines"] == [{"sku": "LAMP-DESK", "quantity": 3}]
    a_id = client.get("/api/v1/customers/me", headers=a).json()["id"]

    assert client.get("/api/v1/orders", headers=b).json()["items"] == []
    for path in (f"/api/v1/orders/{order['id']}", f"/api/v1/invoices/{docs[0]['id']}",
                 f"/api/v1/invoices/{docs[0]['id']}/pdf", f"{A}/addresses/{address['id']}",
                 f"{A}/saved-carts/{cart['id']}", f"/api/v1/customers/{a_id}", f"/api/v1/customers/{a_id}/export",
                 f"/api/v1/customers/{a_id}/consents"):
        assert client.get(path, headers=b).status_code == 404, path
    assert client.put(f"{A}/addresses/{address['id']}", headers=b, json={
        "name": "Bob", "line1": "x", "city": "y", "country": "PL"}).status_code == 404
    assert client.delete(f"{A}/addresses/{address['id']}", headers=b).status_code == 404
    assert client.delete(f"{A}/saved-carts/{cart['id']}", headers=b).status_code == 404
    assert client.post(f"/api/v1/customers/{a_id}/erase", headers=b).status_code == 404
    assert client.get(f"{A}/addresses", headers=b).json() == []
    # ... and A still has everything
    assert client.get(f"{A}/addresses/{address['id']}", headers=a).status_code == 200
    assert client.get(f"/api/v1/invoices/{docs[0]['id']}/pdf", headers=a).content.startswith(b"%PDF")


def test_export_then_erase_ends_every_session(client, shop, smtp_server):
    me = _bearer(_open_account(client, smtp_server, "gone@example.com"))
    client.post(f"{A}/addresses", headers=me, json={"name": "Gone", "line1": "1 Road", "city": "Poznań",
                                                    "country": "PL"})
    cid = client.get("/api/v1/customers/me", headers=me).json()["id"]
    export = client.get(f"/api/v1/customers/{cid}/export", headers=me)
    assert export.status_code == 200
    data = export.json()
    assert data["storefront_account"]["email"] == "gone@example.com" and len(data["addresses"]) == 1
    assert "scrypt$" not in export.text and "password_hash" not in export.text
    r = client.post(f"/api/v1/customers/{cid}/erase", headers=me)
    assert r.status_code == 200 and r.json()["erased"]["storefront_accounts"] == 1
    assert client.get(A, headers=me).status_code == 401
    assert client.post(f"{A}/sign-in", json={"email": "gone@example.com", "password": PASSWORD}).status_code == 401
