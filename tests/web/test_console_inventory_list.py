"""The console inventory list over the real ASGI stack (issue #20): it pages through every
stock row (no longer the first 200 only), searches by SKU or product name, keeps the location
and status filters in its page links, and stays closed to roles that do not manage stock."""

from __future__ import annotations

import re
from typing import Any

from tests.web.conftest import csrf_of, form_sign_in as sign_in


def _rows(html: str) -> list[tuple[str, str]]:
    """(sku, location) of each stock row drawn, in page order."""
    return re.findall(r'<tr><td><a href="/console/inventory\?sku=[^"]*"><code>([^<]+)</code></a></td>'
                      r'<td>.*?</td><td>([^<]+)</td>', html)


def _next(html: str) -> str | None:
    m = re.search(r'<a href="([^"]+)" rel="next">', html)
    return m.group(1).replace("&amp;", "&") if m else None


def test_inventory_pages_through_every_row_and_searches(client: Any, shop: Any, monkeypatch: Any) -> None:
    from merx.web.views import inventory as inventory_view

    monkeypatch.setattr(inventory_view, "PAGE_ROWS", 2)  # six stock rows in the shop: three pages
    sign_in(client, shop.users["staff"])
    seen: list[tuple[str, str]] = []
    url: str | None = "/console/inventory"
    while url:
        page = client.get(url)
        assert page.status_code == 200
        rows = _rows(page.text)
        assert 0 < len(rows) <= 2
        seen += rows
        url = _next(page.text)
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 6  # every row once, SKU then location
    assert ("MUG-1", "WH-POZ") in seen

    monkeypatch.setattr(inventory_view, "PAGE_ROWS", 50)
    # by product name ("desk" is only in Nordic Desk Lamp's name) and by a piece of the SKU
    desk = client.get("/console/inventory", params={"q": "desk"}).text
    assert _rows(desk) == [("LAMP-DESK", "ST-WAW"), ("LAMP-DESK", "WH-POZ")]
    assert sorted(r[0] for r in _rows(client.get("/console/inventory", params={"q": "lamp-"}).text)) == \
        ["LAMP-DESK", "LAMP-DESK", "LAMP-FLOOR", "LAMP-PEND"]
    none = client.get("/console/inventory", params={"q": "sofa"}).text
    assert _rows(none) == [] and "No stock rows match “sofa”" in none

    # search + location filter, paged: the next page keeps both
    monkeypatch.setattr(inventory_view, "PAGE_ROWS", 1)
    first = client.get("/console/inventory", params={"q": "lamp", "location": "WH-POZ"}).text
    assert _rows(first) == [("LAMP-DESK", "WH-POZ")]
    following = _next(first)
    assert following and "q=lamp" in following and "location=WH-POZ" in following
    assert _rows(client.get(following).text) == [("LAMP-FLOOR", "WH-POZ")]
    monkeypatch.setattr(inventory_view, "PAGE_ROWS", 50)

    # the low-stock filter with the search: KETTLE-1 at ST-WAW (10) is low with a threshold of 12
    token = csrf_of(client.get("/console/inventory").text)
    assert client.post("/console/inventory/sku/KETTLE-1/threshold", follow_redirects=False, data={
        "csrf_token": token, "location": "ST-WAW", "low_stock": "12"}).status_code == 303
    low = client.get("/console/inventory", params={"status": "low_stock"}).text
    assert ("KETTLE-1", "ST-WAW") in _rows(low) and ("MUG-1", "WH-POZ") not in _rows(low)
    assert _rows(client.get("/console/inventory", params={"status": "low_stock", "q": "mug"}).text) == []
    # out of stock keeps the SKUs with no row anywhere, searchable too
    client.post("/console/inventory/adjust", data={"csrf_token": token, "sku": "LAMP-PEND", "location": "ST-KRK",
                                                   "mode": "delta", "quantity": "-1"})
    out_of_stock = _rows(client.get("/console/inventory", params={"status": "out_of_stock", "q": "pendant"}).text)
    assert out_of_stock == [("LAMP-PEND", "ST-KRK")]
    bad_cursor = client.get("/console/inventory", params={"cursor": "not-a-cursor"})
    assert bad_cursor.status_code < 500


def test_inventory_list_says_when_it_read_only_the_first_rows(client: Any, shop: Any, monkeypatch: Any) -> None:
    """The stock read stops at MAX_STOCK_ROWS rows; the page says so instead of a partial count."""
    from merx.inventory import public as inventory_public, reads

    sign_in(client, shop.users["staff"])
    assert "among the first" not in client.get("/console/inventory").text
    monkeypatch.setattr(reads, "MAX_STOCK_ROWS", 3)
    monkeypatch.setattr(inventory_public, "MAX_STOCK_ROWS", 3)
    capped = client.get("/console/inventory").text
    assert len(_rows(capped)) == 3 and "among the first 3 stock rows" in capped
    by_location = client.get("/console/inventory", params={"location": "ST-KRK"}).text
    assert "among the first" not in by_location  # one row there: all of it


def test_inventory_list_is_closed_to_sales_and_support(client: Any, shop: Any) -> None:
    for role in ("sales_rep", "support_agent"):
        client.cookies.clear()
        sign_in(client, shop.users[role])
        assert client.get("/console/inventory", params={"q": "lamp"}).status_code == 403
