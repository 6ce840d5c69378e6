"""Reports as flat tables (for the CLI, CSV and XLSX) and as charts (PNG, SVG)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from merx.analytics.cohorts import cohort_table_rows
from merx.core.spreadsheet import is_plain_number, safe_cell, safe_row

# "day" + "ly" read "dayly" in the forecast chart title
FREQ_ADJECTIVES = {"day": "Daily", "week": "Weekly", "month": "Monthly"}
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "png": "image/png",
    "svg": "image/svg+xml",
}


def table(kind: str, report: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """The report's main table: column names and rows."""
    if kind == "funnel":
        rows = [dict(s) for s in report["stages"]]
        for group in report.get("breakdown", []):
            rows += [{"key": group["key"], **s} for s in group["stages"]]
        if report.get("breakdown"):
            for r in rows[:5]:
                r.setdefault("key", "(all)")
    elif kind == "cohorts":
        rows = cohort_table_rows(report)
    elif kind in ("sales", "pareto", "inventory"):
        rows = report["rows"]
    elif kind == "portfolio":
        rows = report["products"]
    elif kind == "forecast":
        rows = [{"period": h["period"], "actual": h["value"]} for h in report["history"]]
        rows += [{"period": f["period"], "seasonal_naive": f["seasonal_naive"], "ets": f["ets"]}
                 for f in report["forecast"]]
    elif kind == "abandonment":
        rows = report["items"]
    else:
        raise ValueError(kind)
    columns: list[str] = []
    for r in rows:
        for k in r:
            if k not in columns:
                columns.append(k)
    return columns, rows


