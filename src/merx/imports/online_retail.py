"""`merx import online-retail PATH`: the UCI Online Retail II data set (a UK online gift
retailer's invoice lines, 2009-12 .. 2010-12) as a real catalog, customer base and, through
the analytics context, sales history.

Choices (the raw file has one row per invoice line, not one per product):
- Products: one per distinct StockCode (SKU = the code as written; codes differing only in
  case, such as 85123A / 85123a, are distinct in the source and stay distinct).
  Name = the most frequent non-empty Description of that code (whitespace collapsed; ties go
  to the alphabetically first, so re-runs choose the same). Price = the most frequent
  positive unit Price, in GBP, rounded half-up to pence (one line has 0.001 GBP).
  A code with no description is named after its code; a code with no description or no
  positive price is imported as a `draft` (not sellable), as are the retailer's non-product
  codes (postage, manual adjustments, bank charges, fees, tests): they stay visible to staff
  so the sales history can refer to them, but never reach the public catalog.
  Active products are published to the `web` channel.
- Customers: one per distinct Customer ID, external_ref `online-retail:<id>`, country =
  the country of the customer's most recent invoice line, as ISO 3166-1 alpha-2 (names the
  file uses that are not one country, such as "Unspecified", "European Community", "West
  Indies" or "Channel Islands", leave the country empty). Lines without a Customer ID are
  guest purchases: they create no customer (the report counts them).
- Idempotent: products are matched by SKU and customers by external_ref; a second run
  changes nothing (no version bump, no event, no audit row).
- Everything runs in one transaction: an interrupted import leaves no half-imported data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Callable

import sqlalchemy as sa

from merx.catalog import rules
from merx.catalog.events import ProductCreated
from merx.catalog.models import Product, ProductChannel, Variant, VariantPrice
from merx.catalog.refs import Refs, ensure_default_channels
from merx.catalog.state import _update_from_state, state_of
from merx.core.db import utcnow
from merx.core.errors import ValidationProblem
from merx.core.uow import UnitOfWork

SOURCE = "online-retail"
CURRENCY = "GBP"
REQUIRED_COLUMNS = ("Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID",
                    "Country")
# Codes the retailer used for things that are not merchandise.
NON_PRODUCT_CODES = frozenset({
    "POST", "DOT", "M", "m", "D", "C2", "C3", "S", "B", "BANK CHARGES", "AMAZONFEE", "ADJUST", "ADJUST2", "PADS",
    "TEST001", "TEST002", "CRUK",
})
COUNTRY_CODES = {
    "Australia": "AU", "Austria": "AT", "Bahrain": "BH", "Belgium": "BE", "Bermuda": "BM", "Brazil": "BR",
    "Canada": "CA", "Cyprus": "CY", "Czech Republic": "CZ", "Denmark": "DK", "EIRE": "IE", "Finland": "FI",
    "France": "FR", "Germany": "DE", "Greece": "GR", "Hong Kong": "HK", "Iceland": "IS", "Israel": "IL",
    "Italy": "IT", "Japan": "JP", "Korea": "KR", "Lebanon": "LB", "Lithuania": "LT", "Malta": "MT",
    "Netherlands": "NL", "Nigeria": "NG", "Norway": "NO", "Poland": "PL", "Portugal": "PT", "RSA": "ZA",
    "Saudi Arabia": "SA", "Singapore": "SG", "Spain": "ES", "Sweden": "SE", "Switzerland": "CH",
    "Thailand": "TH", "United Arab Emirates": "AE", "United Kingdom": "GB", "USA": "US",
}
INSERT_CHUNK = 1000

# progress(step description, units done so far, total units or None)
Progress = Callable[[str, int, int | None], None]


@dataclass
class OnlineRetailReport:
    layout: str = ""
    lines: int = 0
    stock_codes: int = 0
    products_created: int = 0
    products_updated: int = 0
    products_unchanged: int = 0
    drafts_without_description: int = 0
    drafts_without_price: int = 0
    drafts_non_product_codes: int = 0
    customers: int = 0
    customers_created: int = 0
    customers_updated: int = 0
    customers_unchanged: int = 0
    customers_without_country: int = 0
    guest_lines: int = 0
    analytics: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# The two UCI layouts, column by column (the II names are the ones the import works with).
LAYOUTS: dict[str, dict[str, str]] = {
    "Online Retail II": {c: c for c in REQUIRED_COLUMNS},
    "Online Retail (I)": {"InvoiceNo": "Invoice", "StockCode": "StockCode", "Description": "Description",
                          "Quantity": "Quantity", "InvoiceDate": "InvoiceDate", "UnitPrice": "Price",
                          "CustomerID": "Customer ID", "Country": "Country"},
}
TEXT_COLUMNS = ("Invoice", "InvoiceNo", "StockCode", "Description", "InvoiceDate", "Country")
READABLE = (".parquet", ".csv", ".xlsx")


def _read_any(path: Path):  # type: ignore[no-untyped-def]
    import pyarrow as pa

    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path)
    if suffix == ".csv":
        import pyarrow.csv as pacsv

        # codes and invoice numbers are text even when they look like numbers ("85123", "489434")
        names = pacsv.read_csv(path, read_options=pacsv.ReadOptions(skip_rows_after_names=10**9)).column_names
        return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names if n in TEXT_COLUMNS}, strings_can_be_null=True))
    if suffix == ".xlsx":
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = [str(h) if h is not None else "" for h in next(rows, ())]
        columns: list[list[Any]] = [[] for _ in header]
        for row in rows:
            for i, v in enumerate(row[:len(header)]):
                columns[i].append(v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, dt.datetime)
                                  else str(v) if header[i] in TEXT_COLUMNS and v is not None else v)
        return pa.table({h: columns[i] for i, h in enumerate(header) if h})
    raise ValidationProblem.for_field("path", f"{path.name}: expected one of {', '.join(READABLE)}")


def detect_layout(column_names: list[str]) -> str:
    """Which UCI layout the columns are; a refusal names the columns each layout expects."""
    present = set(column_names)
    for layout, columns in LAYOUTS.items():
        if set(columns) <= present:
            return layout
    expected = "; ".join(f"{layout}: {', '.join(columns)} (missing {', '.join(c for c in columns if c not in present)})"
                         for layout, columns in LAYOUTS.items())
    raise ValidationProblem.for_field("path", f"not an Online Retail file. Expected the columns of {expected}")


def _iso_dates(values: list[Any]) -> list[str]:
    """InvoiceDate as ISO text 'YYYY-MM-DD HH:MM:SS' from either layout's form: ISO text
    (II), M/D/YY H:MM or M/D/YYYY H:MM (I, US month first), or a timestamp."""
    out: list[str] = []
    cache: dict[Any, str] = {}
    for row, v in enumerate(values, start=2):
        got = cache.get(v)
        if got is None:
            got = cache[v] = _iso_date(v, row)
        out.append(got)
    return out


def _iso_date(v: Any, row: int) -> str:
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    text = str(v).strip() if v is not None else ""
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%m/%d/%y %H:%M", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S"):
        try:
            return dt.datetime.strptime(text, fmt).strftime("%Y-%m-%d %H:%M:%S")
        except ValueError:
            continue
    raise ValidationProblem.for_field(
        "InvoiceDate", f"row {row}: {text!r} is not a date (expected YYYY-MM-DD HH:MM:SS or M/D/YY H:MM)")


def read_table(path: Path):  # type: ignore[no-untyped-def]
    """The file as a table in the Online Retail II shape (names, types, ISO date text), with
    `table.schema.metadata[b"layout"]` naming the layout found. Nothing is written here:
    every refusal happens before the import touches the database."""
    import pyarrow as pa
    import pyarrow.compute as pc

    path = Path(path)
    if not path.exists():
        raise ValidationProblem.for_field("path", f"{path} does not exist")
    try:
        raw = _read_any(path)
    except ValidationProblem:
        raise
    except Exception as e:  # noqa: BLE001 - a damaged or foreign file is a refusal, not a traceback
        raise ValidationProblem.for_field("path", f"{path.name} could not be read: {e}") from None
    layout = detect_layout(raw.column_names)
    renames = LAYOUTS[layout]
    columns: dict[str, Any] = {}
    try:
        for source, target in renames.items():
            col = raw.column(source)
            if target in ("Invoice", "StockCode", "Description", "Country"):
                col = pc.cast(col, pa.string())
            elif target == "Quantity":
                col = pc.cast(col, pa.int64())
            elif target in ("Price", "Customer ID"):
                col = pc.cast(col, pa.float64())
            columns[target] = col
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise ValidationProblem.for_field("path", f"{layout}: a column has values of the wrong type: {e}") from None
    columns["InvoiceDate"] = pa.array(_iso_dates(raw.column(
        next(s for s, t in renames.items() if t == "InvoiceDate")).to_pylist()), pa.string())
    for name in ("Invoice", "Quantity", "Price"):
        nulls = columns[name].null_count
        if nulls:
            raise ValidationProblem.for_field(name, f"{nulls} rows have no {name}")
    table = pa.table({c: columns[c] for c in REQUIRED_COLUMNS})
    return table.replace_schema_metadata({b"layout": layout.encode()})


@dataclass
class _ProductSpec:
    sku: str
    name: str
    price_minor: int | None
    status: str


def product_specs(table) -> tuple[list[_ProductSpec], OnlineRetailReport]:  # type: ignore[no-untyped-def]
    import pyarrow.compute as pc

    report = OnlineRetailReport(lines=table.num_rows)
    codes = sorted(c for c in pc.unique(table["StockCode"]).to_pylist() if c is not None)
    report.stock_codes = len(codes)

    desc_counts: dict[str, list[tuple[str, int]]] = {}
    grouped = table.select(["StockCode", "Description", "Quantity"]).group_by(["StockCode", "Description"]) \
        .aggregate([("Quantity", "count")])
    for code, desc, n in zip(grouped["StockCode"].to_pylist(), grouped["Description"].to_pylist(),
                             grouped["Quantity_count"].to_pylist()):
        cleaned = rules.clean_description(desc)
        if code is not None and cleaned is not None:
            desc_counts.setdefault(code, []).append((cleaned, n))

    positive = table.filter(pc.greater(table["Price"], 0)).select(["StockCode", "Price", "Quantity"])
    price_counts: dict[str, list[tuple[int, int]]] = {}
    grouped = positive.group_by(["StockCode", "Price"]).aggregate([("Quantity", "count")])
    for code, price, n in zip(grouped["StockCode"].to_pylist(), grouped["Price"].to_pylist(),
                              grouped["Quantity_count"].to_pylist()):
        # repr is the shortest decimal that reads back as the same double: 2.1 -> "2.1"
        minor = int((Decimal(repr(price)) * 100).to_integral_value(ROUND_HALF_UP))
        if code is not None and minor > 0:
            price_counts.setdefault(code, []).append((minor, n))

    specs = []
    for code in codes:
        name = rules.most_frequent(desc_counts.get(code, []))
        price = rules.most_frequent(price_counts.get(code, []))
        status = "active"
        if code in NON_PRODUCT_CODES:
            status = "draft"
            report.drafts_non_product_codes += 1
        elif name is None:
            status = "draft"
            report.drafts_without_description += 1
        elif price is None:
            status = "draft"
            report.drafts_without_price += 1
        specs.append(_ProductSpec(sku=code, name=(name or code)[:500], price_minor=price, status=status))
    return specs, report


def customer_rows(table) -> tuple[list[dict[str, Any]], int, int]:  # type: ignore[no-untyped-def]
    """One row per Customer ID with the country of its latest invoice line."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = pc.cast(table["Customer ID"], pa.int64(), safe=False).to_pylist()
    dates = table["InvoiceDate"].to_pylist()
    countries = table["Country"].to_pylist()
    latest: dict[int, tuple[str, str]] = {}
    guest_lines = 0
    for cid, when, country in zip(ids, dates, countries):
        if cid is None:
            guest_lines += 1
            continue
        seen = latest.get(cid)
        # ISO text timestamps sort chronologically; on a tie the later line in the file wins
        if seen is None or when >= seen[0]:
            latest[cid] = (when, country)
    rows = []
    without_country = 0
    for cid in sorted(latest):
        iso = COUNTRY_CODES.get(latest[cid][1])
        without_country += iso is None
        rows.append({"external_ref": f"{SOURCE}:{cid}", "country": iso})
    return rows, guest_lines, without_country


