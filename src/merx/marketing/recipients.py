"""A recipient's own time zone (mkt_recipients), the first of the three the sender uses: their
own, their country's, the shop's default (rules.zone_for). It is known from the shopper's
browser at the storefront checkout (`remember_timezone`, source "storefront") or set by staff
(`PUT /api/v1/recipients/{customer_id}`, source "staff"; staff's choice is not overwritten by
a later checkout)."""

from __future__ import annotations

from typing import Any, Iterable

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.errors import ValidationProblem
from merx.core.uow import UnitOfWork
from merx.customers import public as customers
from merx.marketing import rules
from merx.marketing.models import RecipientSetting
from merx.marketing.settings import get_marketing_settings


def zones_of(uow: UnitOfWork, customer_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(customer_ids))
    out: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        out.update({cid: tz for cid, tz in uow.session.execute(
            sa.select(RecipientSetting.customer_id, RecipientSetting.timezone).where(
                RecipientSetting.customer_id.in_(ids[start:start + 500]), RecipientSetting.timezone.is_not(None)))})
    return out


def _upsert(uow: UnitOfWork, customer_id: int, timezone: str | None, source: str) -> RecipientSetting:
    row = uow.session.get(RecipientSetting, customer_id, with_for_update=True)
    if row is None:
        row = RecipientSetting(customer_id=customer_id)
        uow.session.add(row)
    row.timezone, row.source, row.updated_at = timezone, source, utcnow()
    uow.session.flush()
    return row


def remember_timezone(uow: UnitOfWork, customer_id: int | None, timezone: str | None) -> bool:
    """The shopper's browser reported its time zone at checkout: kept unless staff set one, or
    the name is not a valid zone (ignored: a browser's report is never an error). Commits."""
    if customer_id is None or rules.valid_zone(timezone) is None:
        return False
    row = uow.session.get(RecipientSetting, customer_id)
    if row is not None and (row.source == "staff" or row.timezone == timezone):
        return False
    _upsert(uow, customer_id, timezone, "storefront")
    uow.commit()
    return True


def recipient_out(uow: UnitOfWork, customer_id: int) -> dict[str, Any]:
    """The recipient's time zone and which one the sender uses (own, country, shop default)."""
    person = customers.get_customer(uow, customer_id)  # 404 for one the caller may not see
    row = uow.session.get(RecipientSetting, customer_id)
    own = row.timezone if row is not None else None
    country = getattr(person, "country", None)
    ms = get_marketing_settings()
    if own and rules.valid_zone(own) is not None:
        used, basis = own, "own"
    elif (country or "").upper() in rules.COUNTRY_TIMEZONES:
        used, basis = rules.COUNTRY_TIMEZONES[country.upper()], "country"
    else:
        used, basis = ms.timezone, "shop default"
    return {"customer_id": customer_id, "timezone": own, "source": row.source if row is not None else None,
            "country": country, "effective_timezone": used, "basis": basis}


def set_timezone(uow: UnitOfWork, customer_id: int, timezone: str | None) -> dict[str, Any]:
    """Staff set (or clear, with null) a recipient's own time zone. Commits."""
    customers.get_customer(uow, customer_id)
    if timezone is not None and rules.valid_zone(timezone) is None:
        raise ValidationProblem.for_field("timezone", f"{timezone!r} is not an IANA time zone such as Europe/Berlin",
                                          "invalid_timezone")
    _upsert(uow, customer_id, timezone, "staff")
    uow.audit("update", "marketing_recipient", customer_id, after={"timezone": timezone})
    uow.commit()
    return recipient_out(uow, customer_id)
