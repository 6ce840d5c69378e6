"""Events per second from commit to NATS JetStream and to a local webhook receiver.

    python benchmarks/events_throughput.py [--events 3000] [--webhook-events 1000]
        [--nats nats://127.0.0.1:4222] [--database-url sqlite:///...]

Steps (one fresh database, one run):
 1. commit N events through UnitOfWork (one transaction each, like N API writes);
 2. `merx worker`'s relay publishes them to a throw-away JetStream stream; timed from the
    relay's start until JetStream acknowledged the last one; compared with the naive baseline
    a user would write: publish each event and wait for its ack before the next;
 3. the relay delivers M events to a local webhook receiver (uvicorn, separate process),
    signed, logged and with cursors, compared with the naive baseline: one signed POST after
    the other from a loop.
Targets on the reference machine: >= 2,000 events/s to NATS, >= 500 webhook deliveries/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECEIVER = r'''
import sys, uvicorn
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while True:
        m = await receive()
        if not m.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", lifespan="off", backlog=1024)
'''


def machine() -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    return (f"{platform.platform()} | Python {platform.python_version()} | {os.cpu_count()} CPUs | "
            f"load average {tuple(round(x, 2) for x in load)}")


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _parcel_registered() -> type:
    """A neutral event type for the benchmark (no context reacts to it), declared once."""
    from typing import ClassVar

    from merx.core.events import Event, event_class

    try:
        return event_class("parcel.registered", 1)
    except KeyError:
        class ParcelRegistered(Event):
            event_type: ClassVar[str] = "parcel.registered"
            aggregate_type: ClassVar[str] = "parcel"
            aggregate_field: ClassVar[str] = "parcel_id"

            parcel_id: int
            n: int
            note: str

        return ParcelRegistered


def commit_events(db, n: int, aggregates: int = 200) -> float:
    from merx.core.uow import UnitOfWork

    parcel_registered = _parcel_registered()
    started = time.perf_counter()
    cpu = time.process_time()
    for i in range(n):
        with UnitOfWork(db) as uow:
            uow.emit(parcel_registered(parcel_id=i % aggregates, n=i, note="benchmark"), version=i // aggregates + 1)
            uow.commit()
    LAST_CPU_MS[0] = (time.process_time() - cpu) * 1000 / max(1, n)
    return n / (time.perf_counter() - started)


LAST_CPU_MS = [0.0]  # this process's CPU per event of the last timed step (its threads included)


async def relay_until(relay, count_attr: str, n: int, timeout: float) -> float:
    await relay.start()
    started = time.perf_counter()
    cpu = time.process_time()
    done = 0
    try:
        while done < n and time.perf_counter() - started < timeout:
            stats = await relay.run_once()
            done += getattr(stats, count_attr)
            if stats.idle:
                await asyncio.sleep(0.01)
    finally:
        elapsed = time.perf_counter() - started
        LAST_CPU_MS[0] = (time.process_time() - cpu) * 1000 / max(1, done)
        await relay.stop()
    if done < n:
        print(f"  !! only {done} of {n} within {timeout}s")
    return done / elapsed


async def naive_nats(url: str, n: int) -> float:
    import nats

    stream, prefix = f"BENCH_NAIVE_{secrets.token_hex(3)}".upper(), f"benchnaive{secrets.token_hex(3)}"
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(name=stream, subjects=[f"{prefix}.>"])
    body = b'{"id":"x","type":"parcel.registered","data":{"n":1}}'
    started = time.perf_counter()
    for i in range(n):
        await js.publish(f"{prefix}.parcel.registered", body, headers={"Nats-Msg-Id": f"m{i}"})
    rate = n / (time.perf_counter() - started)
    await js.delete_stream(stream)
    await nc.close()
    return rate


def naive_webhooks(url: str, n: int) -> float:
    import httpx

    from merx.integration.secrets_box import generate_secret
    from merx.integration.webhooks import signed_headers

    secret = generate_secret()
    body = '{"id":"x","type":"parcel.registered","data":{"n":1}}'
    with httpx.Client() as client:
        started = time.perf_counter()
        for i in range(n):
            client.post(url, content=body, headers=signed_headers(secret, f"m{i}", body)).raise_for_status()
        return n / (time.perf_counter() - started)


def main() -> None:
    # the webhook part delivers to its own receiver on 127.0.0.1, which outbound calls refuse unless allowed
    os.environ.setdefault("MERX_OUTBOUND_ALLOW", '["127.0.0.1"]')
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=3000, help="events relayed to NATS")
    ap.add_argument("--webhook-events", type=int, default=1000, help="events delivered to the webhook receiver")
    ap.add_argument("--nats", default=os.environ.get("MERX_TEST_NATS_URL", "nats://127.0.0.1:4222"))
    ap.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    ap.add_argument("--baseline-events", type=int, default=500, help="events for each naive baseline")
    args = ap.parse_args()

    from merx.contexts import import_models
    from merx.core import migrate
    from merx.core.db import Database
    from merx.core.uow import UnitOfWork
    from merx.integration import service
    from merx.integration.relay import Relay
    from merx.integration.schemas import WebhookCreate
    from merx.integration.settings import IntegrationSettings

    print("command:", " ".join([Path(sys.executable).name] + sys.argv))
    print("machine:", machine())
    tmp = Path(tempfile.mkdtemp(prefix="merx-bench-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    import_models()
    db = Database(url)
    migrate.upgrade(db)
    print("database:", db.dialect)

    results: list[tuple[str, str]] = []
    run = secrets.token_hex(3)

    # -- NATS ------------------------------------------------------------------------------------
    try:
        host, port = args.nats.rsplit("//", 1)[1].split(":")
        socket.create_connection((host, int(port)), timeout=2).close()
        nats_ok = True
    except OSError as e:
        nats_ok = False
        print(f"NATS at {args.nats} unreachable ({e}); skipping the broker part")
    if nats_ok:
        commit_rate = commit_events(db, args.events)
        results.append((f"commit {args.events} events (1 txn each)", f"{commit_rate:,.0f} events/s, {LAST_CPU_MS[0]:.2f} ms CPU/event"))
        stream = f"BENCH_{run}".upper()
        settings = IntegrationSettings(nats_url=args.nats, nats_stream=stream, nats_subject_prefix=f"bench{run}",
                                       relay_batch_size=2000)
        relay = Relay(db, settings, worker_id="bench-nats")
        rate = asyncio.run(relay_until(relay, "published", args.events, timeout=300))
        results.append((f"relay -> NATS JetStream ({args.events} events, acked)", f"{rate:,.0f} events/s, relay {LAST_CPU_MS[0]:.2f} ms CPU/event"))
        base = asyncio.run(naive_nats(args.nats, args.baseline_events))
        results.append((f"baseline: publish + await ack one by one ({args.baseline_events})", f"{base:,.0f} events/s"))

        async def cleanup() -> None:
            import nats

            nc = await nats.connect(args.nats)
            await nc.jetstream().delete_stream(stream)
            await nc.close()

        asyncio.run(cleanup())

    # -- webhooks --------------------------------------------------------------------------------
    port = free_port()
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        hook_url = f"http://127.0.0.1:{port}/hook"
        with UnitOfWork(db) as uow:
            service.create_endpoint(uow, WebhookCreate(url=hook_url))
        commit_events(db, args.webhook_events)
        settings = IntegrationSettings(relay_batch_size=2000)
        relay = Relay(db, settings, worker_id="bench-webhooks")
        rate = asyncio.run(relay_until(relay, "delivered", args.webhook_events, timeout=600))
        results.append((f"relay -> webhook receiver ({args.webhook_events}, signed + logged)", f"{rate:,.0f} deliveries/s, relay {LAST_CPU_MS[0]:.2f} ms CPU/delivery"))
        base = naive_webhooks(hook_url, args.baseline_events)
        results.append((f"baseline: signed POSTs one by one ({args.baseline_events})", f"{base:,.0f} deliveries/s"))
    finally:
        receiver.terminate()
        receiver.wait()
        db.dispose()

    width = max(len(k) for k, _ in results)
    print()
    for k, v in results:
        print(f"  {k.ljust(width)}  {v}")
    print("\ntargets: >= 2,000 events/s to NATS, >= 500 webhook deliveries/s")


if __name__ == "__main__":
    main()