def _upsert_products(uow: UnitOfWork, specs: list[_ProductSpec], report: OnlineRetailReport,
                     progress: Progress | None) -> None:
    session = uow.session
    existing: dict[str, tuple[int, str, int | None]] = {}
    skus = [s.sku for s in specs]
    for i in range(0, len(skus), 500):
        chunk = skus[i:i + 500]
        rows = session.execute(
            sa.select(Variant.sku, Product.id, Product.name, VariantPrice.amount_minor)
            .join(Product, Product.id == Variant.product_id)
            .outerjoin(VariantPrice, sa.and_(VariantPrice.variant_id == Variant.id, VariantPrice.currency == CURRENCY))
            .where(Variant.sku.in_(chunk))).all()
        existing.update({r[0]: (r[1], r[2], r[3]) for r in rows})

    channels = ensure_default_channels(uow)
    web_id = channels["web"].id
    new_specs = [s for s in specs if s.sku not in existing]
    done = 0
    now = utcnow()
    for i in range(0, len(new_specs), INSERT_CHUNK):
        chunk = new_specs[i:i + INSERT_CHUNK]
        product_ids = session.scalars(
            sa.insert(Product).returning(Product.id, sort_by_parameter_order=True),
            [{"status": s.status, "name": s.name, "description": None, "seller_id": None, "attributes": {},
              "translations": {}, "media": [], "version": 1, "created_at": now, "updated_at": now}
             for s in chunk]).all()
        variant_ids = session.scalars(
            sa.insert(Variant).returning(Variant.id, sort_by_parameter_order=True),
            [{"product_id": pid, "sku": s.sku, "ean": None, "options": {}, "position": 0, "created_at": now}
             for pid, s in zip(product_ids, chunk)]).all()
        prices = [{"variant_id": vid, "currency": CURRENCY, "amount_minor": s.price_minor}
                  for vid, s in zip(variant_ids, chunk) if s.price_minor is not None]
        if prices:
            session.execute(sa.insert(VariantPrice), prices)
        pubs = [{"product_id": pid, "channel_id": web_id, "published_at": now}
                for pid, s in zip(product_ids, chunk) if s.status == "active"]
        if pubs:
            session.execute(sa.insert(ProductChannel), pubs)
        for pid, s in zip(product_ids, chunk):
            price = {CURRENCY: _minor_text(s.price_minor)} if s.price_minor is not None else {}
            channels_of = ["web"] if s.status == "active" else []
            uow.emit(ProductCreated(product_id=pid, sku=s.sku, skus=[s.sku], name=s.name, status=s.status,
                                    category=None, brand=None, seller_id=None, channels=channels_of,
                                    prices={s.sku: price}), version=1)
            uow.audit("create", "product", pid, after={"sku": s.sku, "name": s.name, "status": s.status,
                                                       "prices": price, "channels": channels_of,
                                                       "source": SOURCE})
        report.products_created += len(chunk)
        done += len(chunk)
        if progress:
            progress("products", done, len(specs))

    # Known SKUs: only a changed name or GBP price is an update (a status or channel set by
    # a user since the last import is theirs to keep).
    refs = Refs(uow, uow.settings)
    refs.channels = channels
    for s in specs:
        if s.sku not in existing:
            continue
        pid, name, price_minor = existing[s.sku]
        if name == s.name and (s.price_minor is None or price_minor == s.price_minor):
            report.products_unchanged += 1
        else:
            product = session.get(Product, pid)
            assert product is not None
            old = state_of(product)
            new = state_of(product)
            new["name"] = s.name
            if s.price_minor is not None:
                main = next(v for v in new["variants"] if v["sku"] == s.sku)
                main["prices"] = {**main["prices"], CURRENCY: s.price_minor}
            if _update_from_state(refs, product, old, new):
                report.products_updated += 1
            else:
                report.products_unchanged += 1
        done += 1
        if progress and done % 500 == 0:
            progress("products", done, len(specs))
    if progress:
        progress("products", len(specs), len(specs))


