"""Request ids, structured JSON logs and Prometheus metrics (text exposition format)."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import threading
import time
from collections import defaultdict

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("merx_request_id", default=None)


class JsonFormatter(logging.Formatter):
    _SKIP = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id_var.get()
        if rid:
            out["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in self._SKIP and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO", as_json: bool = True) -> None:
    root = logging.getLogger("merx")
    if getattr(root, "_merx_configured", False):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(level.upper())
    root.propagate = False
    root._merx_configured = True  # type: ignore[attr-defined]


_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Counters and histograms of HTTP traffic, per process. Small by design: labels are
    (method, route template, status), so cardinality stays bounded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.durations: dict[tuple[str, str], list[float]] = {}
        self.duration_sums: dict[tuple[str, str], float] = defaultdict(float)
        self.gauges: dict[str, float] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(method, route, str(status))] += 1
            key = (method, route)
            buckets = self.durations.setdefault(key, [0] * (len(_BUCKETS) + 1))
            for i, bound in enumerate(_BUCKETS):
                if seconds <= bound:
                    buckets[i] += 1
            buckets[-1] += 1
            self.duration_sums[key] += seconds

    def render(self) -> str:
        lines = [
            "# HELP merx_http_requests_total HTTP requests by method, route and status.",
            "# TYPE merx_http_requests_total counter",
        ]
        with self._lock:
            for (method, route, status), n in sorted(self.requests.items()):
                lines.append(f'merx_http_requests_total{{method="{method}",route="{_esc(route)}",status="{status}"}} {n}')
            lines += [
                "# HELP merx_http_request_duration_seconds HTTP request latency.",
                "# TYPE merx_http_request_duration_seconds histogram",
            ]
            for (method, route), buckets in sorted(self.durations.items()):
                labels = f'method="{method}",route="{_esc(route)}"'
                for bound, n in zip(_BUCKETS, buckets):
                    lines.append(f'merx_http_request_duration_seconds_bucket{{{labels},le="{bound}"}} {n}')
                lines.append(f'merx_http_request_duration_seconds_bucket{{{labels},le="+Inf"}} {buckets[-1]}')
                lines.append(f"merx_http_request_duration_seconds_sum{{{labels}}} {self.duration_sums[(method, route)]:.6f}")
                lines.append(f"merx_http_request_duration_seconds_count{{{labels}}} {buckets[-1]}")
            for name, value in sorted(self.gauges.items()):
                lines.append(f"# TYPE {name} gauge")
                lines.append(f"{name} {value}")
        return "\n".join(lines) + "\n"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
