"""Fixtures of the integration hub's tests: a real local webhook receiver (HTTP server in a
thread) that verifies every Standard Webhooks signature, and `merx worker` subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator

import pytest
from standardwebhooks import Webhook

REQUIRE_SERVICES = os.environ.get("MERX_REQUIRE_SERVICES") == "1"


def _unavailable(what: str, why: str) -> None:
    message = f"{what} is not reachable ({why})"
    if REQUIRE_SERVICES:
        pytest.fail(message + " and MERX_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


class Receiver:
    """Accepts deliveries, or answers with `status_for(event_id, attempt)` when set."""

    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret
        self.received: list[dict] = []  # acknowledged (2xx) deliveries, in arrival order
        self.bad_signatures: list[str] = []
        self.attempts: dict[str, int] = {}
        self.in_flight: set[str] = set()
        self.concurrent_duplicates: list[str] = []
        self.status_for: Callable[[str, int], int] | None = None
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def ids(self) -> set[str]:
        with self.lock:
            return {r["id"] for r in self.received}

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        msg_id = headers.get("webhook-id", "")
        with self.lock:
            if msg_id in self.in_flight:
                self.concurrent_duplicates.append(msg_id)
            self.in_flight.add(msg_id)
            attempt = self.attempts[msg_id] = self.attempts.get(msg_id, 0) + 1
        try:
            if self.secret is not None:
                try:
                    Webhook(self.secret).verify(body, headers)
                except Exception as e:  # noqa: BLE001 - any verification error is a bad signature
                    with self.lock:
                        self.bad_signatures.append(f"{msg_id}: {e}")
                    return 401
            status = self.status_for(msg_id, attempt) if self.status_for else 200
            if 200 <= status < 300:
                event = json.loads(body)
                with self.lock:
                    self.received.append(event)
            return status
        finally:
            with self.lock:
                self.in_flight.discard(msg_id)


@pytest.fixture
def allow_local_outbound(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Outbound requests refuse loopback addresses unless allowed: the local receivers of
    these tests are allowed explicitly (for this process and the `merx worker`s it starts)."""
    from merx.integration.settings import get_integration_settings

    monkeypatch.setenv("MERX_OUTBOUND_ALLOW", '["127.0.0.1"]')
    get_integration_settings.cache_clear()
    yield
    monkeypatch.delenv("MERX_OUTBOUND_ALLOW")
    get_integration_settings.cache_clear()


@pytest.fixture
def receiver(allow_local_outbound: None) -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("content-length", 0))
            body = self.rfile.read(length)
            if len(body) < length:
                # the sender died mid-request (the SIGKILL test): like any HTTP server, drop the
                # incomplete request instead of verifying (and failing) a truncated body
                self.close_connection = True
                return
            status = rec.handle({k.lower(): v for k, v in self.headers.items()}, body)
            reply = b'{"ok":true}' if status < 300 else b'{"error":"nope"}'
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    ThreadingHTTPServer.request_queue_size = 256  # the relay opens many connections at once
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    rec.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rec
    server.shutdown()
    server.server_close()


class Workers:
    """`merx worker` subprocesses against the test's database."""

    def __init__(self, db_url: str, tmp: Path, env: dict[str, str]) -> None:
        self.db_url, self.tmp, self.extra_env = db_url, tmp, env
        self.procs: list[subprocess.Popen] = []
        self.started = 0

    def start(self) -> subprocess.Popen:
        env = dict(os.environ)
        env.update({"MERX_DATABASE_URL": self.db_url, "MERX_LOG_LEVEL": "WARNING", "MERX_RELAY_LEASE_SECONDS": "3",
                    "MERX_RELAY_POLL_SECONDS": "0.05", "MERX_WEBHOOK_RETRY_BASE_SECONDS": "0.05",
                    "MERX_WEBHOOK_RETRY_MAX_SECONDS": "0.5", "MERX_DATA_DIR": str(self.tmp)})
        env.update(self.extra_env)
        self.started += 1
        log = open(self.tmp / f"worker-{self.started}.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "merx.cli", "worker", "--no-migrate"], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def alive(self) -> list[subprocess.Popen]:
        return [p for p in self.procs if p.poll() is None]

    def kill(self, proc: subprocess.Popen) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for p in self.alive():
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()

    def logs(self) -> str:
        return "\n".join((self.tmp / f"worker-{i}.log").read_text(errors="replace")[-2000:]
                         for i in range(1, self.started + 1))


@pytest.fixture
def workers(db, tmp_path) -> Iterator[Callable[..., Workers]]:  # type: ignore[no-untyped-def]
    made: list[Workers] = []

    def _make(**env: str) -> Workers:
        w = Workers(db.url, tmp_path, env)
        made.append(w)
        return w

    yield _make
    for w in made:
        w.stop_all()


@pytest.fixture
def nats_url() -> str:
    import socket

    url = os.environ.get("MERX_TEST_NATS_URL", "nats://127.0.0.1:4222")
    host, port = url.rsplit("//", 1)[1].split(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError as e:
        _unavailable(f"NATS at {url}", str(e))
    return url