def _minor_text(minor: int) -> str:
    return str(Decimal(minor).scaleb(-2).quantize(Decimal("0.01")))


def import_online_retail(uow: UnitOfWork, path: Path, *, progress: Progress | None = None,
                         line_progress: Callable[[int], None] | None = None,
                         with_sales_lines: bool = True) -> OnlineRetailReport:
    """Imports products and customers (and, when `with_sales_lines` is true, the invoice lines
    into analytics' sales history) in the caller's unit of work, then commits."""
    from merx.customers import public as customers

    started = dt.datetime.now(dt.timezone.utc)
    table = read_table(Path(path))
    if progress:
        progress("reading", 1, 1)
    specs, report = product_specs(table)
    report.layout = (table.schema.metadata or {}).get(b"layout", b"Online Retail II").decode()
    _upsert_products(uow, specs, report, progress)

    rows, report.guest_lines, report.customers_without_country = customer_rows(table)
    report.customers = len(rows)
    for i in range(0, len(rows), INSERT_CHUNK):
        created, updated, unchanged = customers.upsert_customers_by_external_ref(uow, rows[i:i + INSERT_CHUNK])
        report.customers_created += created
        report.customers_updated += updated
        report.customers_unchanged += unchanged
        if progress:
            progress("customers", min(i + INSERT_CHUNK, len(rows)), len(rows))
    customer_ids_by_ref = customers.ids_by_external_refs(uow, [r["external_ref"] for r in rows])

    # The analytics context loads the invoice lines into the sales history, in this same transaction.
    from merx.analytics import public as analytics

    if not with_sales_lines:
        report.notes.append("invoice lines not loaded: skipped on request")
    else:
        report.analytics = analytics.import_online_retail_lines(uow, table, customer_ids_by_ref, line_progress)
    uow.commit()
    report.notes.append(f"took {(dt.datetime.now(dt.timezone.utc) - started).total_seconds():.1f}s")
    return report