def _cell(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return str(value)
    return value


def to_csv(columns: list[str], rows: list[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(safe_row(columns))
    for r in rows:
        writer.writerow(safe_row("" if r.get(c) is None else _cell(r.get(c)) for c in columns))
    return buf.getvalue().encode("utf-8")


def to_xlsx(columns: list[str], rows: list[dict[str, Any]], title: str, notes: list[str] | None = None) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    ws.append(safe_row(columns))
    for r in rows:
        ws.append([_xlsx_value(r.get(c)) for c in columns])
    if notes:
        info = wb.create_sheet("notes")
        for n in notes:
            info.append([safe_cell(n)])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _xlsx_value(value: Any) -> Any:
    # Amounts are decimal strings in the API; a spreadsheet should get numbers it can sum
    # (negative ones too). Any other text is neutralised (core/spreadsheet.py).
    if isinstance(value, str) and is_plain_number(value):
        return Decimal(value)
    return safe_cell(_cell(value))


# -- charts --------------------------------------------------------------------------------------


def chart(kind: str, report: dict[str, Any], fmt: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    if kind == "funnel":
        stages = report["stages"]
        ax.barh([s["stage"] for s in stages][::-1], [s["count"] for s in stages][::-1], color="#3b6ea5")
        for i, s in enumerate(stages[::-1]):
            ax.text(s["count"], i, f" {s['count']:,} ({s['overall_conversion']:.1%})", va="center", fontsize=9)
        ax.set_title("Funnel: people per stage (share of awareness)")
    elif kind == "cohorts":
        rows = cohort_table_rows(report, months=13)
        width = max((len([k for k in r if k.startswith("m")]) for r in rows), default=0)
        grid = [[r.get(f"m{k}", float("nan")) for k in range(width)] for r in rows]
        if grid and width:
            im = ax.imshow(grid, aspect="auto", cmap="Blues", vmin=0, vmax=max(0.6, max(max(g[1:] or [0]) for g in grid)))
            ax.set_yticks(range(len(rows)), [r["cohort"] for r in rows], fontsize=8)
            ax.set_xlabel("months since first order")
            fig.colorbar(im, ax=ax, label="retention")
        ax.set_title("Monthly cohorts: retention")
    elif kind == "sales":
        periodic = report["by"] in ("day", "week", "month", "quarter", "year")
        rows = report["rows"] if periodic else report["rows"][:29]
        if periodic and rows:  # a period without sales is a gap in the line, not a bridge over it
            import datetime as dt

            from merx.analytics.sales import period_end

            found, filled = {r["key"]: r for r in rows}, []
            at, stop = dt.datetime.fromisoformat(rows[0]["key"]), dt.datetime.fromisoformat(rows[-1]["key"])
            while at <= stop and len(filled) < 5000:
                key = at.strftime("%Y-%m-%d")
                filled.append(found.get(key, {"key": key, "net": float("nan")}))
                at = period_end(at, report["by"])
            rows = filled
        keys = [str(r["key"]) for r in rows]
        values = [float(r["net"]) for r in rows]
        if not periodic and len(report["rows"]) > 29:  # every category: the rest in a stated bucket
            keys.append(f"other ({len(report['rows']) - 29})")
            values.append(sum(float(r["net"]) for r in report["rows"][29:]))
        if periodic:
            ax.plot(keys, values, marker="o", color="#3b6ea5")
            for i, r in enumerate(rows):
                if r.get("partial"):
                    ax.axvspan(i - 0.5, i + 0.5, color="#bbbbbb", alpha=0.4, lw=0)
        else:
            ax.bar(keys, values, color="#3b6ea5")
        ax.set_ylim(bottom=min(0.0, min((v for v in values if v == v), default=0.0)))  # amounts from zero
        ax.tick_params(axis="x", labelrotation=60, labelsize=7)
        ax.set_title(f"Net sales by {report['by']} ({report['currency']})")
    elif kind == "pareto":
        curve = report.get("curve") or []
        ax.plot([c["items_share"] for c in curve], [c["cumulative_share"] for c in curve], color="#c0392b")
        at_80 = next((c for c in curve if c.get("at_80")), None)
        if at_80:
            ax.axhline(0.8, color="#7f8c8d", lw=0.8, ls="--")
            ax.plot([at_80["items_share"]], [at_80["cumulative_share"]], "o", color="#2c3e50")
            ax.annotate(f"80% at {at_80['rank']:,} of {report['items']:,} ({at_80['items_share']:.0%})",
                        (at_80["items_share"], at_80["cumulative_share"]), textcoords="offset points", xytext=(8, -14))
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel(f"share of {report['of']} (all {report['items']:,}, largest first)")
        ax.set_ylabel("cumulative share")
        ax.set_title(f"Pareto of {report['of']} by {report['measure']}: top {report['top_share']:.0%} make "
                     f"{(report['top_share_of_measure'] or 0):.1%}")
    elif kind == "portfolio":
        colours = {"gold": "#d4a017", "sunrise": "#e67e22", "sunset": "#8e44ad", "rest": "#95a5a6"}
        for klass, colour in colours.items():
            pts = [p for p in report["products"] if p["class"] == klass]
            margins = [float(p["margin"]) for p in pts]
            ax.scatter([p["units"] for p in pts], margins, s=8, color=colour, label=klass)
        # symlog: logarithmic above 1 unit, linear through 0, so products that sold nothing
        # show (a plain log scale fails when every product sold nothing)
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlabel("units sold")
        ax.set_ylabel(f"margin ({report['margin_basis']})")
        ax.legend()
        ax.set_title("Product portfolio")
    elif kind == "forecast":
        hist = report["history"]
        ax.plot([h["period"] for h in hist], [h["value"] for h in hist], color="#34495e", label="actual")
        fc = report["forecast"]
        ax.plot([f["period"] for f in fc], [f["seasonal_naive"] for f in fc], "--", color="#7f8c8d", label="seasonal naive")
        ax.plot([f["period"] for f in fc], [f["ets"] for f in fc], color="#c0392b", label="ETS")
        ax.legend()
        step = max(1, (len(hist) + len(fc)) // 12)
        ax.set_xticks(range(0, len(hist) + len(fc), step))
        ax.tick_params(axis="x", labelrotation=60, labelsize=7)
        ax.set_title(f"{FREQ_ADJECTIVES.get(report['freq'], report['freq'])} {report['measure']} forecast")
    elif kind == "inventory":
        counts = report["counts"]
        ax.bar(list(counts), list(counts.values()), color=["#c0392b", "#e67e22", "#27ae60", "#95a5a6"])
        ax.set_title("Inventory health: SKU-locations by status")
    else:
        raise ValueError(kind)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    return buf.getvalue()
