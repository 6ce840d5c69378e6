"""A signed-in shopper's storefront chat is linked to their customer profile (over HTTP, as
the widget calls it: the `merx_shopper` cookie plus the page's CSRF token); without the
token the cookie does not count (another site cannot start chats as the shopper), and a
guest's chat stays anonymous."""

from __future__ import annotations

import re

import pytest
from pydantic import SecretStr

from tests.web.test_account_pages import _open


@pytest.fixture
def settings(settings, smtp_server):  # type: ignore[no-untyped-def]
    return settings.model_copy(update={"smtp_url": SecretStr(smtp_server.url)})


def _page_csrf(html: str) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


def test_a_signed_in_shoppers_chat_is_linked_to_their_profile(client, shop, db, smtp_server) -> None:
    from merx.core.auth import SYSTEM
    from merx.core.uow import UnitOfWork
    from merx.customers.public import customer_id_by_email
    from merx.support import public as support

    guest = client.post("/api/v1/chats", json={"message": "Hello from a guest"})
    assert guest.status_code == 201
    _open(client, smtp_server, "ann@example.com")
    with UnitOfWork(db, SYSTEM) as uow:
        ann = customer_id_by_email(uow, "ann@example.com")
    home = client.get("/")
    assert 'src="/assets/support-chat.js"' in home.text
    csrf = _page_csrf(home.text)

    forged = client.post("/api/v1/chats", json={"message": "No token"})  # e.g. a form on another site
    signed = client.post("/api/v1/chats", json={"message": "Where is my order?"}, headers={"X-CSRF-Token": csrf})
    assert forged.status_code == 201 and signed.status_code == 201
    with UnitOfWork(db, SYSTEM, readonly=True) as uow:
        chats = {c.id: c for c in support.list_chats(uow, status=None)}
    assert chats[signed.json()["id"]].customer_id == ann
    assert chats[forged.json()["id"]].customer_id is None
    assert chats[guest.json()["id"]].customer_id is None
    # the shopper's side goes on with the chat token, and the agent's ticket carries the profile
    token = signed.json()["token"]
    assert client.post(f"/api/v1/chats/{signed.json()['id']}/messages", json={"body": "Order 12"},
                       headers={"X-Chat-Token": token}).status_code == 201
    with UnitOfWork(db, SYSTEM) as uow:
        escalated = support.escalate(uow, signed.json()["id"], support.ChatEscalateIn(kind="question"))
    with UnitOfWork(db, SYSTEM, readonly=True) as uow:
        assert support.get_ticket(uow, escalated.ticket_id).customer_id == ann
