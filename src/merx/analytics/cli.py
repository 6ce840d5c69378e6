"""`merx analytics funnel|cohorts|sales|pareto|portfolio|inventory|forecast|abandonment`:
the reports as Rich tables, or written to a CSV/XLSX/PNG/SVG file with --output."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.console import Console
from rich.table import Table

analytics_app = typer.Typer(help="Analytics reports: funnel, cohorts, sales, portfolio, inventory, forecast.",
                            no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _when(value: Optional[str], name: str) -> Optional[dt.datetime]:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO date", param_hint=name) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _run(kind: str, build: Callable[[Any, Path], dict[str, Any]], output: Optional[Path], as_json: bool,
         columns: Optional[list[str]] = None, title: str = "") -> None:
    from merx.analytics import exports
    from merx.core.cli_support import upgraded_database
    from merx.core.errors import Problem
    from merx.core.settings import get_settings
    from merx.core.uow import UnitOfWork

    db = upgraded_database()
    data_dir = get_settings().data_dir
    try:
        with err.status(f"computing {kind} (the first run reads the sales history into a columnar snapshot)"), \
                UnitOfWork(db, readonly=True) as uow:
            report = build(uow, data_dir)
    except Problem as e:
        err.print(f"[red]{e.detail}[/red]")
        raise typer.Exit(2) from None
    if output is not None:
        fmt = output.suffix.lstrip(".").lower()
        if fmt in ("csv", "xlsx"):
            cols, rows = exports.table(kind, report)
            data = exports.to_csv(cols, rows) if fmt == "csv" else exports.to_xlsx(cols, rows, kind)
        elif fmt in ("png", "svg"):
            data = exports.chart(kind, report, fmt)
        elif fmt == "json":
            data = json.dumps(report, indent=2, default=str).encode()
        else:
            raise typer.BadParameter("the output file must end in .csv, .xlsx, .png, .svg or .json", param_hint="--output")
        output.write_bytes(data)
        err.print(f"[green]wrote[/green] {output} ({len(data)} bytes)")
        return
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
        return
    cols, rows = exports.table(kind, report)
    cols = [c for c in (columns or cols) if c in cols]
    table = Table(title=title or kind, show_lines=False)
    for c in cols:
        table.add_column(c, justify="right" if rows and isinstance(rows[0].get(c), (int, float)) else "left")
    for r in rows[:200]:
        table.add_row(*["" if r.get(c) is None else str(r.get(c)) for c in cols])
    console.print(table)
    if len(rows) > 200:
        err.print(f"{len(rows) - 200} more rows: use --output FILE.csv")
    for note_key in ("cost_basis",):
        if report.get(note_key):
            err.print(f"[dim]{report[note_key]}[/dim]")
    from merx.analytics.cost_gaps import summary

    if gaps := summary(report.get("cost_missing")):
        err.print(f"[yellow]{gaps}[/yellow]")


OUTPUT = typer.Option(None, "--output", "-o", help="Write .csv, .xlsx, .png, .svg or .json instead of a table.")
JSON = typer.Option(False, "--json", help="Print the report as JSON.")
FROM = typer.Option(None, "--from", help="ISO date, inclusive")
TO = typer.Option(None, "--to", help="ISO date, exclusive")
LANG = typer.Option(None, "--lang", help="Language of product names (a locale code); default: the shop's default.")


def _scope(date_from: Optional[str], date_to: Optional[str], currency: Optional[str] = None):  # type: ignore[no-untyped-def]
    from merx.analytics.scope import SalesScope

    return SalesScope(date_from=_when(date_from, "--from"), date_to=_when(date_to, "--to"), currency=currency)


@analytics_app.command("funnel")
def funnel_cmd(date_from: Optional[str] = FROM, date_to: Optional[str] = TO,
               by: Optional[str] = typer.Option(None, help="channel|source|campaign|device|segment|category|day|week|month"),
               min_product_views: int = 1, retention_days: int = 90,
               events: Optional[Path] = typer.Option(None, help="Parquet file/folder of events (default: the store)"),
               output: Optional[Path] = OUTPUT, as_json: bool = JSON) -> None:
    """The five-stage funnel."""
    from merx.analytics import service
    from merx.analytics.funnel import FunnelDefinition
    from merx.analytics.store import ParquetEventSource

    definition = FunnelDefinition(interest_min_events=min_product_views, retention_days=retention_days)
    _run("funnel", lambda uow, d: service.funnel_report(
        uow, data_dir=d, events=ParquetEventSource(events) if events else None, date_from=_when(date_from, "--from"),
        date_to=_when(date_to, "--to"), by=by, definition=definition), output, as_json,
        ["key", "stage", "count", "conversion", "overall_conversion", "drop_off", "median_time_to_next"], "Funnel")


@analytics_app.command("cohorts")
def cohorts_cmd(date_from: Optional[str] = FROM, date_to: Optional[str] = TO, currency: Optional[str] = None,
                clv_months: int = 12, output: Optional[Path] = OUTPUT, as_json: bool = JSON) -> None:
    """Monthly acquisition cohorts: retention by month, repeat rate, revenue (and CLV with --json)."""
    from merx.analytics import service

    _run("cohorts", lambda uow, d: service.cohort_report(uow, _scope(date_from, date_to, currency), data_dir=d,
                                                         clv_months=clv_months), output, as_json, title="Cohorts")


@analytics_app.command("sales")
def sales_cmd(by: str = typer.Option("month", help="product|category|brand|channel|location|region|country|"
                                                  "sales_rep|customer|day|week|month|quarter|year"),
              date_from: Optional[str] = FROM, date_to: Optional[str] = TO, currency: Optional[str] = None,
              limit: Optional[int] = None, output: Optional[Path] = OUTPUT, as_json: bool = JSON,
              returns: str = typer.Option("return_date", help="return_date|original_sale: period a return counts in"),
              lang: Optional[str] = LANG) -> None:
    """Gross, discounts, returns and net sales (shipping, fees, adjustments apart), units, orders, AOV, growth."""
    from merx.analytics import service

    _run("sales", lambda uow, d: service.sales_analysis(uow, _scope(date_from, date_to, currency), data_dir=d, by=by,
                                                        limit=limit, returns=returns, locale=lang), output, as_json,
         ["key", "name", "gross", "discounts", "returns", "net", "shipping", "fees", "adjustments", "units", "orders",
          "aov", "growth"], f"Net sales by {by}")


@analytics_app.command("pareto")
def pareto_cmd(of: str = "products", measure: str = "revenue", date_from: Optional[str] = FROM,
               date_to: Optional[str] = TO, limit: int = 20, output: Optional[Path] = OUTPUT,
               as_json: bool = JSON, lang: Optional[str] = LANG) -> None:
    """Which 20% of products or customers make which share of revenue or profit."""
    from merx.analytics import service

    def build(uow: Any, d: Path) -> dict[str, Any]:
        report = service.pareto_report(uow, _scope(date_from, date_to), data_dir=d, of=of, measure=measure,
                                       limit=limit, locale=lang)
        err.print(f"top {report['top_items']} of {report['items']} {of} make "
                  f"{(report['top_share_of_measure'] or 0):.1%} of {measure}; "
                  f"80% needs {report['items_for_80']} ({(report['items_share_for_80'] or 0):.1%})")
        return report

    _run("pareto", build, output, as_json, title=f"Pareto of {of} by {measure}")


@analytics_app.command("portfolio")
def portfolio_cmd(date_from: Optional[str] = FROM, date_to: Optional[str] = TO, margin_basis: str = "unit",
                  output: Optional[Path] = OUTPUT, as_json: bool = JSON, lang: Optional[str] = LANG) -> None:
    """Gold / sunrise / sunset / rest, the mix against 40/30/30 and drop candidates."""
    from merx.analytics import service

    def build(uow: Any, d: Path) -> dict[str, Any]:
        report = service.portfolio_report(uow, _scope(date_from, date_to), data_dir=d, margin_basis=margin_basis,
                                          locale=lang)
        mix = Table(title="Mix against target")
        for c in ("class", "products", "share", "revenue_share", "target", "gap"):
            mix.add_column(c)
        for m in report["mix"]:
            mix.add_row(*[str(m[c]) for c in ("class", "products", "share", "revenue_share", "target", "gap")])
        if output is None and not as_json:
            console.print(mix)
            err.print(f"drop candidates: {', '.join(x['sku'] for x in report['drop_candidates'][:30])}")
        return report

    _run("portfolio", build, output, as_json,
         ["sku", "name", "category", "class", "units", "revenue", "profit", "margin", "drop_candidate"], "Products")


@analytics_app.command("inventory")
def inventory_cmd(lookback_days: int = 90, overstock_ratio: float = 0.5, safety_days: float = 7.0,
                  status: Optional[str] = None, demand: str = typer.Option("history", help="history or forecast"),
                  output: Optional[Path] = OUTPUT, as_json: bool = JSON) -> None:
    """Stock on hand against average monthly sales: overstock, risk, days of cover."""
    from merx.analytics import service

    _run("inventory", lambda uow, d: service.inventory_report(
        uow, _scope(None, None), data_dir=d, lookback_days=lookback_days, overstock_ratio=overstock_ratio,
        safety_days=safety_days, status=status, demand=demand), output, as_json, title="Inventory health")


@analytics_app.command("forecast")
def forecast_cmd(freq: str = "week", level: str = "total", key: Optional[str] = None, measure: str = "revenue",
                 horizon: int = 4, folds: int = 8, output: Optional[Path] = OUTPUT, as_json: bool = JSON) -> None:
    """Seasonal-naive and ETS forecasts with a rolling-origin backtest (MAPE, sMAPE, MASE)."""
    from merx.analytics import service

    def build(uow: Any, d: Path) -> dict[str, Any]:
        report = service.forecast_report(uow, _scope(None, None), data_dir=d, freq=freq, level=level, key=key,
                                         measure=measure, horizon=horizon, folds=folds)
        bt = report.get("backtest")
        if bt and output is None and not as_json:
            t = Table(title=f"Backtest: {bt['folds']} origins, horizon {bt['horizon']}")
            for c in ("model", "MAPE %", "sMAPE %", "MASE"):
                t.add_column(c)
            for name in ("seasonal_naive", "ets"):
                m = bt[name]
                t.add_row(name, *[str(m[k]) for k in ("mape", "smape", "mase")])
            console.print(t)
            err.print(f"model: {report['model']}; better on MASE: {bt['winner_on_mase']}. {bt.get('note', '')}")
        return report

    _run("forecast", build, output, as_json, title="Forecast")


@analytics_app.command("abandonment")
def abandonment_cmd(scan: bool = typer.Option(False, "--scan", help="Detect new abandonments and emit events first"),
                    hours: float = 24, output: Optional[Path] = OUTPUT, as_json: bool = JSON) -> None:
    """Abandoned carts and browsing, and the revenue recovered after reminders."""
    from merx.analytics import service
    from merx.core.cli_support import upgraded_database
    from merx.core.settings import get_settings
    from merx.core.uow import UnitOfWork

    if scan:
        with UnitOfWork(upgraded_database()) as uow:
            found = service.abandonment_scan(uow, data_dir=get_settings().data_dir, hours=hours)
        err.print(f"scan: {found}")
    _run("abandonment", lambda uow, d: service.abandonment_report(uow), output, as_json, title="Abandonment")


def _import_cdnow(path: Path = typer.Argument(Path("../shared/data/cdnow_master.txt"), help="cdnow_master.txt")) -> None:
    """Load the CDNOW purchase history (Fader & Hardie) into the analytics sales history."""
    from decimal import Decimal

    from rich.progress import Progress

    from merx.analytics import service
    from merx.analytics.facts import SalesLineIn
    from merx.core.cli_support import upgraded_database
    from merx.core.uow import UnitOfWork

    rows = []
    with path.open() as f:
        header = f.readline().split()
        if header[:2] != ["customer_id", "date"]:
            raise typer.BadParameter("expected the CDNOW master file (customer_id date number_of_cds dollar_value)")
        for i, line in enumerate(f):
            c, d, n, v = line.split()
            rows.append(SalesLineIn(
                source="cdnow", line_key=str(i), order_ref=f"{c}:{d}:{i}", customer_id=int(c), quantity=int(n),
                unit_price=Decimal(v), line_total=Decimal(v), currency="USD",
                occurred_at=dt.datetime.strptime(d, "%Y%m%d").replace(tzinfo=dt.timezone.utc)))
    with Progress(console=err) as bar, UnitOfWork(upgraded_database()) as uow:
        task = bar.add_task("CDNOW purchases", total=len(rows))
        inserted = service.record_sales_lines(uow, rows, progress=lambda n: bar.advance(task, n))
    typer.echo(json.dumps({"lines": len(rows), "inserted": inserted, "unchanged": len(rows) - inserted}))


def register(app: typer.Typer, import_app: typer.Typer) -> None:
    app.add_typer(analytics_app, name="analytics")
    import_app.command("cdnow")(_import_cdnow)
