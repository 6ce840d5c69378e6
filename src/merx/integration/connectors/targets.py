"""Where inbound connector rows go: small adapters over the other contexts' service functions
(never their tables). Each applies one mapped row inside the importer's unit of work and says
whether it created, updated or left the record unchanged."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

from merx.core.errors import FieldError, Problem, ValidationProblem
from merx.core.uow import UnitOfWork

Outcome = str  # created | updated | unchanged


@dataclass(frozen=True)
class Target:
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    key: tuple[str, ...]
    apply: Callable[[UnitOfWork, dict[str, Any], str], Outcome]
    # Optional: many rows in the caller's transaction (does not commit); one outcome or the
    # exception refusing it per row.
    apply_batch: Callable[[UnitOfWork, list[dict[str, Any]], str], list[Any]] | None = None
    # Optional: for targets that read more of the connector's mapping than its fields (the
    # `line_classes` of sales_lines): (mapping) -> its problems, and (mapping) -> the apply.
    check: Callable[[dict[str, Any]], list[FieldError]] | None = None
    bind: Callable[[dict[str, Any]], Callable[[UnitOfWork, dict[str, Any], str], Outcome]] | None = None

    @property
    def fields(self) -> tuple[str, ...]:
        return self.required + self.optional

    def applier(self, mapping: dict[str, Any]) -> Callable[[UnitOfWork, dict[str, Any], str], Outcome]:
        return self.bind(mapping) if self.bind is not None else self.apply


def _stock(uow: UnitOfWork, row: dict[str, Any], connector: str) -> Outcome:
    from merx.inventory import public as inventory

    sku, location, quantity = row["sku"], row["location"], int(row["quantity"])
    current = [r for r in inventory.stock_levels(uow, sku=sku, location=location) if r["location"] == location]
    if current and current[0]["on_hand"] == quantity:
        return "unchanged"
    inventory.adjust(uow, sku=sku, location=location, set_to=quantity, reason="count",
                     note=f"connector {connector}")
    return "updated" if current else "created"


def _stock_batch(uow: UnitOfWork, rows: list[dict[str, Any]], connector: str) -> list[Any]:
    """Stock counts for many rows in one transaction (10,000 single-row transactions are far
    too slow): the inventory context's `set_stock_levels`."""
    from merx.inventory import public as inventory

    return inventory.set_stock_levels(uow, [{"sku": r["sku"], "location": r["location"], "on_hand": int(r["quantity"])}
                                            for r in rows], reason="count", note=f"connector {connector}")


def _sku_info(uow: UnitOfWork, sku: str) -> Any:
    from merx.catalog import public as catalog

    info = catalog.lookup_skus(uow, [sku]).get(sku)
    if info is None:
        raise ValidationProblem.for_field("sku", f"unknown SKU {sku}")
    return info


def _prices(uow: UnitOfWork, row: dict[str, Any], connector: str) -> Outcome:
    from merx.catalog import public as catalog
    from merx.core.schemas import MoneyIn

    info = _sku_info(uow, row["sku"])
    currency, amount = str(row["currency"]).upper(), Decimal(row["amount"])
    current = info.prices.get(currency)
    if current is not None and Decimal(current) == amount:
        return "unchanged"
    merged = {**{c: Decimal(a) for c, a in info.prices.items()}, currency: amount}
    catalog.update_product(uow, info.product_id, catalog.ProductPatch(
        prices=[MoneyIn(currency=c, amount=format(a, "f")) for c, a in sorted(merged.items())]))
    return "updated" if current is not None else "created"


def _costs(uow: UnitOfWork, row: dict[str, Any], connector: str) -> Outcome:
    """A unit cost from the ERP, by SKU: a new entry in the catalog's cost history from
    `effective_from` (a date is its midnight UTC; none: now). ERPs keep costs to 4 or more
    decimals; the shop keeps them to the currency's minor unit, rounded half up."""
    import datetime as dt
    from decimal import ROUND_HALF_UP

    from merx.catalog import public as catalog
    from merx.core.money import MoneyError, exponent

    currency = str(row["currency"]).strip().upper()
    try:
        amount = Decimal(str(row["amount"])).quantize(Decimal(1).scaleb(-exponent(currency)), ROUND_HALF_UP)
    except MoneyError as e:
        raise ValidationProblem.for_field("currency", str(e)) from None
    eff = row.get("effective_from")
    if isinstance(eff, dt.date) and not isinstance(eff, dt.datetime):
        eff = dt.datetime.combine(eff, dt.time(0), dt.timezone.utc)
    if eff is None:
        current = catalog.cost_at(uow, row["sku"], currency)
        if current is not None and current == amount:
            return "unchanged"
    try:
        data = catalog.CostRowIn(sku=row["sku"], currency=currency, amount=format(amount, "f"), effective_from=eff,
                                 reference=row.get("reference"))
    except Exception as e:  # pydantic's ValidationError: the field it names
        errors = getattr(e, "errors", lambda: [])()
        field = str(errors[0]["loc"][0]) if errors else "row"
        raise ValidationProblem.for_field(field, errors[0]["msg"] if errors else str(e)) from None
    report = catalog.import_costs(uow, catalog.CostImport(rows=[data], source="erp", reference=f"connector {connector}"),
                                  commit=False)
    if report.errors:
        raise ValidationProblem.for_field(report.errors[0]["field"], report.errors[0]["message"])
    return "created"


