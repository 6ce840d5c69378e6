"""Cells for every CSV and XLSX file Merx writes: shown as text, never run as a formula.

A spreadsheet runs a cell starting with `=`, `+`, `-` or `@` (and, in some, a tab or a
carriage return) as a formula: a customer's first name `=HYPERLINK("http://evil","x")` in a
segment export would become a live link in the shop owner's spreadsheet. Following the OWASP
"CSV injection" guidance, such a cell gets a leading apostrophe, which makes it literal text.
A plain number ("-12.50") is left alone: it is not a formula and must stay a number.

Text is also stripped of the control characters an XLSX file cannot hold (input refuses them,
see core/validation.py; older rows may still carry them)."""

from __future__ import annotations

from typing import Any, Iterable

from merx.core.validation import ASCII_DECIMAL, strip_control_chars

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value to write into a CSV or XLSX cell: numbers and other non-text values as they
    are, text neutralised."""
    if not isinstance(value, str):
        return value
    value = strip_control_chars(value)
    if value.startswith(FORMULA_TRIGGERS) and not is_plain_number(value):
        return "'" + value
    return value


def is_plain_number(value: str) -> bool:
    """ASCII digits, an optional minus and decimal point: "-12.50"."""
    return ASCII_DECIMAL.fullmatch(value) is not None


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in row]


def unescape_cell(value: str) -> str:
    """An imported cell as it was before `safe_cell`: our own export reads back unchanged."""
    if value.startswith("'") and value[1:].startswith(FORMULA_TRIGGERS):
        return value[1:]
    return value


def table_file(name: str, columns: list[str], rows: Iterable[dict[str, Any]], fmt: str) -> tuple[bytes, str]:
    """(body, media type) of `rows` as CSV or XLSX, every cell through safe_row (no formulas)."""
    import csv
    import io

    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(columns)
        for r in rows:
            writer.writerow(safe_row([r.get(c) for c in columns]))
        return buf.getvalue().encode(), "text/csv; charset=utf-8"
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = name[:31]
    ws.append(columns)
    for r in rows:
        ws.append(safe_row([r.get(c) for c in columns]))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
