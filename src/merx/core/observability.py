"""Request ids, structured JSON logs and Prometheus metrics (prometheus-client)."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, GCCollector,
                               PlatformCollector, ProcessCollector, generate_latest)

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


class Metrics:
    """The Prometheus metrics of one app, on prometheus-client: HTTP requests by method, route
    template and status (a counter), their latency (a histogram with the usual `_bucket`,
    `_sum`, `_count` series), the database pool in use, and the process and Python runtime
    collectors. Labels are route templates, never raw paths, so cardinality stays bounded.
    Each app gets its own registry (tests build many apps in one process). The figures are
    per process: with `merx serve --workers N` the workers share the port, so a scrape reads
    whichever worker answers; scrape replicas of one worker each for exact counts
    (prometheus-client's multiprocess mode is not wired in yet)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.requests = Counter("merx_http_requests", "HTTP requests by method, route template and status.",
                                ("method", "route", "status"), registry=self.registry)
        self.durations = Histogram("merx_http_request_duration_seconds", "HTTP request latency by route template.",
                                   ("method", "route"), registry=self.registry)
        self.rate_limited = Counter("merx_rate_limited", "Requests refused by a rate limit, by limit name.",
                                    ("limit",), registry=self.registry)
        self.db_pool_checked_out = Gauge("merx_db_pool_checked_out", "Database connections in use.",
                                         registry=self.registry)

        # id(route) -> its full template: FastAPI puts the router's own route (without the
        # include prefix) in scope["route"], so the app records the prefixed path here.
        self.route_templates: dict[int, str] = {}

    def route_label(self, route: object | None) -> str:
        if route is None:
            return "unmatched"
        return self.route_templates.get(id(route)) or getattr(route, "path", None) or "unmatched"

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.durations.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST
