"""Composition root: builds the ASGI app from the settings, the database and the contexts."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from merx import __version__
from merx.contexts import api_modules, handler_modules, import_models, job_modules
from merx.core.db import Database
from merx.core.events import bus
from merx.core.jobs import Scheduler, every
from merx.core import ratelimit
from merx.core.auth import Role
from merx.core.errors import Forbidden, Unauthorized
from merx.core.observability import METRICS_CONTENT_TYPE, Metrics, configure_logging
from merx.core.settings import Settings, ensure_secret_key, get_settings
from merx.core.idempotency import IdempotencyMiddleware, purge_idempotency_keys
from merx.core.validation import InputGuardMiddleware
from merx.core.web import (BodyLimitMiddleware, RequestContextMiddleware, UnhandledErrorMiddleware,
                           install_error_handlers, principal_of)
from merx.core.subscribers import embedded_runner

API_PREFIX = "/api/v1"
VENDOR = "/assets/vendor"  # the web package serves its static/vendor folder here
_handlers_registered = False


def register_handlers() -> None:
    """Subscribe every context's event handlers to the process-wide bus, once."""
    global _handlers_registered
    if _handlers_registered:
        return
    for mod in handler_modules():
        mod.register(bus)
    _handlers_registered = True


def build_scheduler() -> Scheduler:
    """Every context's jobs (`<context>/jobs.py`), in a fresh registry."""
    scheduler = Scheduler()
    scheduler.add("core.purge_idempotency_keys", every(3600),
                  lambda ctx: f"purged {purge_idempotency_keys(ctx.db, ctx.now)} idempotency records",
                  description="Forget Idempotency-Key records older than MERX_IDEMPOTENCY_TTL_HOURS.")
    for mod in job_modules():
        mod.register(scheduler)
    return scheduler


def _limit_request_threads(threads: int) -> None:
    """Cap the threads that run blocking endpoints. Python runs one thread at a time per
    process: beyond a few, more threads only add GIL hand-offs (each database round trip
    releases and re-takes the GIL) while requests wait in the queue just the same."""
    import anyio.to_thread

    anyio.to_thread.current_default_thread_limiter().total_tokens = threads


def _record_templates(metrics: Metrics, routes: list[Any], prefix: str) -> None:
    """Full path templates of a router's routes, nested routers included, for the metrics'
    route label."""
    for route in routes:
        if getattr(route, "path", None) is not None:
            metrics.route_templates[id(route)] = prefix + route.path
        elif getattr(route, "original_router", None) is not None:  # a router included in this one
            nested = getattr(getattr(route, "include_context", None), "prefix", "")
            _record_templates(metrics, route.original_router.routes, prefix + nested)


def _authorise_metrics(request: Request, settings: Settings) -> None:
    """The scrape token (compared in constant time), else an admin's key or console session."""
    import hmac

    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    expected = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    if expected and scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode()):
        return
    principal = principal_of(request)
    if principal.is_anonymous:
        raise Unauthorized("/metrics needs an admin API key or the MERX_METRICS_TOKEN bearer token")
    if principal.role != Role.admin:
        raise Forbidden("/metrics is for admins and the metrics scraper")


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)
    ensure_secret_key(settings)  # before anything can sign a cookie; refuses on PostgreSQL without one
    import_models()
    db = db or Database.for_settings(settings)
    metrics = Metrics()

    app = FastAPI(
        title="Merx API",
        version=__version__,
        description="Commerce operations platform: catalog, inventory, orders, CRM, search, analytics, integration.",
        openapi_url="/openapi.json",
        # FastAPI's own /docs and /redoc load Swagger UI and ReDoc from a CDN: blank without internet.
        # The routes below serve the same pages from the vendored copies under /assets/vendor.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    db.settings = settings
    app.state.metrics = metrics
    app.state.scheduler = build_scheduler()  # the console's jobs page lists and runs them
    install_error_handlers(app)
    ratelimit.install(app)

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="Merx API · Swagger UI",
                                   swagger_js_url=f"{VENDOR}/swagger-ui/swagger-ui-bundle.js",
                                   swagger_css_url=f"{VENDOR}/swagger-ui/swagger-ui.css",
                                   swagger_favicon_url=f"{VENDOR}/swagger-ui/favicon-32x32.png")

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title="Merx API · ReDoc",
                              redoc_js_url=f"{VENDOR}/redoc/redoc.standalone.js",
                              redoc_favicon_url=f"{VENDOR}/swagger-ui/favicon-32x32.png", with_google_fonts=False)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> Any:
        try:
            db.ping()
        except Exception as e:  # reported, not raised: a health check answers, it does not crash
            return JSONResponse({"status": "unhealthy", "database": str(e)[:200]}, status_code=503)
        return {"status": "ok", "database": "ok", "version": __version__}

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    def metrics_endpoint(request: Request) -> Response:
        """Prometheus text exposition; for an admin API key or the MERX_METRICS_TOKEN bearer."""
        _authorise_metrics(request, settings)
        metrics.db_pool_checked_out.set(float(getattr(db.engine.pool, "checkedout", lambda: 0)()))
        return Response(metrics.render(), media_type=METRICS_CONTENT_TYPE)

    for mod in api_modules():
        prefix = getattr(mod, "PREFIX", API_PREFIX)
        app.include_router(mod.router, prefix=prefix)
        _record_templates(metrics, mod.router.routes, prefix)
        for extra in getattr(mod, "EXTRA_ROUTERS", ()):
            app.include_router(extra)
        getattr(mod, "configure_app", lambda _app: None)(app)  # e.g. the web console's session reader
    from merx.core import api as core_api

    app.include_router(core_api.router, prefix=API_PREFIX)
    _record_templates(metrics, core_api.router.routes, API_PREFIX)
    register_handlers()
    bus.configure(background=settings.event_handlers == "background")
    app.router.on_startup.append(lambda: _limit_request_threads(settings.request_threads))
    # The durable subscribers (CRM, analytics) run on an embedded thread when the server
    # hands reactions to the background (MERX_EMBEDDED_WORKER, core/subscribers.py); inline,
    # each commit's own thread catches them up.
    runner = embedded_runner(db, bus, settings.embedded_worker) if bus.background else None
    app.state.subscriber_runner = runner
    if runner is not None:
        app.router.on_startup.append(runner.start)
        app.router.on_shutdown.append(runner.stop)
    # a stopping server hands the reactions it has queued to their handlers before it exits
    app.router.on_shutdown.append(lambda: bus.drain(30.0) and None)

    # Outermost first: request id/log/metrics, the last-resort 500, query/path checks, the
    # body limit, then idempotency (so a refused request claims no key).
    app.add_middleware(IdempotencyMiddleware, db_getter=lambda: app.state.db,
                       session_reader_getter=lambda: getattr(app.state, "session_reader", None))
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, max_upload_bytes=settings.max_upload_bytes)
    app.add_middleware(InputGuardMiddleware)
    app.add_middleware(UnhandledErrorMiddleware)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app
