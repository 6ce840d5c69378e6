"""Lead import with deduplication: 100,000 rows (a trade-fair scanner export merged with chat
group and forum exports) imported through the sales context's use case, against the baseline a
team would otherwise use (exact e-mail matching in a spreadsheet), in the same run.

    python benchmarks/lead_import.py                 # 100,000 rows
    python benchmarks/lead_import.py --rows 20000

The file is generated with a fixed seed: distinct companies, plus planted duplicates of them
(the same e-mail in other letter case, the same phone written differently, the same tax id
with dots, or the company name with another legal form, spacing or case and no contact data).
Merx parses and validates every row (e-mail, E.164 phone), matches each against the known leads
and the earlier rows (dedupe.py: exact keys, then rapidfuzz on name blocks), scores and assigns
the new leads round-robin to three reps, inserts them with their `lead.created` events and
merges the rest, in one transaction into a fresh SQLite database. Printed: wall time, rows per
second, the child process's peak resident memory, and how many planted duplicates each method
found. Nothing is asserted: run it and read the figures.
"""

from __future__ import annotations

import argparse
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

WORDS = ["Green", "Leaf", "River", "Oak", "Stone", "Sun", "Field", "Garden", "Valley", "Hill", "Rose", "Pine",
         "Maple", "Lake", "North", "South", "Amber", "Silver", "Golden", "Cedar", "Willow", "Birch", "Meadow",
         "Harbor", "Bridge", "Forest", "Spring", "Summer", "Autumn", "Winter", "Clover", "Iris", "Lotus", "Fern"]
TRADES = ["Gardens", "Nursery", "Hardware", "Supply", "Florist", "Market", "Landscaping", "Farm", "Trading",
          "Interiors", "Tools", "Seeds"]
FORMS = ["GmbH", "Ltd", "Sp. z o.o.", "SRL", "AG", "Inc", ""]


def generate(rows: int, path: Path, seed: int = 7) -> int:
    """Writes the CSV; returns the number of planted duplicate rows."""
    rng = random.Random(seed)
    uniques = int(rows * 0.85)
    out = ["company,contact,email,phone,tax_id,country,interest,source,campaign"]
    base = []
    for i in range(uniques):
        name = f"{rng.choice(WORDS)} {rng.choice(WORDS)} {rng.choice(TRADES)} {i}"
        email = f"buyer{i}@{name.split()[0].lower()}{i}.example"
        phone = f"+4860{i:07d}"
        tax = f"PL{1000000000 + i}"
        base.append((name, email, phone, tax))
        out.append(f"{name} {rng.choice(FORMS)},Contact {i},{email},{phone},{tax},PL,{rng.choice(TRADES).lower()},"
                   f"trade_fair,fair-2026")
    dups = rows - uniques
    for j in range(dups):
        name, email, phone, tax = base[rng.randrange(uniques)]
        kind = j % 4
        if kind == 0:
            out.append(f"{name},,{email.upper()},,,PL,,chat_group,growers-chat")
        elif kind == 1:
            out.append(f"{name},,,{phone[:3]} {phone[3:6]} {phone[6:9]} {phone[9:]},,PL,,forum,garden-forum")
        elif kind == 2:
            out.append(f"{name},,,,{tax[:2]} {tax[2:5]}.{tax[5:8]}.{tax[8:]},PL,,chat_group,growers-chat")
        else:
            out.append(f"{name.upper()}  {rng.choice(FORMS)},,,,,PL,,forum,garden-forum")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return dups


def child(csv_path: str, data_dir: str) -> None:
    """Runs in its own process so its peak memory is its own."""
    os.environ["MERX_DATA_DIR"] = data_dir
    from merx.contexts import import_models
    from merx.core import accounts, migrate
    from merx.core.auth import Principal, Role
    from merx.core.db import Database
    from merx.core.settings import get_settings
    from merx.core.uow import UnitOfWork
    from merx.sales import leads

    import_models()
    settings = get_settings()
    db = Database(settings.effective_database_url)
    db.settings = settings
    migrate.upgrade(db)
    with UnitOfWork(db) as uow:
        manager = accounts.create_user(uow, name="manager", role=Role.staff)
        for n in range(3):
            accounts.create_user(uow, name=f"rep {n}", role=Role.sales_rep)
        uow.commit()
        manager_id = manager.id
    content = Path(csv_path).read_bytes()
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    profile = os.environ.get("LEAD_IMPORT_PROFILE")
    if profile:
        import cProfile
        prof = cProfile.Profile()
        prof.enable()
    with UnitOfWork(db, Principal(user_id=manager_id, role=Role.staff)) as uow:
        report = leads.import_leads(uow, "bench.csv", content)
    if profile:
        prof.disable()
        prof.dump_stats(profile)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    matched: dict[str, int] = {}
    for m in report.merges:
        key = m.matched_on.split("~")[0]
        matched[key] = matched.get(key, 0) + 1
    print(json.dumps({"seconds": seconds, "created": report.created, "merged": report.merged, "by": matched,
                      "peak_rss_mib": peak / 1024, "rss_before_import_mib": base_rss / 1024}))


def baseline(csv_path: Path) -> tuple[float, int]:
    """What a spreadsheet user does: drop rows whose e-mail (lower-cased) was seen before."""
    import csv

    start = time.perf_counter()
    seen: set[str] = set()
    dropped = 0
    with csv_path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            email = (row["email"] or "").strip().lower()
            if email and email in seen:
                dropped += 1
            elif email:
                seen.add(email)
    return time.perf_counter() - start, dropped


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "leads.csv"
        planted = generate(args.rows, csv_path)
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        proc = subprocess.run([sys.executable, __file__, "--child", str(csv_path), str(data_dir)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(proc.stderr[-4000:])
        merx = json.loads(proc.stdout.strip().splitlines()[-1])
        base_seconds, base_found = baseline(csv_path)
        size_mib = csv_path.stat().st_size / 2**20
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"command: python benchmarks/lead_import.py --rows {args.rows}")
    print(f"file: {args.rows:,} rows ({size_mib:.1f} MiB CSV), {planted:,} planted duplicates")
    print(f"merx import (validate, dedupe, score, assign, insert + events, one transaction, SQLite): "
          f"{merx['seconds']:.1f} s, {args.rows / merx['seconds']:,.0f} rows/s, "
          f"peak RSS {merx['peak_rss_mib']:.0f} MiB (process before the import: {merx['rss_before_import_mib']:.0f} MiB)")
    print(f"  created {merx['created']:,} leads, merged {merx['merged']:,} duplicates "
          f"({', '.join(f'{k} {v:,}' for k, v in sorted(merx['by'].items()))}); "
          f"planted duplicates found: {merx['merged'] / planted:.1%}" if planted else "")
    print(f"baseline (exact lower-cased e-mail only, no database): {base_seconds:.2f} s, found {base_found:,} "
          f"of {planted:,} planted duplicates ({base_found / planted:.1%})" if planted else "")


if __name__ == "__main__":
    main()
