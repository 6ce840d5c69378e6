"""Replacing a cookie in a test client: the client may hold the server's cookie under the
test host's domain, and `cookies.set` without a domain adds a second one beside it (httpx2,
which Starlette's TestClient prefers when installed), so the server would still get the
original. Delete every cookie of the name first."""

from __future__ import annotations

from typing import Any


def replace_cookie(client: Any, name: str, value: str) -> None:
    try:
        client.cookies.delete(name)
    except KeyError:
        pass
    client.cookies.set(name, value)
