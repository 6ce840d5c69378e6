"""Commission statements: one month for 50 reps over 100,000 order lines in the sales ledger,
computed by the sales context's use case (`commissions.compute_statements`), against the baseline
a sales-ops team would otherwise use (a flat revenue rate per rep, summed with pandas), in the
same run.

    python benchmarks/commissions.py                  # 50 reps x 100,000 lines
    python benchmarks/commissions.py --lines 5000     # a quick run

A fresh SQLite database is migrated; the ledger is filled with a fixed seed (a year of lines,
the month under review holding `--lines` of them, 2% of them returned, 10% left unpaid past the
30-day clawback window, 20% without a landed cost), each rep gets a monthly revenue target, and
one plan with class rates, margin bands, accelerator tiers, a 10% team pool and a cap covers all
reps. Timed: reading the ledger lines, applying the plan to every line and writing every
statement line (one transaction). Portfolio classes are given (a fixed SKU -> class map), so
the figure is the statement computation, not analytics' portfolio report. Printed: wall time,
lines per second, statement lines written, the child's peak memory and the load average.
Nothing is asserted: run it and read the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

UTC = dt.timezone.utc
MONTH = dt.date(2026, 10, 1)
RULES = {
    "class_rates": {"gold": "0.06", "sunrise": "0.05", "sunset": "0.03", "rest": "0.02"},
    "margin_bands": [{"from": "0", "factor": "0.5"}, {"from": "0.3", "factor": "1"}, {"from": "0.5", "factor": "1.2"}],
    "unknown_cost_factor": "0.8", "team_share": "0.1",
    "tiers": [{"from": "0", "to": "0.8", "multiplier": "0.5"}, {"from": "0.8", "to": "1", "multiplier": "1"},
              {"from": "1", "to": None, "multiplier": "1.5"}],
    "clawback_days": 30, "cap": "20000.00",
}


def child(data_dir: str, reps: int, lines: int) -> None:
    os.environ["MERX_DATA_DIR"] = data_dir
    import sqlalchemy as sa

    from merx.contexts import import_models
    from merx.core import accounts, migrate
    from merx.core.auth import Principal, Role
    from merx.core.db import Database
    from merx.core.settings import get_settings
    from merx.core.uow import UnitOfWork
    from merx.sales import commissions
    from merx.sales.models import LedgerLine, LedgerReturn, Target
    from merx.sales.schemas import CommissionPlanIn

    import_models()
    settings = get_settings()
    db = Database(settings.effective_database_url)
    db.settings = settings
    migrate.upgrade(db)
    rng = random.Random(15)
    with UnitOfWork(db) as uow:
        manager = accounts.create_user(uow, name="manager", role=Role.staff).id
        rep_ids = [accounts.create_user(uow, name=f"rep {n}", role=Role.sales_rep).id for n in range(reps)]
        uow.commit()
    skus = [f"SKU-{i:04d}" for i in range(2000)]
    classes = {s: ("gold", "sunrise", "sunset", "rest")[i % 4] for i, s in enumerate(skus)}
    start = dt.datetime(2026, 10, 1, tzinfo=UTC)
    rows, returns = [], []
    order_id, month_lines = 0, 0
    # the month under review, plus the month before (its unpaid orders are clawed back in October)
    while month_lines < lines + lines // 4:
        order_id += 1
        before = month_lines >= lines
        placed = (start - dt.timedelta(days=rng.randrange(1, 31)) if before
                  else start + dt.timedelta(days=rng.randrange(31), minutes=rng.randrange(1440)))
        rep = rep_ids[order_id % reps]
        paid = None if rng.random() < 0.10 else placed + dt.timedelta(days=rng.randrange(1, 25))
        for line_no in range(1, rng.randrange(2, 7)):
            qty = rng.randrange(1, 20)
            price = rng.randrange(500, 20000)
            cost = None if rng.random() < 0.2 else int(price * rng.uniform(0.3, 0.9))
            rows.append({"order_id": order_id, "order_number": f"M{order_id:08d}", "line_no": line_no,
                         "account_id": 1 + order_id % 400, "customer_id": 1 + order_id % 400, "rep_user_id": rep,
                         "placed_at": placed, "sku": rng.choice(skus), "category": None, "quantity": qty,
                         "currency": "EUR", "revenue_minor": qty * price, "unit_cost_minor": cost, "paid_at": paid,
                         "cancelled": False})
            if rng.random() < 0.02:
                returns.append({"order_id": order_id, "line_no": line_no, "return_id": len(returns) + 1,
                                "quantity": 1, "value_minor": price,
                                "returned_at": max(placed, start) + dt.timedelta(days=rng.randrange(0, 10))})
            month_lines += 1
    in_month = sum(1 for r in rows if r["placed_at"] >= start)
    with UnitOfWork(db) as uow:
        uow.session.execute(sa.insert(LedgerLine), rows)
        uow.session.execute(sa.insert(LedgerReturn), [r for r in returns
                                                      if r["returned_at"] < dt.datetime(2026, 11, 1, tzinfo=UTC)])
        for rep in rep_ids:
            uow.session.add(Target(name="October", measure="revenue", period_start=MONTH,
                                   period_end=dt.date(2026, 11, 1), owner_user_id=rep, currency="EUR",
                                   value=rng.randrange(50_000, 200_000), method="manual"))
        uow.commit()
    with UnitOfWork(db, Principal(user_id=manager, role=Role.staff)) as uow:
        plan = commissions.create_plan(uow, CommissionPlanIn(name="bench", currency="EUR", members=rep_ids,
                                                             rules=RULES))
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    profile = os.environ.get("COMMISSIONS_PROFILE")
    if profile:
        import cProfile
        prof = cProfile.Profile()
        prof.enable()
    t0 = time.perf_counter()
    with UnitOfWork(db, Principal(user_id=manager, role=Role.staff)) as uow:
        out = commissions.compute_statements(uow, plan["id"], MONTH, classes=classes,
                                             as_of=dt.datetime(2026, 12, 3, tzinfo=UTC))
    seconds = time.perf_counter() - t0
    if profile:
        prof.disable()
        prof.dump_stats(profile)
    with db.engine.connect() as conn:
        written = conn.execute(sa.text("SELECT count(*) FROM sales_commission_lines")).scalar()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "statements": len(out), "lines_in_month": in_month,
                      "ledger_rows": len(rows), "statement_lines": written, "peak_rss_mib": peak / 1024,
                      "rss_before_mib": base_rss / 1024}))
    with open(Path(data_dir) / "ledger.json", "w") as f:
        json.dump([[r["rep_user_id"], r["revenue_minor"], r["placed_at"] >= start] for r in rows], f)


def baseline(data_dir: Path) -> float:
    """A spreadsheet's commission: 3% of each rep's month revenue (no classes, margins, tiers,
    team pool, caps or clawbacks), summed with pandas."""
    import pandas as pd

    rows = json.loads((data_dir / "ledger.json").read_text())
    t0 = time.perf_counter()
    df = pd.DataFrame(rows, columns=["rep", "revenue", "in_month"])
    (df[df.in_month].groupby("rep")["revenue"].sum() * 0.03).round()
    return time.perf_counter() - t0


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        proc = subprocess.run([sys.executable, __file__, "--child", str(data_dir), str(args.reps), str(args.lines)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(proc.stderr[-4000:])
        merx = json.loads(proc.stdout.strip().splitlines()[-1])
        base = baseline(data_dir)
    load = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"] * 3
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {' '.join(load)}")
    print(f"command: python benchmarks/commissions.py --reps {args.reps} --lines {args.lines}")
    print(f"ledger: {merx['ledger_rows']:,} lines ({merx['lines_in_month']:,} placed in the month, the rest the month "
          f"before), {args.reps} reps, one plan")
    print(f"merx statements (read ledger, classes, margin bands, tiers, team pool, cap, return and unpaid "
          f"clawbacks, write every line, one transaction, SQLite): {merx['seconds']:.2f} s, "
          f"{merx['lines_in_month'] / merx['seconds']:,.0f} month lines/s, {merx['statement_lines']:,} statement "
          f"lines, peak RSS {merx['peak_rss_mib']:.0f} MiB (before: {merx['rss_before_mib']:.0f} MiB)")
    print(f"baseline (a flat 3% of each rep's month revenue, pandas, no traceable lines): {base:.3f} s")


if __name__ == "__main__":
    main()
