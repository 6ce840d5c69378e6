"""`merx import online-retail` on both UCI layouts. The I-layout file is built here from the II
data (renamed columns, M/D/YY H:MM dates, CSV) and must import with identical results. To keep
the suite quick both imports read the same deterministic subset: every line of the invoices
dated before 2009-12-15 (about two weeks, ~40k lines), not the whole file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from merx.core.uow import UnitOfWork

SUBSET_BEFORE = "2009-12-15"
I_COLUMNS = {"Invoice": "InvoiceNo", "Price": "UnitPrice", "Customer ID": "CustomerID"}


def run_import(tmp: Path, path: Path) -> tuple[Any, Any]:
    """Run the command into a fresh SQLite database: (CliRunner result, Database)."""
    from typer.testing import CliRunner

    from merx.cli import app as cli_app
    from merx.core.db import Database
    from merx.core.settings import reset_settings_cache

    tmp.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{tmp / 'merx.db'}"
    env = {"MERX_DATABASE_URL": url, "MERX_DATA_DIR": str(tmp / "data"), "MERX_LOG_LEVEL": "WARNING"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    reset_settings_cache()
    try:
        result = CliRunner().invoke(cli_app, ["import", "online-retail", str(path)])
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        reset_settings_cache()
    return result, Database(url)


def us_date(text: str) -> str:
    d = pd.Timestamp(text)
    return f"{d.month}/{d.day}/{d.year % 100:02d} {d.hour}:{d.minute:02d}"


@pytest.fixture(scope="module")
def subset(tmp_path_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    shared = Path(os.environ.get("MERX_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))
    source = shared / "online_retail_ii_2009_2010.parquet"
    if not source.exists():
        if os.environ.get("MERX_REQUIRE_SERVICES") == "1":
            pytest.fail(f"shared data set {source} is missing", pytrace=False)
        pytest.skip(f"shared data set {source} is missing")
    frame = pd.read_parquet(source)
    frame = frame[frame["InvoiceDate"] < SUBSET_BEFORE].reset_index(drop=True)
    base = tmp_path_factory.mktemp("layouts")
    ii = base / "subset_ii.parquet"
    frame.to_parquet(ii, index=False)
    layout_i = frame.rename(columns=I_COLUMNS)
    layout_i["InvoiceDate"] = [us_date(t) for t in layout_i["InvoiceDate"]]
    i_path = base / "subset_i.csv"
    layout_i.to_csv(i_path, index=False)
    return {"frame": frame, "ii": ii, "i": i_path, "base": base}


def _figures(db: Any) -> dict[str, Any]:
    from merx.analytics import service
    from merx.analytics.models import SalesLine
    from merx.analytics.scope import SalesScope
    from merx.analytics.store import forget_snapshot
    from merx.catalog.models import Product

    forget_snapshot()
    with UnitOfWork(db, readonly=True) as uow:
        lines = sorted(tuple(str(v) for v in r) for r in uow.session.execute(sa.select(
            SalesLine.line_key, SalesLine.kind, SalesLine.line_class, SalesLine.sku, SalesLine.quantity,
            SalesLine.unit_price, SalesLine.line_total_minor, SalesLine.customer_ref, SalesLine.occurred_at,
            SalesLine.country)).all())
        products = sorted(uow.session.execute(sa.select(Product.name, Product.status)).all())
        summary = [(s.orders_count, s.first_order_at, s.last_order_at, s.revenue)
                   for s in service.customer_purchase_summary(uow)]
        sales = service.sales_analysis(uow, SalesScope(), by="day")
    return {"lines": lines, "products": products, "summary": summary, "sales": sales["rows"], "total": sales["total"]}


def test_layout_i_imports_with_identical_results(subset):
    result_ii, db_ii = run_import(subset["base"] / "ii", subset["ii"])
    result_i, db_i = run_import(subset["base"] / "i", subset["i"])
    assert result_ii.exit_code == 0, result_ii.output
    assert result_i.exit_code == 0, result_i.output
    assert "layout found: Online Retail II" in result_ii.output
    assert "layout found: Online Retail (I)" in result_i.output
    a, b = _figures(db_ii), _figures(db_i)
    assert len(a["lines"]) == len(subset["frame"]) > 30_000
    for key in ("lines", "products", "summary", "sales", "total"):
        assert a[key] == b[key], key
    db_ii.dispose()
    db_i.dispose()


def _refused(tmp: Path, path: Path) -> str:
    from merx.catalog.models import Product

    result, db = run_import(tmp, path)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    with UnitOfWork(db, readonly=True) as uow:  # nothing half-imported
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(Product)) == 0
    db.dispose()
    return " ".join(result.output.split())


def test_a_foreign_file_is_refused_naming_the_columns_of_each_layout(subset, tmp_path):
    path = tmp_path / "other.csv"
    subset["frame"].head(50).rename(columns={"Invoice": "InvoiceNo"}).to_csv(path, index=False)
    out = _refused(tmp_path / "db", path)
    assert "Online Retail II: Invoice, StockCode" in out and "(missing Invoice)" in out
    assert "Online Retail (I): InvoiceNo, StockCode" in out and "UnitPrice" in out


def test_a_bad_date_is_refused_before_anything_is_written(subset, tmp_path):
    frame = subset["frame"].head(500).rename(columns=I_COLUMNS)
    frame["InvoiceDate"] = [us_date(t) for t in frame["InvoiceDate"]]
    frame.loc[321, "InvoiceDate"] = "31/12/09 7:45"
    path = tmp_path / "bad_date.csv"
    frame.to_csv(path, index=False)
    out = _refused(tmp_path / "db", path)
    assert "InvoiceDate" in out and "row 323" in out and "31/12/09 7:45" in out


def test_an_unreadable_file_is_refused(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not a parquet file")
    out = _refused(tmp_path / "db", path)
    assert "could not be read" in out


def test_an_xlsx_file_of_layout_i_as_uci_publishes_it(subset, tmp_path):
    """The original UCI download is an Excel sheet with real date cells: 2,000 lines of it."""
    from openpyxl import Workbook

    frame = subset["frame"].head(2000).rename(columns=I_COLUMNS)
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        values = list(row)
        values[4] = pd.Timestamp(values[4]).to_pydatetime()  # InvoiceDate as a date cell
        values[6] = None if pd.isna(values[6]) else float(values[6])
        sheet.append(values)
    path = tmp_path / "Online Retail.xlsx"
    book.save(path)
    result, db = run_import(tmp_path / "db", path)
    assert result.exit_code == 0, result.output
    assert "layout found: Online Retail (I)" in result.output
    from merx.analytics.models import SalesLine

    with UnitOfWork(db, readonly=True) as uow:
        assert uow.session.scalar(sa.select(sa.func.count()).select_from(SalesLine)) == 2000
    db.dispose()
