"""Bulk product import and export as CSV, XLSX (and JSON rows).

Columns (export writes them, import reads them, so export -> import round-trips):
  sku, name, description, category, brand, status, price, currency, ean, media, channels,
  variant_of, options, price:<CUR>, attr:<code>, attr:<code>:<locale>, name:<locale>,
  description:<locale>
`media` and `channels` are '|'-separated; `options` is 'size=M|colour=red'. A row whose
`variant_of` names a product's main SKU adds or updates that product's variant `sku`.

Import semantics: rows are matched to products by SKU (created when new, updated when not).
A column that is absent leaves the field alone; an empty cell clears it (except name,
status and the main price, which empty cells leave alone). Each row is all-or-nothing (a
savepoint); a bad row is reported with its row number (the header is row 1), the column and
the message, and the other rows still import. Re-importing the same file changes nothing:
an update whose result equals the stored product writes nothing (no version, event or audit)."""

from __future__ import annotations

import codecs
import csv
import io
import json
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import sqlalchemy as sa

from merx.catalog import rules
from merx.catalog.models import Product, Variant
from merx.catalog.refs import Refs, ensure_default_channels
from merx.catalog.schemas import ImportErrorOut, ImportReport, ProductCreate, VariantIn
from merx.catalog.state import DEFAULT_PUBLICATION, _create_from_state, _update_from_state, state_of
from merx.core.auth import Role
from merx.core.errors import Problem, RowError, ValidationProblem
from merx.core.money import MoneyError, check_currency, minor_to_str, parse_amount
from merx.core.settings import Settings
from merx.core.spreadsheet import safe_row, unescape_cell
from merx.core.validation import control_char_message
from merx.core.uow import UnitOfWork

EXTRA_COLUMNS = ("variant_of", "options")
XLSX_MAGIC = b"PK\x03\x04"
MAX_ERRORS_REPORTED = 1000

Progress = Callable[[int, int], None]  # (rows done, rows total)


def detect_format(raw: bytes, filename: str | None, content_type: str) -> str:
    name = (filename or "").lower()
    if raw.startswith(XLSX_MAGIC) or name.endswith(".xlsx") or "spreadsheetml" in content_type:
        return "xlsx"
    if name.endswith(".json") or "json" in content_type:
        return "json"
    return "csv"


# --------------------------------------------------------------------------------------------
# Reading files into rows
# --------------------------------------------------------------------------------------------


@dataclass
class SourceRow:
    number: int  # as a spreadsheet shows it: the header is row 1
    cells: dict[str, str] | None
    error: RowError | None = None


