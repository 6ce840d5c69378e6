"""The console's searchable, paged lists: one helper for every settings list (promotions and
coupons, price lists, locations, users and API keys, webhooks, connectors, loyalty
programmes, sellers, brands).

The search runs on the server: lists a context pages with SQL take `q` in their service
(`core.pagination.text_search`); lists a context reads whole (a few hundred rows at most)
are filtered and paged here with the same contains-test (`whole_list_page`). Either way the
page links keep the query and the list's other filters, so "Next page" pages through the
matches, not through everything."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence, TypeVar
from urllib.parse import urlencode

from fastapi import Request

from merx.core.pagination import matches_text, page_list

R = TypeVar("R")
MAX_QUERY = 100  # longer search text is cut, not refused: a pasted sentence still searches


@dataclass(frozen=True)
class ListQuery:
    """What a list page was asked for: its path, the search text, the cursor of this page and
    the list's other filters (kept in every link the page draws)."""

    path: str
    q: str = ""
    cursor: str | None = None
    filters: dict[str, str] = field(default_factory=dict)
    cursor_param: str = "cursor"  # another name where the page pages a second list with `cursor`

    def url(self, *, cursor: str | None = None, **changes: str) -> str:
        """This list's address with the same search and filters (`changes` overrides them),
        at `cursor` (None: the first page)."""
        params = {"q": self.q, **self.filters, **changes}
        if cursor:
            params[self.cursor_param] = cursor
        query = urlencode({k: v for k, v in params.items() if v})
        return f"{self.path}?{query}" if query else self.path

    @property
    def searched(self) -> bool:
        return bool(self.q)


def list_query(request: Request, *filters: str, path: str | None = None, cursor_param: str = "cursor") -> ListQuery:
    """The list's search text (`?q=`, trimmed), cursor and the named filters of this request;
    `path`: the list's own address when another route (a form's answer) draws it."""
    params = request.query_params
    return ListQuery(path=path or request.url.path, q=(params.get("q") or "").strip()[:MAX_QUERY],
                     cursor=params.get(cursor_param) or None, cursor_param=cursor_param,
                     filters={name: params.get(name) or "" for name in filters})


def whole_list_page(items: Sequence[R], lq: ListQuery, text_of: Callable[[R], Sequence[Any]], *,
                    key: Callable[[R], int], limit: int) -> tuple[list[R], str | None]:
    """One page of a list read whole: the items any of whose texts (`text_of`) contain the
    search text, paged with the API's cursor contract (`page_list`)."""
    matching = [item for item in items if matches_text(lq.q, *text_of(item))]
    return page_list(matching, key, limit=limit, cursor=lq.cursor)
