"""Product and variant costs per currency, with history.

A cost row says what one unit of a product (every variant without its own cost) or of one
variant costs the shop in a currency from `effective_from` on. Rows are never overwritten: a
new cost is a new row, so a sale, a report or a pricing rule asks for the cost in force at a
time (`costs_at`) and an old order keeps the cost it was sold at (orders land it on the line
at checkout). Costs are sensitive (they show the shop's margins): only the back office
(admin, staff) reads or writes them; the routes say so (catalog/api.py).

Sources: the product editor and `POST /products/{id}/costs`, batch imports by SKU (CSV or
JSON, `POST /product-costs/import`), and ERP connectors (integration's `costs` target calls
`import_costs`)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable

import sqlalchemy as sa
from pydantic import ValidationError

from merx.catalog.models import Category, Product, ProductCost, Variant, VariantPrice
from merx.catalog.schemas import CostCreate, CostCoverageOut, CostImport, CostImportReport, CostOut, CostRowIn
from merx.core.db import utcnow
from merx.core.errors import NotFound, ValidationProblem
from merx.core.money import Money
from merx.core.uow import UnitOfWork

# Checkout asks on every order: one statement, built once (a reused statement keeps its cache key).
# Every cost row of the SKUs' products in the currency up to `at`: product-wide rows and the
# variant's own; the newest wins, a variant's own before its product's (see _pick).
_COSTS_AT = (sa.select(Variant.sku, ProductCost.variant_id, ProductCost.effective_from, ProductCost.id,
                       ProductCost.amount_minor)
             .join(Variant, Variant.product_id == ProductCost.product_id)
             .where(Variant.sku.in_(sa.bindparam("skus", expanding=True)),
                    ProductCost.currency == sa.bindparam("currency"),
                    ProductCost.effective_from <= sa.bindparam("at"),
                    sa.or_(ProductCost.variant_id.is_(None), ProductCost.variant_id == Variant.id)))


@dataclass(frozen=True)
class CostFact:
    """The cost of a SKU at a time, and where it came from (for reports that show evidence)."""

    sku: str
    amount: Decimal
    currency: str
    effective_from: dt.datetime
    per_variant: bool


def _pick(rows: Iterable[Any]) -> dict[str, tuple]:
    best: dict[str, tuple] = {}
    for sku, variant_id, eff, cid, minor in rows:
        rank = (variant_id is not None, eff, cid)
        if sku not in best or rank > best[sku][0]:
            best[sku] = (rank, minor, eff)
    return best


def cost_facts_at(uow: UnitOfWork, skus: Iterable[str], currency: str,
                  at: dt.datetime | None = None) -> dict[str, CostFact]:
    wanted = list(dict.fromkeys(s for s in skus if s))
    at = at or utcnow()
    out: dict[str, CostFact] = {}
    conn = uow.session.connection()
    for start in range(0, len(wanted), 500):
        rows = conn.execute(_COSTS_AT, {"skus": wanted[start:start + 500], "currency": currency, "at": at})
        for sku, (rank, minor, eff) in _pick(rows).items():
            out[sku] = CostFact(sku, Money.from_minor(minor, currency).amount, currency, eff, rank[0])
    return out


def costs_at(uow: UnitOfWork, skus: Iterable[str], currency: str, at: dt.datetime | None = None) -> dict[str, Decimal]:
    """SKU -> unit cost in `currency` in force at `at` (now); SKUs without one are absent."""
    return {s: f.amount for s, f in cost_facts_at(uow, skus, currency, at).items()}


def cost_at(uow: UnitOfWork, sku: str, currency: str, at: dt.datetime | None = None) -> Decimal | None:
    """The unit cost of `sku` in `currency` in force at `at` (now), or None when unknown."""
    return costs_at(uow, [sku], currency, at).get(sku)


# -- writing ----------------------------------------------------------------------------------


def _out(c: ProductCost, sku: str | None) -> CostOut:
    return CostOut(id=c.id, product_id=c.product_id, sku=sku, amount=str(Money.from_minor(c.amount_minor,
                                                                                      c.currency).amount),
                   currency=c.currency, effective_from=c.effective_from, source=c.source, reference=c.reference,
                   created_at=c.created_at)


_CostKey = tuple[int, "int | None", str, dt.datetime]


def _recorded_costs(uow: UnitOfWork, product_ids: Iterable[int]) -> dict[_CostKey, ProductCost]:
    """The cost rows of these products by (product, variant, currency, effective from): an
    import looks its rows up here instead of one query (and autoflush) per row."""
    ids = sorted(set(product_ids))
    out: dict[_CostKey, ProductCost] = {}
    for start in range(0, len(ids), 500):
        for c in uow.session.scalars(sa.select(ProductCost).where(ProductCost.product_id.in_(ids[start:start + 500]))
                                     .order_by(ProductCost.id.desc())):  # the first row wins, as .first() did
            out[(c.product_id, c.variant_id, c.currency, c.effective_from)] = c
    return out


def _record(uow: UnitOfWork, product_id: int, variant_id: int | None, data: CostCreate, *, source: str,
            reference: str | None, now: dt.datetime, recorded: dict[_CostKey, ProductCost] | None = None) -> ProductCost:
    """A cost for the same product/variant, currency and effective time replaces that row's
    amount (a corrected import), anything else is a new row of the history. `recorded`: the
    rows of the products concerned (`_recorded_costs`), kept up to date here."""
    eff = data.effective_from or now
    minor = data.to_money().minor
    if recorded is None:
        existing = uow.session.scalars(sa.select(ProductCost).where(
            ProductCost.product_id == product_id, ProductCost.currency == data.currency,
            ProductCost.effective_from == eff,
            ProductCost.variant_id.is_(None) if variant_id is None else ProductCost.variant_id == variant_id)).first()
    else:
        existing = recorded.get((product_id, variant_id, data.currency, eff))
    if existing is not None:
        existing.amount_minor, existing.source = minor, source
        existing.reference = data.reference or reference
        existing.created_by_user_id = uow.actor.user_id
        return existing
    row = ProductCost(product_id=product_id, variant_id=variant_id, currency=data.currency, amount_minor=minor,
                      effective_from=eff, source=source, reference=data.reference or reference,
                      created_by_user_id=uow.actor.user_id, created_at=now)
    uow.session.add(row)
    if recorded is not None:
        recorded[(product_id, variant_id, data.currency, eff)] = row
    return row


def add_product_cost(uow: UnitOfWork, product_id: int, data: CostCreate, *, source: str = "manual") -> CostOut:
    """Record a cost for a product (or, with `sku`, one of its variants)."""
    product = uow.session.get(Product, product_id)
    if product is None:
        raise NotFound(f"Product {product_id} not found")
    variant_id = None
    if data.sku is not None:
        variant_id = next((v.id for v in product.variants if v.sku == data.sku), None)
        if variant_id is None:
            raise ValidationProblem.for_field("sku", f"{data.sku} is not a variant of product {product_id}",
                                              "unknown_sku")
    row = _record(uow, product_id, variant_id, data, source=source, reference=None, now=utcnow())
    uow.session.flush()
    uow.audit("set_cost", "product", product_id, after={"sku": data.sku, "amount": data.amount,
                                                         "currency": data.currency,
                                                         "effective_from": row.effective_from.isoformat()})
    out = _out(row, data.sku)
    uow.commit()
    return out


def import_costs(uow: UnitOfWork, data: CostImport, *, commit: bool = True) -> CostImportReport:
    """Costs by SKU, each row checked on its own: bad rows are reported (row, field, message)
    and the good ones recorded. A SKU that is a product's only variant sets that variant's cost."""
    skus = {r.sku for r in data.rows}
    known = {sku: (vid, pid) for sku, vid, pid in uow.session.execute(
        sa.select(Variant.sku, Variant.id, Variant.product_id).where(Variant.sku.in_(skus)))}
    errors: list[dict[str, Any]] = []
    now, recorded = utcnow(), 0
    rows = _recorded_costs(uow, (pid for _vid, pid in known.values()))
    for i, r in enumerate(data.rows):
        if r.sku not in known:
            errors.append({"row": i + 1, "field": "sku", "message": f"{r.sku} is not a known SKU"})
            continue
        vid, pid = known[r.sku]
        _record(uow, pid, vid, r, source=data.source, reference=data.reference, now=now, recorded=rows)
        recorded += 1
    if recorded:
        uow.session.flush()
        uow.audit("import_costs", "catalog", None, after={"recorded": recorded, "errors": len(errors),
                                                         "source": data.source, "reference": data.reference})
    if commit:
        uow.commit()
    return CostImportReport(recorded=recorded, errors=errors)


def parse_cost_csv(raw: bytes) -> tuple[list[tuple[int, CostRowIn]], list[dict[str, Any]]]:
    """A CSV with columns sku, amount, currency and optionally effective_from, reference
    (header names as written; `cost` is taken for `amount`). Returns the good rows and the
    errors of the others (row numbers count the header as row 1, as a spreadsheet shows)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationProblem.for_field("file", "must be UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text))
    fields = {(f or "").strip().lower() for f in reader.fieldnames or []}
    if "sku" not in fields or not ({"amount", "cost"} & fields) or "currency" not in fields:
        raise ValidationProblem.for_field("file", "needs the columns sku, amount (or cost) and currency")
    rows, errors = [], []
    for n, rec in enumerate(reader, start=2):
        rec = {(k or "").strip().lower(): (v or "").strip() for k, v in rec.items() if k}
        data = {"sku": rec.get("sku"), "amount": rec.get("amount") or rec.get("cost"),
                "currency": rec.get("currency"), "effective_from": rec.get("effective_from") or None,
                "reference": rec.get("reference") or None}
        try:
            rows.append((n, CostRowIn.model_validate(data)))
        except ValidationError as e:
            for err in e.errors():
                errors.append({"row": n, "field": ".".join(str(p) for p in err["loc"]) or "row",
                               "message": err["msg"]})
    return rows, errors


def import_cost_csv(uow: UnitOfWork, raw: bytes, *, reference: str | None = None) -> CostImportReport:
    rows, errors = parse_cost_csv(raw)
    if not rows:
        return CostImportReport(recorded=0, errors=errors or [{"row": 1, "field": "file", "message": "no rows"}])
    report = import_costs(uow, CostImport(rows=[r for _, r in rows], source="csv", reference=reference))
    # the import's row numbers are positions among the good rows: report the file's own
    shifted = [{**e, "row": rows[e["row"] - 1][0]} for e in report.errors]
    return CostImportReport(recorded=report.recorded, errors=sorted(errors + shifted, key=lambda e: e["row"]))


# -- reading ----------------------------------------------------------------------------------


def cost_history(uow: UnitOfWork, product_id: int, *, currency: str | None = None) -> list[CostOut]:
    """Every cost of a product and its variants, newest first."""
    if uow.session.get(Product, product_id) is None:
        raise NotFound(f"Product {product_id} not found")
    stmt = (sa.select(ProductCost, Variant.sku).outerjoin(Variant, Variant.id == ProductCost.variant_id)
            .where(ProductCost.product_id == product_id)
            .order_by(ProductCost.effective_from.desc(), ProductCost.id.desc()))
    if currency:
        stmt = stmt.where(ProductCost.currency == currency)
    return [_out(c, sku) for c, sku in uow.session.execute(stmt)]


def cost_coverage(uow: UnitOfWork, currency: str, *, at: dt.datetime | None = None) -> CostCoverageOut:
    """Which active variants have a cost in `currency` now, per category, with the average
    cost as a share of the price: what the costs page shows and what margins rest on."""
    rows = uow.session.execute(
        sa.select(Variant.sku, Product.id, Product.name, Category.code, VariantPrice.amount_minor)
        .join(Product, Product.id == Variant.product_id)
        .outerjoin(Category, Category.id == Product.category_id)
        .outerjoin(VariantPrice, sa.and_(VariantPrice.variant_id == Variant.id, VariantPrice.currency == currency))
        .where(Product.status == "active", Product.seller_id.is_(None))
        .order_by(Product.id, Variant.position, Variant.id)).all()
    costs = costs_at(uow, [r[0] for r in rows], currency, at)
    cats: dict[str, dict[str, Any]] = {}
    missing = []
    for sku, pid, name, cat, price_minor in rows:
        c = cats.setdefault(cat or "(none)", {"category": cat or "(none)", "variants": 0, "with_cost": 0,
                                               "_ratios": []})
        c["variants"] += 1
        price = Money.from_minor(price_minor, currency).amount if price_minor is not None else None
        if sku in costs:
            c["with_cost"] += 1
            if price:
                c["_ratios"].append(costs[sku] / price)
        elif len(missing) < 200:
            missing.append({"sku": sku, "product_id": pid, "name": name, "category": cat,
                            "price": str(price) if price is not None else None})
    categories = []
    for c in sorted(cats.values(), key=lambda c: c["category"]):
        ratios = c.pop("_ratios")
        c["avg_cost_ratio"] = str(round(sum(ratios) / len(ratios), 3)) if ratios else None
        categories.append(c)
    return CostCoverageOut(currency=currency, variants=len(rows), with_cost=len(costs), categories=categories,
                           missing=missing)