def _csv_rows(raw: bytes) -> tuple[list[str], Iterator[SourceRow]]:
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    # surrogateescape keeps undecodable bytes visible per cell, so one badly encoded row is
    # reported as that row instead of failing the whole file
    text = raw.decode("utf-8", errors="surrogateescape")
    # The delimiter is whichever of , ; TAB the header uses most (spreadsheets in many
    # locales save CSV with ';'); quoting is always the standard doubled-quote style.
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=lambda d: (first_line.count(d), d == ","))
    reader = csv.reader(io.StringIO(text, newline=""), csv.excel, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationProblem.for_field("file", "the file is empty") from None
    except csv.Error as e:
        raise ValidationProblem.for_field("file", f"the header row is not valid CSV: {e}") from None
    header = [h.strip() for h in header]
    if any(_has_bad_bytes(h) for h in header):
        raise ValidationProblem.for_field("file", "the header row is not valid UTF-8")

    def rows() -> Iterator[SourceRow]:
        number = 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                number += 1
                yield SourceRow(number, None, RowError(number, "row", f"not valid CSV: {e}"))
                continue
            number += 1
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                yield SourceRow(number, None, RowError(number, "row", f"has {len(cells)} columns; the header has "
                                                       f"{len(header)}"))
                continue
            bad = next((h for h, c in zip(header, cells) if _has_bad_bytes(c)), None)
            if bad is not None:
                yield SourceRow(number, None, RowError(number, bad, "is not valid UTF-8 text (save the file as UTF-8)"))
                continue
            yield SourceRow(number, dict(zip(header, map(unescape_cell, cells))))

    return header, rows()


def _has_bad_bytes(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _xlsx_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # repr is the shortest text that reads back as the same float: 19.99 -> "19.99"
        return str(int(value)) if value.is_integer() else repr(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _xlsx_rows(raw: bytes) -> tuple[list[str], Iterator[SourceRow]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as e:
        raise ValidationProblem.for_field("file", f"not a readable XLSX workbook: {e}") from None
    ws = wb.worksheets[0]
    it = ws.iter_rows(values_only=True)
    try:
        header = [_xlsx_cell(v).strip() for v in next(it)]
    except StopIteration:
        raise ValidationProblem.for_field("file", "the workbook's first sheet is empty") from None
    while header and header[-1] == "":
        header.pop()

    def rows() -> Iterator[SourceRow]:
        for number, values in enumerate(it, start=2):
            cells = [_xlsx_cell(v) for v in values]
            if all(not c.strip() for c in cells):
                continue
            extra = cells[len(header):]
            if any(c.strip() for c in extra):
                yield SourceRow(number, None, RowError(number, "row", f"has values beyond the {len(header)} "
                                                       "header columns"))
                continue
            cells = (cells + [""] * len(header))[:len(header)]
            yield SourceRow(number, dict(zip(header, map(unescape_cell, cells))))
        wb.close()

    return header, rows()


def _json_rows(raw: bytes) -> tuple[list[str], Iterator[SourceRow]]:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ValidationProblem.for_field("body", f"is not valid JSON: {e}") from None
    if isinstance(data, dict) and isinstance(data.get("rows"), list):
        data = data["rows"]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ValidationProblem.for_field("body", "must be a JSON array of row objects (column -> value)")
    header: list[str] = list(dict.fromkeys(k for r in data for k in r))

    def cell(v: Any) -> str:
        if v is None:
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return repr(v)
        return str(v)

    return header, (SourceRow(i, {k: cell(r.get(k)) for k in header if k in r}) for i, r in enumerate(data, start=2))


def read_rows(raw: bytes, fmt: str) -> tuple[list[str], Iterator[SourceRow]]:
    if fmt == "xlsx":
        return _xlsx_rows(raw)
    if fmt == "json":
        return _json_rows(raw)
    return _csv_rows(raw)


def _check_header(header: list[str]) -> dict[str, rules.Column]:
    columns: dict[str, rules.Column] = {}
    for i, h in enumerate(header):
        if h in EXTRA_COLUMNS:
            columns[h] = rules.Column("base", h)
            continue
        col = rules.parse_column(h)
        if col is None:
            raise ValidationProblem.for_field(f"columns.{h or i}", "unknown column; expected sku, name, description, "
                                              "category, brand, status, price, currency, ean, media, channels, "
                                              "variant_of, options, price:<CUR>, attr:<code>[:<locale>], "
                                              "name:<locale> or description:<locale>")
        if h in columns:
            raise ValidationProblem.for_field(f"columns.{h}", "appears twice")
        columns[h] = col
    if "sku" not in columns:
        raise ValidationProblem.for_field("columns.sku", "the file needs a sku column")
    return columns


# --------------------------------------------------------------------------------------------
# Applying one row
# --------------------------------------------------------------------------------------------


class _RowProblem(Exception):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.split("|") if p.strip()]


def _parse_options(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in _split(text):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise _RowProblem("options", f"{part!r} is not name=value (write size=M|colour=red)")
        out[key.strip()] = value.strip()
    return out


def _format_options(options: dict[str, str]) -> str:
    return "|".join(f"{k}={v}" for k, v in options.items())


def _minor(amount: str, currency: str, column: str) -> int:
    try:
        from merx.core.money import Money

        return Money(parse_amount(amount, currency), currency).minor
    except MoneyError as e:
        raise _RowProblem(column, str(e)) from None


def _row_prices(cells: dict[str, str], columns: dict[str, rules.Column], prices: dict[str, int],
                settings: Settings) -> dict[str, int]:
    out = dict(prices)
    main_currency = None
    if cells.get("price", "").strip():
        cur = cells.get("currency", "").strip() or settings.default_currency
        try:
            check_currency(cur)
        except MoneyError as e:
            raise _RowProblem("currency", str(e)) from None
        out[cur] = _minor(cells["price"].strip(), cur, "price")
        main_currency = cur
    for name, col in columns.items():
        if col.kind != "price":
            continue
        try:
            check_currency(col.key)
        except MoneyError as e:
            raise _RowProblem(name, str(e)) from None
        value = cells.get(name, "").strip()
        if value:
            out[col.key] = _minor(value, col.key, name)
        elif col.key != main_currency:
            out.pop(col.key, None)
    return out


def _apply_row_to_state(state: dict[str, Any], cells: dict[str, str], columns: dict[str, rules.Column],
                        settings: Settings, *, new: bool) -> None:
    def cell(name: str) -> str | None:
        return cells[name].strip() if name in cells else None

    name = cell("name")
    if name:
        state["name"] = name
    elif new:
        raise _RowProblem("name", "a new product needs a name")
    if (v := cell("description")) is not None:
        state["description"] = cells["description"] or None
    for key in ("category", "brand"):
        if (v := cell(key)) is not None:
            state[key] = v or None
    if v := cell("status"):
        if v not in rules.PRODUCT_STATUSES:
            raise _RowProblem("status", "must be draft, active or archived")
        state["status"] = v
    if (v := cell("media")) is not None:
        state["media"] = _split(v)
    if (v := cell("channels")) is not None:
        state["channels"] = sorted(set(_split(v)))
    main = state["variants"][0]
    if (v := cell("ean")) is not None:
        main["ean"] = v or None
    main["prices"] = _row_prices(cells, columns, main["prices"], settings)
    attrs = dict(state["attributes"])
    translations = {loc: dict(t) for loc, t in state["translations"].items()}
    for col_name, col in columns.items():
        if col_name not in cells:
            continue
        value = cells[col_name].strip()
        if col.kind == "attr":
            if value:
                attrs[col.key] = value
            else:
                attrs.pop(col.key, None)
        elif col.kind in ("name", "description", "attr_locale"):
            tr = translations.setdefault(col.locale, {})
            if col.kind == "attr_locale":
                tattrs = dict(tr.get("attributes") or {})
                if value:
                    tattrs[col.key] = value
                else:
                    tattrs.pop(col.key, None)
                tr["attributes"] = tattrs
            elif value:
                tr[col.kind] = cells[col_name]
            else:
                tr.pop(col.kind, None)
    state["attributes"] = attrs
    state["translations"] = {loc: t for loc, t in translations.items() if t}


def _field_to_column(field: str) -> str:
    """Service field names -> the column a spreadsheet user sees."""
    parts = field.split(".")
    if parts[0] == "attributes" and len(parts) > 1:
        return "attr:" + ".".join(parts[1:])
    if parts[0] == "translations" and len(parts) >= 3:
        if parts[2] == "attributes" and len(parts) > 3:
            return f"attr:{parts[3]}:{parts[1]}"
        return f"{parts[2]}:{parts[1]}"
    if parts[0] == "translations" and len(parts) == 2:
        return f"name:{parts[1]}"
    if parts[0] == "channels":
        return "channels"
    if parts[0] in ("prices", "price"):
        return "price"
    if parts[0] == "seller_id":
        return "sku"
    return field


@dataclass
class _Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def _row_limits() -> dict[str, int]:
    """Maximum lengths of the columns, taken from the API's schemas: a file gets no more
    room than a request (and no more than the database columns hold)."""
    def max_len(model: Any, field: str) -> int:
        return next(m.max_length for m in model.model_fields[field].metadata if hasattr(m, "max_length"))

    sku = max_len(VariantIn, "sku")
    return {"sku": sku, "variant_of": sku, "name": max_len(ProductCreate, "name"), "ean": max_len(VariantIn, "ean")}


_ROW_LIMITS = _row_limits()


def _check_row_text(cells: dict[str, str]) -> None:
    for column, value in cells.items():
        message = control_char_message(value)
        if message:
            raise _RowProblem(column, message)
        base = column.split(":", 1)[0] if column.startswith("name:") else column
        limit = _ROW_LIMITS.get(base)
        if limit is not None and len(value.strip()) > limit:
            raise _RowProblem(column, f"is longer than {limit} characters")


def _import_row(refs: Refs, cells: dict[str, str], columns: dict[str, rules.Column], counts: _Counts) -> None:
    _check_row_text(cells)
    uow = refs.uow
    settings = refs.settings
    sku = cells.get("sku", "").strip()
    if not sku:
        raise _RowProblem("sku", "is required")
    actor = uow.actor
    parent_sku = cells.get("variant_of", "").strip()
    lookup = parent_sku or sku
    row = uow.session.execute(sa.select(Variant.product_id, Variant.position).where(Variant.sku == lookup)).first()
    product = uow.session.get(Product, row.product_id) if row else None
    if product is not None and actor.role == Role.seller and product.seller_id != actor.seller_id:
        raise _RowProblem("variant_of" if parent_sku else "sku",
                          f"SKU {lookup!r} belongs to a product you may not edit")
    if parent_sku:
        if product is None:
            raise _RowProblem("variant_of", f"no product has SKU {parent_sku!r} (put the product's row first)")
        old = state_of(product)
        new = state_of(product)
        variant = next((v for v in new["variants"] if v["sku"] == sku), None)
        if variant is None:
            variant = {"sku": sku, "ean": None, "options": {}, "prices": dict(new["variants"][0]["prices"])}
            new["variants"].append(variant)
        if "ean" in cells:
            variant["ean"] = cells["ean"].strip() or None
        if "options" in cells:
            variant["options"] = _parse_options(cells["options"])
        variant["prices"] = _row_prices(cells, columns, variant["prices"], settings)
        changed = _update_from_state(refs, product, old, new)
        if changed:
            counts.updated += 1
        else:
            counts.unchanged += 1
        return
    if product is None:
        state: dict[str, Any] = {
            "name": "", "description": None, "status": "active", "category": None, "brand": None,
            "seller_id": actor.seller_id if actor.role == Role.seller else None, "attributes": {},
            "translations": {}, "media": [], "channels": sorted(DEFAULT_PUBLICATION), "launch_at": None,
            "early_access_segment": None,
            "variants": [{"sku": sku, "ean": None, "options": {}, "prices": {}}],
        }
        _apply_row_to_state(state, cells, columns, settings, new=True)
        _create_from_state(refs, state)
        counts.created += 1
        return
    if row.position != 0 and product.variants and product.variants[0].sku != sku:
        raise _RowProblem("sku", f"SKU {sku!r} is a variant of product {product.variants[0].sku!r}; "
                                 "name that product in variant_of")
    old = state_of(product)
    new = state_of(product)
    _apply_row_to_state(new, cells, columns, settings, new=False)
    if _update_from_state(refs, product, old, new):
        counts.updated += 1
    else:
        counts.unchanged += 1


def _preload_products(uow: UnitOfWork, rows: list[SourceRow]) -> list[Product]:
    """Loads the products the file names, a few hundred per query (with their variants,
    prices and channels), instead of three lazy loads per row."""
    skus = {c.get(k, "").strip() for r in rows if r.cells for c in (r.cells,) for k in ("sku", "variant_of")}
    skus.discard("")
    ordered = sorted(skus)
    product_ids: set[int] = set()
    for i in range(0, len(ordered), 500):
        product_ids.update(uow.session.scalars(sa.select(Variant.product_id).where(Variant.sku.in_(ordered[i:i + 500]))))
    ids = sorted(product_ids)
    loaded: list[Product] = []
    for i in range(0, len(ids), 500):
        loaded.extend(uow.session.scalars(sa.select(Product).where(Product.id.in_(ids[i:i + 500]))))
    return loaded


def import_bytes(uow: UnitOfWork, raw: bytes, fmt: str, settings: Settings,
                 progress: Progress | None = None) -> ImportReport:
    header, rows = read_rows(raw, fmt)
    columns = _check_header(header)
    refs = Refs(uow, settings)
    # Channels first, outside any row's savepoint: a rolled-back row must not take them along.
    refs.channels = ensure_default_channels(uow, settings)
    counts = _Counts()
    errors: list[RowError] = []
    failed_rows = 0
    total = 0
    rows_list = list(rows)
    preloaded = _preload_products(uow, rows_list)  # strong refs keep them in the identity map
    for source in rows_list:
        total += 1
        if source.error is not None:
            errors.append(source.error)
            failed_rows += 1
        else:
            cells = source.cells or {}
            before = (counts.created, counts.updated, counts.unchanged)
            try:
                with uow.savepoint():
                    _import_row(refs, cells, columns, counts)
            except _RowProblem as e:
                counts.created, counts.updated, counts.unchanged = before
                failed_rows += 1
                errors.append(RowError(source.number, e.column, e.message, cells.get(e.column)))
            except (Problem, sa.exc.StatementError) as e:
                counts.created, counts.updated, counts.unchanged = before
                failed_rows += 1
                if isinstance(e, sa.exc.StatementError):  # the database refused this row only
                    e = ValidationProblem("the database refused this row's values")
                # the savepoint rolled back; forget cached rows that may have been expired with it
                refs.categories.clear()
                refs.brands.clear()
                for fe in (e.errors or []) or [None]:
                    column = _field_to_column(fe.field) if fe else "row"
                    errors.append(RowError(source.number, column, fe.message if fe else e.detail, cells.get(column)))
        if progress is not None:
            progress(total, len(rows_list))
    uow.commit()
    del preloaded
    return ImportReport(rows=total, created=counts.created, updated=counts.updated, unchanged=counts.unchanged,
                        failed=failed_rows,
                        errors=[ImportErrorOut(**e.as_dict()) for e in errors[:MAX_ERRORS_REPORTED]])


# --------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------


def export_rows(uow: UnitOfWork, settings: Settings, *, status: str | None = None,
                progress: Progress | None = None) -> tuple[list[str], list[list[str]]]:
    stmt = sa.select(Product).order_by(Product.id)
    if uow.actor.role == Role.seller:
        stmt = stmt.where(Product.seller_id == uow.actor.seller_id)
    if status is not None:
        if status not in rules.PRODUCT_STATUSES:
            raise ValidationProblem.for_field("status", "must be draft, active or archived")
        stmt = stmt.where(Product.status == status)
    states = [state_of(p) for p in uow.session.scalars(stmt)]

    def main_currency(prices: dict[str, int]) -> str | None:
        if settings.default_currency in prices:
            return settings.default_currency
        return sorted(prices)[0] if prices else None

    extra_currencies: set[str] = set()
    attr_codes: set[str] = set()
    locales: set[str] = set()
    loc_attrs: set[tuple[str, str]] = set()
    has_variants = False
    for st in states:
        for i, v in enumerate(st["variants"]):
            mc = main_currency(v["prices"])
            extra_currencies.update(c for c in v["prices"] if c != mc)
            has_variants = has_variants or i > 0
        attr_codes.update(st["attributes"])
        for loc, tr in st["translations"].items():
            locales.add(loc)
            loc_attrs.update((code, loc) for code in (tr.get("attributes") or {}))
    header = list(rules.BASE_COLUMNS)
    if has_variants:
        header += ["variant_of", "options"]
    header += [f"price:{c}" for c in sorted(extra_currencies)]
    header += [f"attr:{c}" for c in sorted(attr_codes)]
    header += [f"attr:{c}:{loc}" for c, loc in sorted(loc_attrs)]
    for loc in sorted(locales):
        header += [f"name:{loc}", f"description:{loc}"]

    def price_cells(row: dict[str, str], prices: dict[str, int]) -> None:
        mc = main_currency(prices)
        if mc:
            row["price"], row["currency"] = minor_to_str(prices[mc], mc), mc
        for c in prices:
            if c != mc:
                row[f"price:{c}"] = minor_to_str(prices[c], c)

    out: list[list[str]] = []
    for n, st in enumerate(states, start=1):
        main = st["variants"][0]
        row = {"sku": main["sku"], "name": st["name"], "description": st["description"] or "",
               "category": st["category"] or "", "brand": st["brand"] or "", "status": st["status"],
               "ean": main["ean"] or "", "media": "|".join(st["media"]), "channels": "|".join(st["channels"])}
        price_cells(row, main["prices"])
        for code, value in st["attributes"].items():
            row[f"attr:{code}"] = _attr_text(value)
        for loc, tr in st["translations"].items():
            for key in ("name", "description"):
                if tr.get(key):
                    row[f"{key}:{loc}"] = tr[key]
            for code, value in (tr.get("attributes") or {}).items():
                row[f"attr:{code}:{loc}"] = _attr_text(value)
        out.append([row.get(h, "") for h in header])
        for v in st["variants"][1:]:
            vrow = {"sku": v["sku"], "variant_of": main["sku"], "ean": v["ean"] or "",
                    "options": _format_options(v["options"])}
            price_cells(vrow, v["prices"])
            out.append([vrow.get(h, "") for h in header])
        if progress is not None:
            progress(n, len(states))
    return header, out


def _attr_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def export_bytes(uow: UnitOfWork, fmt: str, settings: Settings, *, status: str | None = None,
                 progress: Progress | None = None) -> bytes:
    header, rows = export_rows(uow, settings, status=status, progress=progress)
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("products")
        ws.append(safe_row(header))
        for r in rows:
            # every cell as text: a price of "19.90" must not become the float 19.9
            ws.append(safe_row(r))
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()
    buf_s = io.StringIO(newline="")
    writer = csv.writer(buf_s, lineterminator="\n")
    writer.writerow(safe_row(header))
    writer.writerows(safe_row(r) for r in rows)
    return buf_s.getvalue().encode("utf-8")
