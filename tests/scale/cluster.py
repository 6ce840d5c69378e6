"""Real replicas for the scale-out tests and benchmark: `merx serve` subprocesses (uvicorn) on
free ports, each with its own data dir, on one database, behind a real HAProxy that health
checks `/healthz`. A plain module (never imports conftest): benchmarks/replicas.py uses it too."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import httpx

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def haproxy_path() -> str | None:
    return shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy")
                                            if Path(p).exists()), None)


def merx_command() -> str:
    return shutil.which("merx", path=str(Path(sys.executable).parent)) or shutil.which("merx") or "merx"


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll until `condition()` is truthy; generous time-outs (a loaded 2-core machine)."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - a server still starting refuses connections
            last_error = e
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}"
                                 + (f" (last error: {last_error})" if last_error else ""))
        time.sleep(interval)


class Replica:
    """One `merx serve` process with its own data dir; keeps its port across restarts."""

    def __init__(self, name: str, database_url: str, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.name, self.database_url, self.data_dir = name, database_url, Path(data_dir)
        self.port = free_port()
        self.extra_env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir.parent / f"{name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        return {**os.environ, "MERX_DATABASE_URL": self.database_url, "MERX_DATA_DIR": str(self.data_dir),
                "MERX_EVENT_HANDLERS": "background", "MERX_LOG_LEVEL": "WARNING", "MERX_SERVE_RUNS_JOBS": "false",
                "MERX_RATE_LIMITS": '{"guest_checkout": "100000000/minute", "events": "100000000/minute"}',
                **self.extra_env}

    def start(self, *args: str) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([merx_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port),
                                      "--no-migrate", *args], env=self.env(), stdout=log, stderr=log)
        log.close()

    def healthy(self) -> bool:
        try:
            return httpx.get(self.url + "/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_healthy(self, timeout: float = 120) -> None:
        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"replica {self.name} exited with {self.proc.returncode}: {self.log_tail()}")
            return self.healthy()
        wait_for(up, timeout, f"replica {self.name} to answer /healthz")

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, whatever was in flight is cut."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def cpu_seconds(self) -> float:
        if self.proc is None:
            return 0.0
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


HAPROXY_CONFIG = """\
global
    maxconn 1024
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    # a connection refused (a replica down, not yet marked so) is retried on another replica;
    # a request already sent is never resent (not idempotent in general)
    retries 3
    option redispatch
    option http-keep-alive
frontend merx
    bind 127.0.0.1:{port}
    default_backend replicas
backend replicas
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 500ms fall 2 rise 2
{servers}
"""


class Balancer:
    """HAProxy in front of the replicas (round robin, health checks on /healthz)."""

    def __init__(self, replicas: list[Replica], workdir: Path) -> None:
        self.replicas, self.workdir = replicas, Path(workdir)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        servers = "\n".join(f"    server {r.name} 127.0.0.1:{r.port} check" for r in self.replicas)
        return HAPROXY_CONFIG.format(port=self.port, servers=servers)

    def start(self) -> None:
        binary = haproxy_path()
        assert binary, "haproxy is not installed"
        self.workdir.mkdir(parents=True, exist_ok=True)
        cfg = self.workdir / "haproxy.cfg"
        cfg.write_text(self.config())
        log = open(self.workdir / "haproxy.log", "ab")
        self.proc = subprocess.Popen([binary, "-db", "-f", str(cfg)], stdout=log, stderr=log)
        log.close()
        wait_for(lambda: httpx.get(self.url + "/healthz", timeout=2).status_code == 200, 60,
                 "HAProxy to pass a request to a replica")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
