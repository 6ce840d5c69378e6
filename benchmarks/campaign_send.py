"""Campaign send throughput: a segment of N profiles (all with email consent), the campaign
prepared in batches (consent check, rendering, recording) and sent by the real sender to a
local SMTP server (aiosmtpd's Sink, in its own process), on SQLite.

    python benchmarks/campaign_send.py                 # 20,000 profiles
    python benchmarks/campaign_send.py --profiles 100000

Baseline in the same run: the same number of already-rendered messages sent with a bare
stdlib smtplib loop (one connection per message) with no database at all (the sender keeps
one SMTP session per batch through core.mail):
what the SMTP hop alone costs, so the figure shows what recording, claiming and the
per-message status commit add. Prints the machine and the command."""

from __future__ import annotations

import argparse
import os
import platform
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", type=int, default=20_000)
    parser.add_argument("--baseline", type=int, default=2_000, help="messages in the smtplib-only baseline")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="merx-campaign-bench-"))
    port = free_port()
    smtp = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c",
                             "aiosmtpd.handlers.Sink"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ.update(MERX_DATA_DIR=str(tmp), MERX_DATABASE_URL=f"sqlite:///{tmp / 'merx.db'}",
                      MERX_SMTP_URL=f"smtp://127.0.0.1:{port}", MERX_SECRET_KEY=os.environ.get("MERX_SECRET_KEY", "bench"),
                      MERX_MARKETING_SEND_WINDOWS="00:00-00:00", MERX_MARKETING_QUIET_HOURS="",
                      MERX_MARKETING_PROVIDER_RATES='{"email": "100000/second"}', MERX_LOG_LEVEL="WARNING")
    try:
        time.sleep(1.0)  # the SMTP server process starts listening
        import sqlalchemy as sa

        from merx.contexts import import_models
        from merx.core import migrate
        from merx.core.db import Database, utcnow
        from merx.core.settings import get_settings
        from merx.core.uow import UnitOfWork
        from merx.crm.models import Consent
        from merx.crm.segments import service as segments
        from merx.customers import public as customers
        from merx.marketing import campaigns, jobs, sending

        import_models()
        db = Database(os.environ["MERX_DATABASE_URL"])
        migrate.upgrade(db)
        t0 = time.perf_counter()
        ids = []
        with UnitOfWork(db) as uow:
            for i in range(args.profiles):
                ids.append(customers.create_customer(uow, customers.CustomerCreate(
                    email=f"bench{i}@example.com", first_name=f"N{i}", country="PL"), commit=False).id)
            uow.commit()
        with UnitOfWork(db) as uow:
            rows = [{"customer_id": c, "channel": "email", "granted": True, "source": "bench", "recorded_at": utcnow()}
                    for c in ids]
            for s in range(0, len(rows), 5000):
                uow.session.execute(sa.insert(Consent), rows[s:s + 5000])
            seg = segments.save_static_segment(uow, name="bench", kind="tier", customer_ids=ids)
            uow.commit()
            seg_id = seg.id
        setup = time.perf_counter() - t0
        with UnitOfWork(db) as uow:
            cid = campaigns.create_campaign(uow, name="bench", segment_id=seg_id, template="newsletter").id
        with UnitOfWork(db) as uow:
            campaigns.schedule(uow, cid, None, utcnow())
        t1 = time.perf_counter()
        prepared = jobs.prepare_campaigns(db, utcnow(), time_budget=3600)
        prepare = time.perf_counter() - t1
        t2 = time.perf_counter()
        result = sending.dispatch_until_idle(db, settings=get_settings(), max_batches=10**6)
        send = time.perf_counter() - t2

        # baseline: the SMTP hop alone
        msg = EmailMessage()
        msg["From"], msg["Subject"] = "shop@localhost", "baseline"
        msg.set_content("x" * 400)
        t3 = time.perf_counter()
        for i in range(args.baseline):
            del msg["To"]
            msg["To"] = f"b{i}@example.com"
            with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
                client.send_message(msg)
        base = time.perf_counter() - t3
    finally:
        smtp.terminate()
        smtp.wait()
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus, {platform.python_implementation()} "
          f"{platform.python_version()}, SQLite; command: {' '.join([Path(sys.executable).name] + sys.argv)}")
    print(f"setup: {args.profiles:,} profiles with consent in {setup:.1f} s")
    print(f"prepare: {prepared:,} recipients in {prepare:.1f} s = {prepared / prepare:,.0f} recipients/s "
          f"(consent, render, record; batches of {os.environ.get('MERX_MARKETING_BATCH_SIZE', '500')})")
    print(f"send: {result.sent:,} messages in {send:.1f} s = {result.sent / send:,.0f} messages/s to the local "
          f"SMTP server ({result})")
    print(f"baseline smtplib alone (no database): {args.baseline:,} messages in {base:.1f} s = "
          f"{args.baseline / base:,.0f} messages/s")


if __name__ == "__main__":
    main()
