"""The console's list search box over the real ASGI stack: a name typed in another
case finds the row though it has non-ASCII letters (SQLite's lower() alone folds ASCII only;
PostgreSQL's folds by the database ctype, so the same holds there)."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from tests.web.conftest import form_sign_in as sign_in


def _text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_console_locations_search_ignores_unicode_case(client: Any, shop: Any) -> None:
    from merx.core.uow import UnitOfWork
    from merx.inventory import public as inventory

    for code, name in (("ST-LDZ", "Łódź Manufaktura"), ("ST-MOW", "МОСКВА центр"), ("ST-BER", "Berliner Straße")):
        with UnitOfWork(client.app.state.db) as uow:
            inventory.create_location(uow, {"code": code, "name": name, "kind": "store"})
    sign_in(client, shop.users["admin"])
    for query, present, absent in (("łódź", "Łódź Manufaktura", "МОСКВА центр"),
                                   ("москва", "МОСКВА центр", "Łódź Manufaktura"),
                                   ("BERLINER STRAẞE", "Berliner Straße", "Łódź Manufaktura")):
        page = client.get("/console/locations", params={"q": query})
        assert page.status_code == 200
        text = _text(page.text)
        assert present in text and absent not in text, query
