"""Console sign-in hardening (issue 23, findings 1 and 13) over the real ASGI app: no cookie
forged with the old public key, CSRF bound to the session, sessions that end on the server,
lockout with backoff per account, and unknown emails costing a password hash."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer

from merx.core import accounts
from merx.core.auth import Role
from merx.core.models import ApiKey, UserSession
from merx.core.sessions import FIRST_LOCKOUT, lockout_length
from merx.core.uow import UnitOfWork
from tests.web.conftest import PASSWORD, csrf_of, form_sign_in as sign_in
from cookie_jar import replace_cookie

OLD_PUBLIC_KEY = "dev-insecure-change-me"


def sign_out(client) -> None:  # type: ignore[no-untyped-def]
    token = csrf_of(client.get("/console").text)
    assert client.post("/console/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303


@pytest.fixture
def users(db):  # type: ignore[no-untyped-def]
    """Two console users with passwords: ids 1 (staff) and 2 (admin, as in the demo)."""
    made = {}
    with UnitOfWork(db) as uow:
        for role, email in (("staff", "staff@shop.test"), ("admin", "admin@shop.test")):
            made[role] = accounts.create_user(uow, name=role, role=Role(role), email=email, password=PASSWORD).id
        uow.commit()
    assert made == {"staff": 1, "admin": 2}
    return made


def _old_style_cookie(uid: int) -> str:
    """A session cookie as anyone could sign it before: HMAC over {"uid", "exp"} with the public default key."""
    b64 = lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("=")  # noqa: E731
    body = b64(json.dumps({"uid": uid, "exp": 4102444800}, separators=(",", ":")).encode())
    mac = hmac.new(OLD_PUBLIC_KEY.encode(), f"session.{body}".encode(), hashlib.sha256).digest()
    return f"{body}.{b64(mac)}"


def test_settings_have_no_built_in_secret_key(monkeypatch, tmp_path):
    from merx.core.settings import Settings

    monkeypatch.delenv("MERX_SECRET_KEY", raising=False)
    assert Settings(data_dir=tmp_path).secret_key is None


@pytest.mark.backends("sqlite", "postgresql")
def test_a_cookie_forged_with_the_old_public_key_opens_nothing(client, users):
    for forged in (_old_style_cookie(2),
                   # the same key through today's cookie format, with a made-up session token
                   URLSafeTimedSerializer(OLD_PUBLIC_KEY, salt="merx.session").dumps("guessed-token")):
        replace_cookie(client, "merx_session", forged)
        replace_cookie(client, "merx_csrf", "chosen")
        assert client.get("/console", follow_redirects=False).status_code == 303
        assert client.get("/api/v1/me").json()["role"] is None
        created = client.post("/api/v1/api-keys", json={"name": "backdoor", "role": "admin"},
                              headers={"X-CSRF-Token": "chosen"})
        assert created.status_code == 401


def test_a_self_chosen_csrf_cookie_and_header_do_not_pass_for_a_signed_in_admin(client, db, users):
    assert sign_in(client, "admin@shop.test").status_code == 303
    replace_cookie(client, "merx_csrf", "attacker-chosen")
    r = client.post("/api/v1/api-keys", json={"name": "via-planted-csrf", "role": "admin"},
                    headers={"X-CSRF-Token": "attacker-chosen"})
    assert r.status_code == 401
    # A form with the planted pair is refused too; the session's own token works.
    assert client.post("/console/logout", data={"csrf_token": "attacker-chosen"},
                       follow_redirects=False).status_code == 403
    good = csrf_of(client.get("/console").text)
    assert good != "attacker-chosen"
    assert client.post("/api/v1/api-keys", json={"name": "real", "role": "staff"},
                       headers={"X-CSRF-Token": good}).status_code == 201
    with db.read_sessions() as s:
        assert s.scalars(sa.select(ApiKey.name)).all() == ["real"]


def test_the_csrf_token_belongs_to_one_session(app, client, users):
    sign_in(client, "staff@shop.test")
    other = TestClient(app)
    sign_in(other, "staff@shop.test")
    mine, theirs = csrf_of(client.get("/console").text), csrf_of(other.get("/console").text)
    assert mine != theirs
    assert client.post("/console/logout", data={"csrf_token": theirs}, follow_redirects=False).status_code == 403


@pytest.mark.backends("sqlite", "postgresql")
def test_a_cookie_replayed_after_sign_out_gets_the_login_page(client, users):
    assert sign_in(client, "admin@shop.test").status_code == 303
    copied = client.cookies.get("merx_session")
    assert client.get("/console", follow_redirects=False).status_code == 200
    sign_out(client)
    replace_cookie(client, "merx_session", copied)
    r = client.get("/console", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login")
    assert client.get("/api/v1/me").json()["role"] is None


def test_a_password_change_ends_every_session_of_that_user_only(app, client, db, users):
    second = TestClient(app)
    bystander = TestClient(app)
    sign_in(client, "admin@shop.test")
    sign_in(second, "admin@shop.test")
    sign_in(bystander, "staff@shop.test")
    with UnitOfWork(db) as uow:
        assert accounts.change_password(uow, users["admin"], "a brand new passphrase") == 2
    for c in (client, second):
        assert c.get("/console", follow_redirects=False).status_code == 303
    assert bystander.get("/console", follow_redirects=False).status_code == 200
    assert sign_in(client, "admin@shop.test").status_code == 401
    assert sign_in(client, "admin@shop.test", "a brand new passphrase").status_code == 303


def test_changing_the_password_in_the_console_signs_out_other_browsers(app, client, users):
    elsewhere = TestClient(app)
    sign_in(client, "staff@shop.test")
    sign_in(elsewhere, "staff@shop.test")
    page = client.get("/console/password")
    assert page.status_code == 200
    form = {"csrf_token": csrf_of(page.text), "current_password": "not it", "new_password": "fresh passphrase",
            "new_password_again": "fresh passphrase"}
    wrong = client.post("/console/password", data=form, follow_redirects=False)
    assert wrong.status_code == 422 and "current_password: is not right" in wrong.text.lower()
    assert elsewhere.get("/console", follow_redirects=False).status_code == 200
    done = client.post("/console/password", data=form | {"current_password": PASSWORD}, follow_redirects=False)
    assert done.status_code == 303
    assert client.get("/console", follow_redirects=False).status_code == 200  # this browser stays signed in
    assert elsewhere.get("/console", follow_redirects=False).status_code == 303
    assert sign_in(elsewhere, "staff@shop.test", "fresh passphrase").status_code == 303


def test_sessions_end_after_the_idle_timeout_and_the_lifetime(client, db, users):
    sign_in(client, "staff@shop.test")
    assert client.get("/console", follow_redirects=False).status_code == 200
    long_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)  # the default idle timeout is 60 minutes
    with db.write_sessions() as s:
        s.execute(sa.update(UserSession).values(last_seen_at=long_ago))
        s.commit()
    assert client.get("/console", follow_redirects=False).status_code == 303

    sign_in(client, "staff@shop.test")
    with db.write_sessions() as s:
        s.execute(sa.update(UserSession).where(UserSession.revoked_at.is_(None))
                  .values(expires_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)))
        s.commit()
    assert client.get("/console", follow_redirects=False).status_code == 303


@pytest.mark.backends("sqlite", "postgresql")
def test_five_failures_lock_the_account_even_for_the_right_password(client, db, users):
    for _ in range(4):
        assert sign_in(client, "staff@shop.test", "wrong guess").status_code == 401
    fifth = sign_in(client, "staff@shop.test", "wrong guess")
    assert fifth.status_code == 429 and int(fifth.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in fifth.text
    locked = sign_in(client, "staff@shop.test")  # the right password, but locked
    assert locked.status_code == 429 and "merx_session" not in locked.headers.get("set-cookie", "")
    # Another account is not affected.
    assert sign_in(client, "admin@shop.test").status_code == 303


def test_an_unknown_email_locks_like_a_real_one(client, users):
    answers = [sign_in(client, "nobody@shop.test", "wrong guess") for _ in range(6)]
    real = [sign_in(client, "staff@shop.test", "wrong guess") for _ in range(6)]
    assert [r.status_code for r in answers] == [r.status_code for r in real] == [401] * 4 + [429] * 2
    assert answers[0].text.count("The email or password is not right.") == 1


def test_a_success_clears_the_count(client, users):
    for _ in range(4):
        sign_in(client, "staff@shop.test", "wrong guess")
    assert sign_in(client, "staff@shop.test").status_code == 303
    for _ in range(4):
        assert sign_in(client, "staff@shop.test", "wrong guess").status_code == 401


def test_failures_a_day_apart_start_the_count_afresh(client, db, users):
    from merx.core.models import LoginThrottle

    for _ in range(4):
        sign_in(client, "staff@shop.test", "wrong guess")
    with db.write_sessions() as s:
        s.execute(sa.update(LoginThrottle).values(last_failure_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)))
        s.commit()
    assert [sign_in(client, "staff@shop.test", "wrong guess").status_code for _ in range(5)] == [401] * 4 + [429]


def test_lockouts_grow_with_each_further_failure_up_to_the_cap():
    longest = dt.timedelta(minutes=60)
    assert lockout_length(4, after=5, longest=longest) is None
    assert [lockout_length(n, after=5, longest=longest) for n in (5, 6, 7)] == [
        FIRST_LOCKOUT, FIRST_LOCKOUT * 2, FIRST_LOCKOUT * 4]
    assert lockout_length(500, after=5, longest=longest) == longest


def test_an_unknown_email_costs_a_password_hash_like_a_wrong_password(client, users, monkeypatch):
    checked: list[str] = []
    real_verify = accounts.verify_password

    def spy(password: str, stored: str | None) -> bool:
        checked.append(stored or "")
        return real_verify(password, stored)

    monkeypatch.setattr(accounts, "verify_password", spy)
    assert sign_in(client, "nobody@shop.test", "some guess").status_code == 401
    assert len(checked) == 1 and checked[0].startswith("scrypt$")
    assert sign_in(client, "staff@shop.test", "some guess").status_code == 401
    assert len(checked) == 2 and checked[1].startswith("scrypt$") and checked[1] != checked[0]
