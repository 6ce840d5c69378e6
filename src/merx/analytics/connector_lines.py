"""Order rows an ERP or marketplace connector imports (integration's `sales_lines` target) as
sales lines. Each row's class (product, discount, shipping, fee, adjustment, or a zero-price
write-off) is decided here, when it is recorded, by the connector's `line_classes` mapping
(line_classes.py), so a marketplace fee row never counts as a product sold."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Mapping

import sqlalchemy as sa

from merx.analytics import facts
from merx.analytics.line_classes import connector_classifier
from merx.analytics.models import SalesLine
from merx.core.errors import ValidationProblem
from merx.core.uow import UnitOfWork

FIELDS_REQUIRED = ("order_ref", "line", "sku", "quantity", "unit_price", "currency", "occurred_at")
FIELDS_OPTIONAL = ("customer_ref", "kind", "country", "channel")


def _when(value: Any) -> dt.datetime:
    """A date is its midnight UTC; an ISO timestamp without an offset is taken as UTC."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(0), dt.timezone.utc)
    try:
        return _when(dt.datetime.fromisoformat(str(value).strip()))
    except ValueError:
        raise ValidationProblem.for_field("occurred_at", "must be a date or an ISO 8601 timestamp") from None


def record_connector_line(uow: UnitOfWork, connector: str, row: Mapping[str, Any],
                          line_classes: Mapping[str, Any] | None) -> str:
    """Record one connector order row (source `connector:<code>`, key `<order_ref>:<line>`);
    a changed row replaces the stored line. Returns created | updated. Does not commit."""
    from merx.analytics.service import _catalog_info

    source, key = f"connector:{connector}", f"{row['order_ref']}:{row['line']}"
    try:
        quantity, price = int(row["quantity"]), Decimal(str(row["unit_price"]))
    except (TypeError, ValueError, ArithmeticError):
        raise ValidationProblem.for_field("quantity", "quantity and unit_price must be numbers") from None
    customer_ref = f"{source}:{row['customer_ref']}" if row.get("customer_ref") not in (None, "") else None
    sku = str(row["sku"])
    line_class = connector_classifier(line_classes)(sku, float(price), quantity, customer_ref is not None)
    info = _catalog_info(uow, {sku}).get(sku) if line_class == "product" else None
    table = SalesLine.__table__
    existed = uow.session.execute(sa.delete(table).where(table.c.source == source, table.c.line_key == key)).rowcount
    if existed:
        facts.mark_changed(uow, rewritten=True)  # a line went away: snapshots rebuild
    line = facts.SalesLineIn(
        source=source, line_key=key, order_ref=str(row["order_ref"]), quantity=quantity, unit_price=price,
        currency=str(row["currency"]).strip().upper(), occurred_at=_when(row["occurred_at"]),
        kind=row.get("kind") or ("return" if quantity < 0 and line_class == "product" else "sale"),
        line_class=line_class, sku=sku, product_id=info[0] if info else None, category=info[1] if info else None,
        brand=info[2] if info else None, customer_ref=customer_ref, country=row.get("country"),
        region=row.get("country"), channel=row.get("channel") or connector)
    try:
        facts.record_sales_lines(uow, [line], commit=False)
    except ValidationProblem as e:  # "lines[0].kind" -> "kind": the connector's row error names its field
        if e.errors:
            field = e.errors[0].field.removeprefix("lines[0].")
            raise ValidationProblem.for_field(field, e.errors[0].message) from None
        raise
    return "updated" if existed else "created"
