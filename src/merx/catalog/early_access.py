"""Early access: a product on sale to one CRM segment (e.g. repeat customers) before its
public launch (`Product.launch_at`, `Product.early_access_segment_id`).

Before `launch_at`, anyone but the back office (and a seller for its own product) is told the
product does not exist: the product API and storefront page answer 404, listings, search
results, suggestions and facet counts leave it out, and carts and checkout refuse its lines.
A signed-in shopper (customer role) who is a member of the product's segment sees and buys
it as if it were launched. At `launch_at` the product is public: every check compares with
the current time when it runs (search filters at query time, see `hidden_product_ids`), so
nothing has to be re-indexed or switched by a job at the launch moment.

The catalog sits below CRM in the declared layers (`.importlinter`), so it cannot read
segments itself. It declares this hook instead; CRM contributes the two answers from
`crm/hooks.py`. Without a contributor (CRM not installed) a segment cannot be named and only
the back office sees a product before its launch."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable, Collection, Iterable

import sqlalchemy as sa

from merx.catalog.models import Product
from merx.core.auth import BACK_OFFICE_ROLES, Principal, Role
from merx.core.db import utcnow
from merx.core.errors import FieldError
from merx.core.uow import UnitOfWork

# (uow, segment_id) -> whether that segment exists
SegmentExists = Callable[[UnitOfWork, int], bool]
# (uow, customer_id, segment_ids) -> the ones of those segments the customer is a member of
SegmentsOf = Callable[[UnitOfWork, int, Collection[int]], set[int]]


@dataclass
class _Contribution:
    exists: SegmentExists | None = None
    segments_of: SegmentsOf | None = None


_hook = _Contribution()


def contribute_segments(exists: SegmentExists, segments_of: SegmentsOf) -> None:
    """Called from a higher context's `hooks.register()` (CRM's); a second call replaces it."""
    _hook.exists, _hook.segments_of = exists, segments_of


def segment_exists(uow: UnitOfWork, segment_id: int) -> bool:
    return _hook.exists is not None and _hook.exists(uow, segment_id)


def sees_before_launch(actor: Principal) -> bool:
    """The back office sees every product whatever its launch time."""
    return actor.role in BACK_OFFICE_ROLES


def prelaunch(launch_at: dt.datetime | None, now: dt.datetime | None = None) -> bool:
    return launch_at is not None and launch_at > (now or utcnow())


def _member_of(uow: UnitOfWork, actor: Principal, segment_ids: Collection[int]) -> set[int]:
    if actor.role != Role.customer or actor.customer_id is None or not segment_ids or _hook.segments_of is None:
        return set()
    return set(_hook.segments_of(uow, actor.customer_id, segment_ids))


def may_see(uow: UnitOfWork, actor: Principal, launch_at: dt.datetime | None, segment_id: int | None,
            seller_id: int | None = None, *, now: dt.datetime | None = None) -> bool:
    """Whether the caller may see (and buy) a product with this launch time and segment now."""
    if not prelaunch(launch_at, now) or sees_before_launch(actor):
        return True
    if actor.role == Role.seller and seller_id is not None and seller_id == actor.seller_id:
        return True
    return segment_id is not None and segment_id in _member_of(uow, actor, [segment_id])


_PRELAUNCH = (sa.select(Product.id, Product.early_access_segment_id, Product.seller_id)
              .where(Product.launch_at > sa.bindparam("now")))


def hidden_product_ids(uow: UnitOfWork, *, now: dt.datetime | None = None,
                       actor: Principal | None = None) -> list[int]:
    """The products not launched yet that the caller (or `actor`: ANONYMOUS for what goes to
    everyone, such as a campaign's recommendations) may not see, for a filter applied when a
    list or a search runs (one indexed query on `launch_at`; usually no row)."""
    actor = actor or uow.actor
    if sees_before_launch(actor):
        return []
    rows = uow.session.execute(_PRELAUNCH, {"now": now or utcnow()}).all()
    if not rows:
        return []
    member = _member_of(uow, actor, {r.early_access_segment_id for r in rows if r.early_access_segment_id})
    own = actor.seller_id if actor.role == Role.seller else None
    return sorted(r.id for r in rows
                  if r.early_access_segment_id not in member and (own is None or r.seller_id != own))


def visible_clause(uow: UnitOfWork, *, now: dt.datetime | None = None) -> sa.ColumnElement[bool] | None:
    """A WHERE clause for `catalog_products` keeping what the caller may see (None: no limit)."""
    hidden = hidden_product_ids(uow, now=now)
    return Product.id.not_in(hidden) if hidden else None


def refusals(uow: UnitOfWork, lines: Iterable[tuple[str, str]], infos: dict, *,
             now: dt.datetime | None = None) -> list[FieldError]:
    """Checkout's and the cart's check: one FieldError per line (`(field, sku)`) whose product
    is not launched yet for this caller. `infos`: `lookup_skus`'s answer (no query unless a
    line is pre-launch)."""
    now = now or utcnow()
    out: list[FieldError] = []
    for where, sku in lines:
        info = infos.get(sku)
        if info is None or not prelaunch(info.launch_at, now):
            continue
        if not may_see(uow, uow.actor, info.launch_at, info.early_access_segment, info.seller_id, now=now):
            out.append(FieldError(where, f"{sku} ({info.name}) is not on sale before its launch on "
                                         f"{info.launch_at:%Y-%m-%d %H:%M} UTC", "not_launched"))
    return out
