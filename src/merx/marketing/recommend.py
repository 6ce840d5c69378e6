"""Recommendations in message templates, through search's public pipeline: a template calls
`recommendations(category="kitchen")` (the category's best-ranked products: search's browse
ranking, which weighs sales and ratings) or `recommendations(like="MUG-1")` (products related
to one: searched by its name within its category, itself left out), `limit` 1-6. Each item is
a plain dict (name, sku, url, price, currency), so the sandbox gives a template nothing else
to reach. Results are cached per book (one batch of messages), so a campaign batch asks search
once per distinct call; before an index is built (`merx search reindex`) the list is empty."""

from __future__ import annotations

import logging
from typing import Any

from merx.catalog import public as catalog
from merx.core.auth import ANONYMOUS
from merx.core.uow import UnitOfWork
from merx.marketing.messages import shop_context
from merx.search import public as search

log = logging.getLogger("merx.marketing")
MAX_ITEMS = 6


class Recommender:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.locale: str | None = None
        self._cache: dict[tuple[Any, ...], list[dict[str, Any]]] = {}

    def __call__(self, category: str | None = None, like: str | None = None, limit: int = 3) -> list[dict[str, Any]]:
        for name, value in (("category", category), ("like", like)):
            if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > 100):
                raise ValueError(f"recommendations: {name} must be a text of up to 100 characters")
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_ITEMS:
            raise ValueError(f"recommendations: limit must be a whole number from 1 to {MAX_ITEMS}")
        key = (category, like, limit, self.locale)
        if key not in self._cache:
            self._cache[key] = self._find(category, like, limit)
        return [dict(item) for item in self._cache[key]]

    def _find(self, category: str | None, like: str | None, limit: int) -> list[dict[str, Any]]:
        settings = self.uow.settings
        search.register_data_dir(self.uow.db, settings.data_dir, settings.default_currency)
        if search.indexed_products(settings.data_dir) == 0:
            return []
        q = ""
        if like is not None:
            info = catalog.lookup_skus(self.uow, [like]).get(like)
            if info is None:
                return []
            q, category = info.name, category or info.category
        req = search.SearchRequest(q=q, lang=(self.locale or "").split("-")[0] or None, limit=limit + 1,
                                   facets=False, filters=search.Filters(
                                       category=category,
                                       # a batch goes to many people: nothing before its public launch
                                       exclude_ids=catalog.hidden_product_ids(self.uow, actor=ANONYMOUS)))
        try:
            outcome, _ = search.search(self.uow, req, data_dir=settings.data_dir, log_search=False)
        except Exception:  # noqa: BLE001 - a recommendation is never worth a lost message
            log.exception("recommendations for a template failed (category=%s, like=%s)", category, like)
            return []
        base = shop_context()["url"]
        items = []
        for item in outcome.page_items:
            if like is not None and item.get("sku") == like:
                continue
            price = item.get("price") or {}
            items.append({"name": item.get("name") or "", "sku": item.get("sku") or "",
                          "url": f"{base}/product/{item['product_id']}", "price": price.get("amount"),
                          "currency": price.get("currency")})
        return items[:limit]
