"""Live chat latency and inbound email throughput, through the real app under uvicorn on a
fresh SQLite database (the one-machine default).

    python benchmarks/support_bench.py                 # 200 chat messages, 300 inbound mails
    python benchmarks/support_bench.py --messages 500 --mails 1000

Chat: a visitor holds a WebSocket open; an agent posts answers over HTTP (API key). Latency is
from just before the agent's POST to the visitor's socket receiving that message (commit,
in-process wake-up, read, send). The same is measured for the long-poll fallback (a waiting
GET ?wait=20), the path a browser without WebSockets takes, and for a visitor's own message
sent over the socket until its echo returns.

Mail: raw RFC 822 messages POSTed one after another to /api/v1/support/inbound-email: 1 in 3
opens a ticket, the rest reply to an earlier one (In-Reply-To), 1 in 10 with a PNG
attachment, 1 in 5 in ISO-8859-2, 1 in 5 with HTML (sanitised). For scale, the same messages
parsed and sanitised alone (no HTTP, no database) in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from pathlib import Path

os.environ.setdefault("MERX_SECRET_KEY", "benchmark-only-secret-key-0123456789")
os.environ.setdefault("MERX_LOG_LEVEL", "WARNING")
os.environ.setdefault("MERX_RATE_LIMITS", json.dumps({"support_chat": "100000/minute"}))

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(data_dir: Path) -> tuple[str, str, object]:
    import uvicorn

    from merx.app import create_app
    from merx.core import accounts, migrate
    from merx.core.auth import Role
    from merx.core.db import Database
    from merx.core.settings import Settings
    from merx.core.uow import UnitOfWork

    settings = Settings(data_dir=data_dir, log_level="WARNING")
    db = Database(settings.effective_database_url if hasattr(settings, "effective_database_url")
                  else f"sqlite:///{data_dir / 'merx.db'}")
    migrate.upgrade(db)
    app = create_app(settings, db)
    with UnitOfWork(db) as uow:
        key = accounts.create_user_with_key(uow, name="bench-agent", role=Role.support_agent).key
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"127.0.0.1:{port}", key, server


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def summary(name: str, ms: list[float]) -> str:
    return (f"{name:<38} n={len(ms):>4}  p50 {statistics.median(ms):7.2f} ms  p95 {pct(ms, 95):7.2f} ms  "
            f"max {max(ms):7.2f} ms")


async def chat_latency(host: str, key: str, n: int) -> dict[str, list[float]]:
    import httpx
    import websockets

    agent = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=f"http://{host}", timeout=30) as http:
        started = (await http.post("/api/v1/chats", json={"message": "hello"})).json()
        chat_id, token = started["id"], started["token"]
        last = started["messages"][-1]["id"]
        out: dict[str, list[float]] = {"ws": [], "echo": [], "poll": []}
        async with websockets.connect(f"ws://{host}/api/v1/chats/{chat_id}/ws?token={token}&after={last}") as ws:
            for i in range(n):  # agent -> visitor over the WebSocket
                t0 = time.perf_counter()
                await http.post(f"/api/v1/chats/{chat_id}/messages", json={"body": f"answer {i}"}, headers=agent)
                while True:
                    got = json.loads(await ws.recv())
                    if any(m["body"] == f"answer {i}" for m in got.get("messages", [])):
                        break
                out["ws"].append((time.perf_counter() - t0) * 1000)
            for i in range(n):  # visitor -> server -> visitor (own message echoed)
                t0 = time.perf_counter()
                await ws.send(json.dumps({"body": f"question {i}"}))
                while True:
                    got = json.loads(await ws.recv())
                    if any(m["body"] == f"question {i}" for m in got.get("messages", [])):
                        break
                out["echo"].append((time.perf_counter() - t0) * 1000)
        last = (await http.get(f"/api/v1/chats/{chat_id}/messages", headers={"X-Chat-Token": token})).json()[-1]["id"]
        for i in range(n):  # agent -> visitor over the long poll
            waiting = asyncio.create_task(http.get(f"/api/v1/chats/{chat_id}/messages",
                                                   params={"after": last, "wait": 20},
                                                   headers={"X-Chat-Token": token}))
            await asyncio.sleep(0.05)  # the poll is waiting before the agent answers
            t0 = time.perf_counter()
            await http.post(f"/api/v1/chats/{chat_id}/messages", json={"body": f"polled {i}"}, headers=agent)
            got = (await waiting).json()
            out["poll"].append((time.perf_counter() - t0) * 1000)
            last = got[-1]["id"]
    return out


def mails(n: int) -> list[bytes]:
    raw = []
    for i in range(n):
        m = EmailMessage()
        thread = i // 3
        m["From"] = f"customer{thread}@example.pl"
        m["To"] = "help@shop.test"
        m["Subject"] = f"Order question {thread}" if i % 3 == 0 else f"Re: Order question {thread}"
        m["Message-ID"] = f"<m{i}@example.pl>"
        if i % 3:
            m["In-Reply-To"] = f"<m{thread * 3}@example.pl>"
            m["References"] = f"<m{thread * 3}@example.pl>"
        if i % 5 == 0:
            m.set_content("Dzień dobry, gdzie jest moja przesyłka? Żółta paczka.", charset="iso-8859-2")
        else:
            m.set_content(f"Hello, this is message {i} about my order. " * 5)
        if i % 5 == 1:
            m.add_alternative(f"<p>Hello <b>{i}</b><script>alert(1)</script></p>", subtype="html")
        if i % 10 == 2:
            m.add_attachment(PNG, maintype="image", subtype="png", filename=f"photo{i}.png")
        raw.append(m.as_bytes())
    return raw


def inbound_throughput(host: str, key: str, raw: list[bytes]) -> tuple[float, list[float]]:
    import httpx

    headers = {"Authorization": f"Bearer {key}", "Content-Type": "message/rfc822"}
    times = []
    with httpx.Client(base_url=f"http://{host}", timeout=30) as http:
        t_all = time.perf_counter()
        for body in raw:
            t0 = time.perf_counter()
            r = http.post("/api/v1/support/inbound-email", content=body, headers=headers)
            assert r.status_code == 201, r.text
            times.append((time.perf_counter() - t0) * 1000)
        total = time.perf_counter() - t_all
    return len(raw) / total, times


def parse_only(raw: list[bytes]) -> float:
    from merx.support.mailin import parse

    t0 = time.perf_counter()
    for body in raw:
        parse(body)
    return len(raw) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--mails", type=int, default=300)
    args = ap.parse_args()
    from merx.contexts import import_models

    import_models()
    with tempfile.TemporaryDirectory() as tmp:
        host, key, server = serve(Path(tmp))
        lat = asyncio.run(chat_latency(host, key, args.messages))
        raw = mails(args.mails)
        rate, times = inbound_throughput(host, key, raw)
        parsed = parse_only(raw)
        server.should_exit = True  # type: ignore[attr-defined]
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"SQLite, uvicorn 1 worker")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(summary("chat agent->visitor, WebSocket", lat["ws"]))
    print(summary("chat agent->visitor, long poll", lat["poll"]))
    print(summary("chat visitor->own echo, WebSocket", lat["echo"]))
    print(f"inbound mail: {rate:7.1f} messages/s over HTTP into tickets (p50 {statistics.median(times):.1f} ms, "
          f"p95 {pct(times, 95):.1f} ms per message)")
    print(f"              {parsed:7.1f} messages/s parse + sanitise alone (stdlib email + nh3), for scale")


if __name__ == "__main__":
    main()
