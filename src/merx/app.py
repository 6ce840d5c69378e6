"""Composition root: builds the ASGI app from the settings, the database and the contexts."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from merx import __version__
from merx.contexts import api_modules, handler_modules, import_models
from merx.core.db import Database
from merx.core.events import bus
from merx.core.observability import Metrics, configure_logging
from merx.core.settings import Settings, get_settings
from merx.core.validation import InputGuardMiddleware
from merx.core.web import (BodyLimitMiddleware, IdempotencyMiddleware, RequestContextMiddleware,
                           UnhandledErrorMiddleware, install_error_handlers)

API_PREFIX = "/api/v1"
_handlers_registered = False


def register_handlers() -> None:
    """Subscribe every context's event handlers to the process-wide bus, once."""
    global _handlers_registered
    if _handlers_registered:
        return
    for mod in handler_modules():
        mod.register(bus)
    _handlers_registered = True


def _limit_request_threads(threads: int) -> None:
    """Cap the threads that run blocking endpoints. Python runs one thread at a time per
    process: beyond a few, more threads only add GIL hand-offs (each database round trip
    releases and re-takes the GIL) while requests wait in the queue just the same."""
    import anyio.to_thread

    anyio.to_thread.current_default_thread_limiter().total_tokens = threads


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)
    import_models()
    db = db or Database(settings.effective_database_url, pool_size=settings.db_pool_size, echo=settings.db_echo)
    metrics = Metrics()

    app = FastAPI(
        title="Merx API",
        version=__version__,
        description="Commerce operations platform: catalog, inventory, orders, CRM, search, analytics, integration.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    db.settings = settings
    app.state.metrics = metrics
    install_error_handlers(app)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> Any:
        try:
            db.ping()
        except Exception as e:  # reported, not raised: a health check answers, it does not crash
            return JSONResponse({"status": "unhealthy", "database": str(e)[:200]}, status_code=503)
        return {"status": "ok", "database": "ok", "version": __version__}

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    def metrics_endpoint() -> PlainTextResponse:
        pool = db.engine.pool
        checked_out = getattr(pool, "checkedout", lambda: 0)()
        metrics.gauges["merx_db_pool_checked_out"] = float(checked_out)
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    for mod in api_modules():
        app.include_router(mod.router, prefix=getattr(mod, "PREFIX", API_PREFIX))
        for extra in getattr(mod, "EXTRA_ROUTERS", ()):
            app.include_router(extra)
        getattr(mod, "configure_app", lambda _app: None)(app)  # e.g. the web console's session reader
    from merx.core import api as core_api

    app.include_router(core_api.router, prefix=API_PREFIX)
    register_handlers()
    bus.configure(background=settings.event_handlers == "background")
    app.router.on_startup.append(lambda: _limit_request_threads(settings.request_threads))
    # a stopping server hands the reactions it has queued to their handlers before it exits
    app.router.on_shutdown.append(lambda: bus.drain(30.0) and None)

    # Outermost first: request id/log/metrics, the last-resort 500, query/path checks, the
    # body limit, then idempotency (so a refused request claims no key).
    app.add_middleware(IdempotencyMiddleware, db_getter=lambda: app.state.db)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, max_upload_bytes=settings.max_upload_bytes)
    app.add_middleware(InputGuardMiddleware)
    app.add_middleware(UnhandledErrorMiddleware)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app
