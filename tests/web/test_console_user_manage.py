"""A user's own console page over the real ASGI stack (issue #20): an admin renames a user,
resets their password (a random one shown once, not cached; the old one stops working, the
new one signs in, their sessions end) and deactivates them; refusals come back beside the
field (422); non-admins get 403 on the page, the forms and the API route."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.conftest import csrf_of, form_sign_in as sign_in


def _uid(page: str, email: str) -> int:
    return int(re.search(r'<tr id="user-(\d+)"><td>[^<]*</td><td>' + re.escape(email), page).group(1))


def _field_error(html: str, key: str) -> str:
    m = re.search(rf'data-field="{re.escape(key)}"[^>]*>([^<]+)<', html)
    assert m, f"no message next to {key}"
    return m.group(1)


def test_admin_renames_resets_the_password_and_deactivates(client: Any, shop: Any, app: Any) -> None:
    from fastapi.testclient import TestClient

    sign_in(client, shop.users["admin"])
    users = client.get("/console/users").text
    staff_id, admin_id = _uid(users, shop.users["staff"]), _uid(users, shop.users["admin"])
    assert f'href="/console/users/{staff_id}"' in users
    page = client.get(f"/console/users/{staff_id}")
    assert page.status_code == 200 and shop.users["staff"] in page.text
    token = csrf_of(page.text)

    # the staff member is signed in elsewhere: the reset must end that session
    with TestClient(app, raise_server_exceptions=False) as other:
        assert sign_in(other, shop.users["staff"]).status_code == 303
        assert other.get("/console/orders").status_code == 200

        blank = client.post(f"/console/users/{staff_id}/name", data={"csrf_token": token, "name": "  "})
        assert blank.status_code == 422 and _field_error(blank.text, "name")
        renamed = client.post(f"/console/users/{staff_id}/name", data={"csrf_token": token, "name": "Sam Stock"},
                              follow_redirects=False)
        assert renamed.status_code == 303
        assert "Sam Stock" in client.get("/console/users").text
        assert client.post(f"/console/users/{staff_id}/name", data={"name": "Forged"}).status_code == 403  # no CSRF

        reset = client.post(f"/console/users/{staff_id}/password-reset", data={"csrf_token": token})
        assert reset.status_code == 200 and reset.headers["cache-control"] == "no-store"
        new_password = re.search(r'id="new-password">.*?<code>([^<]+)</code>', reset.text, re.S).group(1)
        assert len(new_password) >= 12
        assert new_password not in client.get(f"/console/users/{staff_id}").text  # shown once
        assert other.get("/console/orders", follow_redirects=False).status_code in (303, 401, 403)
    with TestClient(app, raise_server_exceptions=False) as fresh:
        assert sign_in(fresh, shop.users["staff"]).status_code != 303  # the old password is refused
        assert sign_in(fresh, shop.users["staff"], new_password).status_code == 303
        assert fresh.get("/console/orders").status_code == 200

    # not oneself: the own page points to the password page instead, and a forged post is refused
    own = client.get(f"/console/users/{admin_id}").text
    assert 'href="/console/password"' in own and "password-reset" not in own
    mine = client.post(f"/console/users/{admin_id}/password-reset", data={"csrf_token": token})
    assert mine.status_code == 422 and _field_error(mine.text, "password")
    assert client.post(f"/console/users/{admin_id}/active", data={"csrf_token": token, "active": "no"}).status_code < 500
    assert "deactivated" not in client.get(f"/console/users/{admin_id}").text  # still active

    off = client.post(f"/console/users/{staff_id}/active", data={"csrf_token": token, "active": "no"},
                      follow_redirects=False)
    assert off.status_code == 303 and "deactivated" in client.get(f"/console/users/{staff_id}").text
    with TestClient(app, raise_server_exceptions=False) as gone:
        assert sign_in(gone, shop.users["staff"], new_password).status_code != 303
    assert client.get("/console/users/999999").status_code == 404


@pytest.mark.backends("sqlite", "postgresql")
def test_password_reset_api_is_admin_only_and_names_the_field(client: Any, shop: Any, admin: Any, make_key: Any) -> None:
    sign_in(client, shop.users["admin"])
    staff_id = _uid(client.get("/console/users").text, shop.users["staff"])
    r = client.post(f"/api/v1/users/{staff_id}/password-reset", headers=admin)
    assert r.status_code == 200 and r.json()["user_id"] == staff_id and len(r.json()["password"]) >= 12
    client.cookies.clear()
    assert sign_in(client, shop.users["staff"], r.json()["password"]).status_code == 303

    key_user = client.get("/api/v1/me", headers=admin).json()["user_id"]  # an API-key user: no email
    own = client.post(f"/api/v1/users/{key_user}/password-reset", headers=admin)
    assert own.status_code == 422 and own.headers["content-type"].startswith("application/problem+json")
    other_key_user = client.get("/api/v1/me", headers=make_key("support_agent")).json()["user_id"]
    no_email = client.post(f"/api/v1/users/{other_key_user}/password-reset", headers=admin)
    assert no_email.status_code == 422 and "email" in no_email.text
    assert client.post(f"/api/v1/users/{staff_id}/password-reset", headers=make_key("staff")).status_code == 403
    assert client.post("/api/v1/users/999999/password-reset", headers=admin).status_code == 404


def test_user_page_is_admin_only(client: Any, shop: Any) -> None:
    sign_in(client, shop.users["admin"])
    staff_id = _uid(client.get("/console/users").text, shop.users["staff"])
    client.cookies.clear()
    sign_in(client, shop.users["staff"])
    token = csrf_of(client.get("/console/orders").text)
    assert client.get(f"/console/users/{staff_id}").status_code == 403
    assert client.post(f"/console/users/{staff_id}/name", data={"csrf_token": token, "name": "Me"}).status_code == 403
    assert client.post(f"/console/users/{staff_id}/password-reset", data={"csrf_token": token}).status_code == 403


@pytest.mark.backends("sqlite", "postgresql")
def test_the_last_active_admin_is_never_deactivated(client: Any, shop: Any, db: Any) -> None:
    """Deactivating oneself is refused, and so is deactivating the last active admin by anyone
    else (the system, a script): the shop keeps someone who can manage users."""
    from merx.core import accounts
    from merx.core.auth import SYSTEM
    from merx.core.errors import Conflict
    from merx.core.uow import UnitOfWork

    sign_in(client, shop.users["admin"])
    admin_id = _uid(client.get("/console/users").text, shop.users["admin"])
    with pytest.raises(Conflict) as refused, UnitOfWork(db, SYSTEM) as uow:
        accounts.set_user_active(uow, admin_id, False)
    assert refused.value.type_slug == "last-admin"
    with UnitOfWork(db, SYSTEM, readonly=True) as uow:
        assert next(u for u in accounts.list_users(uow) if u["id"] == admin_id)["active"] is True
    # with a second admin, the first may go
    with UnitOfWork(db, SYSTEM) as uow:
        second = accounts.create_user(uow, name="Second admin", role=accounts.Role.admin, email="second@shop.test").id
        uow.commit()
    with UnitOfWork(db, SYSTEM) as uow:
        accounts.set_user_active(uow, admin_id, False)
    with pytest.raises(Conflict), UnitOfWork(db, SYSTEM) as uow:
        accounts.set_user_active(uow, second, False)