def _products(uow: UnitOfWork, row: dict[str, Any], connector: str) -> Outcome:
    from merx.catalog import public as catalog

    info = _sku_info(uow, row["sku"])
    changes = {k: row[k] for k in ("name", "description", "status", "ean", "brand", "category")
               if row.get(k) is not None}
    if changes.get("name") == info.name:
        changes.pop("name")
    if changes.get("status") == info.status:
        changes.pop("status")
    if not changes:
        return "unchanged"
    catalog.update_product(uow, info.product_id, catalog.ProductPatch(**changes))
    return "updated"


def _order_status(uow: UnitOfWork, row: dict[str, Any], connector: str) -> Outcome:
    from merx.orders import public as orders

    order_id, status = int(row["order_id"]), row["status"]
    current = orders.get_order(uow, order_id)
    if current.get("status") == status:
        return "unchanged"
    if status == "fulfilled":
        orders.fulfil(uow, order_id, carrier=row.get("carrier") or "unknown",
                      tracking_number=row.get("tracking_number") or "")
    elif status == "cancelled":
        orders.cancel(uow, order_id, reason=row.get("reason") or f"connector {connector}")
    elif status == "paid":
        orders.capture_payment(uow, order_id)
    elif status == "ready_for_pickup":
        orders.ready_for_pickup(uow, order_id)
    elif status in ("delivered", "completed"):
        orders.simple_transition(uow, order_id, status)
    else:
        raise ValidationProblem.for_field("status", f"cannot set an order to {status!r} from a connector")
    return "updated"


def _offers(uow: UnitOfWork, row: dict[str, Any], connector: str) -> Outcome:
    """A marketplace seller's offer feed (its own column names mapped onto these fields); the
    sellers context creates or updates the offer (integration sits above sellers)."""
    from merx.sellers import public as sellers

    return sellers.apply_feed_row(uow, row)


def _dealer_reports(uow: UnitOfWork, row: dict[str, Any], connector: str) -> Outcome:
    """A dealer's stock and sell-out file (its own columns mapped onto these fields); the sales
    context stores the month's figures as the API's report does (integration sits above sales)."""
    from merx.sales import public as sales

    return sales.apply_dealer_report_row(uow, row)


def _sales_lines_check(mapping: dict[str, Any]) -> list[FieldError]:
    from merx.analytics import public as analytics

    if "line_classes" not in mapping:
        return []
    problems = analytics.check_line_class_mapping(mapping["line_classes"])
    return [FieldError(field, message) for field, message in problems]


def _sales_lines_bind(mapping: dict[str, Any]) -> Callable[[UnitOfWork, dict[str, Any], str], Outcome]:
    """An ERP's or marketplace's order rows into the sales history (analytics), each line
    classed by the connector's `line_classes` (fee, shipping, ... stay out of product figures)."""
    from merx.analytics import public as analytics

    line_classes = mapping.get("line_classes")

    def apply(uow: UnitOfWork, row: dict[str, Any], connector: str) -> Outcome:
        return analytics.record_connector_line(uow, connector, row, line_classes)
    return apply


def _sales_lines(uow: UnitOfWork, row: dict[str, Any], connector: str) -> Outcome:
    return _sales_lines_bind({})(uow, row, connector)


TARGETS: dict[str, Target] = {
    "stock_levels": Target("stock_levels", ("sku", "location", "quantity"), (), ("sku", "location"), _stock,
                           apply_batch=_stock_batch),
    "prices": Target("prices", ("sku", "currency", "amount"), (), ("sku", "currency"), _prices),
    "products": Target("products", ("sku",), ("name", "description", "status", "ean", "brand", "category"), ("sku",),
                       _products),
    "costs": Target("costs", ("sku", "currency", "amount"), ("effective_from", "reference"), ("sku", "currency"),
                    _costs),
    "order_status": Target("order_status", ("order_id", "status"), ("carrier", "tracking_number", "reason"),
                           ("order_id",), _order_status),
    "offers": Target("offers", ("seller", "sku", "price", "quantity"),
                     ("currency", "shipping", "lead_time_days", "condition", "shipping_terms"), ("seller", "sku"),
                     _offers),
    "dealer_reports": Target("dealer_reports", ("dealer", "month", "sku", "stock_units", "sell_out_units"), (),
                             ("dealer", "month", "sku"), _dealer_reports),
    # analytics' own field lists (connector_lines.py): order_ref, line, sku, quantity, unit_price, ...
    "sales_lines": Target("sales_lines", ("order_ref", "line", "sku", "quantity", "unit_price", "currency",
                                          "occurred_at"), ("customer_ref", "kind", "country", "channel"),
                          ("order_ref", "line"), _sales_lines, check=_sales_lines_check, bind=_sales_lines_bind),
}

# Outbound: fields an order export may use (dotted paths into the `order.placed` payload).
ORDER_EXPORT_FIELDS = ("order_id", "number", "channel", "customer_id", "email", "currency", "placed_at",
                       "totals.subtotal", "totals.discount", "totals.shipping", "totals.total", "lines")


def target_problem(e: Exception) -> tuple[str, str]:
    """(field, message) of a target's refusal, for the row error report."""
    if isinstance(e, Problem):
        if e.errors:
            return e.errors[0].field, e.errors[0].message
        return "row", e.detail
    return "row", f"{type(e).__name__}: {e}"[:300]
