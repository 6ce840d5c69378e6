"""HTTP plumbing shared by every context's routes: dependencies (database, caller, unit of
work, role checks), problem+json error handlers and the ASGI middlewares (request id,
access log and metrics, body size limit). The Idempotency-Key middleware is in
`core/idempotency.py`."""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any, AsyncIterator, Awaitable, Callable

import anyio
import sqlalchemy as sa
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, StatementError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from merx.core.auth import ANONYMOUS, BEARER_RESOLVERS, Principal, Role, hash_api_key
from merx.core.db import Database
from merx.core.errors import (Conflict, FieldError, Forbidden, PayloadTooLarge, Problem, Unauthorized,
                              ValidationProblem)
from merx.core.idempotency import SCOPE_KEY as IDEMPOTENCY_SCOPE_KEY
from merx.core.models import ApiKey, User
from merx.core.observability import Metrics, request_id_var
from merx.core.ids import new_ulid
from merx.core.settings import Settings
from merx.core.uow import UnitOfWork

log = logging.getLogger("merx.http")
PROBLEM_JSON = "application/problem+json"

# --------------------------------------------------------------------------------------------
# Dependencies
# --------------------------------------------------------------------------------------------


def get_db(request: Request) -> Database:
    return request.app.state.db


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def principal_of(request: Request) -> Principal:
    """The caller, resolved once per request (blocking: an API key or session is looked up)."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal = resolve_principal(request.app.state.db, request.headers.get("authorization"),
                                  session_user_id=_session_user_id(request))
    request.state.principal = principal
    return principal


async def get_principal(request: Request) -> Principal:
    """Dependency form of `principal_of`. An anonymous caller (a guest at checkout, a shopper
    searching) is known without I/O, so it costs no hop to the thread pool; a credential is
    looked up in the pool, never on the event loop."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    if not request.headers.get("authorization") and not _session_present(request):
        request.state.principal = ANONYMOUS
        return ANONYMOUS
    return await run_in_threadpool(principal_of, request)


async def get_principal_or_shopper(request: Request) -> Principal:
    """The caller as `get_principal` sees it; when that is anonymous, the storefront shopper
    signed in by cookie (`app.state.shopper_reader`, installed by the web: the `merx_shopper`
    session; an API write only with that session's CSRF header). Only for routes a shopper's
    own browser calls with its cookie (the chat widget); elsewhere the API keeps to bearers
    and the console session."""
    principal = await get_principal(request)
    present = getattr(request.app.state, "shopper_present", None)
    reader = getattr(request.app.state, "shopper_reader", None)
    if not principal.is_anonymous or reader is None or not (present and present(request)):
        return principal
    return await run_in_threadpool(reader, request) or principal


def _session_present(request: Request) -> bool:
    # Without I/O: a signed session cookie came along (whether its session still lives is
    # read from the database by the session reader, in the thread pool).
    present = getattr(request.app.state, "session_present", None)
    return bool(present and present(request))


def _session_user_id(request: Request) -> int | None:
    # The web console signs its login cookie; the API uses bearer keys. Both land here.
    reader = getattr(request.app.state, "session_reader", None)
    return reader(request) if reader else None


def resolve_principal(db: Database, authorization: str | None, *, session_user_id: int | None = None) -> Principal:
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Authorization must be 'Bearer <api key>'")
        token = token.strip()
        for prefix, resolver in BEARER_RESOLVERS.items():  # shopper sessions (customers/hooks.py)
            if token.startswith(prefix):
                principal = resolver(db, token)
                if principal is None:
                    raise Unauthorized("The session is unknown, ended or expired; sign in again")
                return principal
        with db.read_sessions() as s:
            row = s.execute(
                sa.select(ApiKey, User).join(User, User.id == ApiKey.user_id)
                .where(ApiKey.key_hash == hash_api_key(token.strip()))
            ).first()
            if row is None or row.ApiKey.revoked_at is not None or not row.User.active:
                raise Unauthorized("The API key is unknown or revoked")
            key, user = row.ApiKey, row.User
            return Principal(user_id=user.id, role=Role(user.role), name=user.name, seller_id=user.seller_id,
                             customer_id=user.customer_id, api_key_id=key.id)
    if session_user_id is not None:
        with db.read_sessions() as s:
            user = s.get(User, session_user_id)
            if user is not None and user.active:
                return Principal(user_id=user.id, role=Role(user.role), name=user.name, seller_id=user.seller_id,
                                 customer_id=user.customer_id)
    return ANONYMOUS


def require(*roles: Role) -> Callable[..., Principal]:
    """Dependency: the caller must hold one of `roles` (401 when anonymous, 403 otherwise)."""
    allowed = frozenset(roles)

    def dependency(principal: Principal = Depends(get_principal)) -> Principal:
        if principal.is_anonymous:
            raise Unauthorized("This operation needs an API key (Authorization: Bearer <key>)")
        if principal.role not in allowed:
            names = ", ".join(sorted(r.value for r in allowed))
            raise Forbidden(f"Role {principal.role.value} may not do this; allowed: {names}")
        return principal

    return dependency


# Async generators on purpose: opening a unit of work does no I/O (the connection is taken at
# the first statement, in the endpoint's thread), so these need no thread-pool hop, which a
# sync generator dependency would cost twice per request (enter and exit). Closing after a
# commit returns the connection to the pool without a round trip.
async def _close_uow(uow: UnitOfWork) -> None:
    if uow.in_transaction():  # abandoned mid-way (an error): the rollback is a round trip
        # Not through the request threads' limiter: when every request thread waits for a row
        # lock this transaction holds, a rollback queued behind them would never run (the
        # PostgreSQL hang of concurrent refused checkouts). A fresh limiter per call, as FastAPI
        # does for the exit of sync dependencies.
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(uow.__exit__, None, None, None, limiter=anyio.CapacityLimiter(1))
    else:
        uow.__exit__(None, None, None)


def _uow_dependency(principal_dependency: Callable[..., Any], *, readonly: bool = False,
                   doc: str) -> Callable[..., AsyncIterator[UnitOfWork]]:
    """A request's unit of work for the caller `principal_dependency` finds: one generator
    that opens it and closes it itself (never one generator wrapping another, which would
    keep the transaction open on an error until garbage collection). A writing one carries
    the request's Idempotency-Key claim, so its commits mark the key in the same transaction."""

    async def dependency(request: Request,
                         principal: Principal = Depends(principal_dependency)) -> AsyncIterator[UnitOfWork]:
        claim = None if readonly else request.scope.get(IDEMPOTENCY_SCOPE_KEY)
        if claim is not None:
            claim.success_status = getattr(request.scope.get("route"), "status_code", None) or 200
        uow = UnitOfWork(request.app.state.db, principal, request_id=request_id_var.get(), readonly=readonly,
                         idempotency=claim)
        uow.__enter__()
        try:
            yield uow
        finally:
            await _close_uow(uow)

    dependency.__doc__ = doc
    return dependency


get_uow = _uow_dependency(get_principal, doc="The request's unit of work, for an API key or a console session.")
get_shopper_uow = _uow_dependency(get_principal_or_shopper, doc=(
    "`get_uow` for a caller that may be a shopper signed in by cookie (see `get_principal_or_shopper`)."))
get_read_uow = _uow_dependency(get_principal, readonly=True, doc="`get_uow` for reads: a read-only unit of work.")


# --------------------------------------------------------------------------------------------
# Error handlers
# --------------------------------------------------------------------------------------------


def problem_response(problem: Problem, request: Request | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    body = problem.body(instance=str(request.url.path) if request is not None else None)
    rid = request_id_var.get()
    if rid:
        body.setdefault("request_id", rid)
    return JSONResponse(body, status_code=problem.status, media_type=PROBLEM_JSON, headers=headers)


def _loc_to_field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        where, parts = parts[0], parts[1:]
        if not parts:
            return where
    return ".".join(parts)


def _validation_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors: list[FieldError] = []
    for err in exc.errors():
        field = _loc_to_field(tuple(err.get("loc", ())))
        kind = err.get("type", "invalid")
        msg = err.get("msg", "invalid")
        if kind == "extra_forbidden":
            msg = "unknown field"
        elif kind == "json_invalid":
            field, msg = "body", "is not valid JSON: " + str(err.get("ctx", {}).get("error", msg))
        errors.append(FieldError(field or "body", msg, kind))
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
    return problem_response(ValidationProblem(detail, errors=errors), request)


def _problem_handler(request: Request, exc: Problem) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return problem_response(exc, request, headers)


_HTTP_TITLES = {404: "Not found", 405: "Method not allowed", 401: "Authentication required", 403: "Not allowed"}


def _http_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    title = _HTTP_TITLES.get(exc.status_code, "HTTP error")
    detail = exc.detail if isinstance(exc.detail, str) else title
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No route {request.method} {request.url.path}"
    problem = Problem(detail, status=exc.status_code, title=title, type_slug=title.lower().replace(" ", "-"))
    return problem_response(problem, request, dict(exc.headers) if exc.headers else None)


def _pydantic_handler(request: Request, exc: PydanticValidationError) -> JSONResponse:
    # A model a service builds from what the caller sent (not FastAPI's own body parsing);
    # logged too, in case it was our own output model that failed
    log.warning("validation error outside request parsing", extra={"path": request.url.path,
                                                                   "errors": exc.error_count()})
    errors = [FieldError(_loc_to_field(tuple(e.get("loc", ()))) or "body", e.get("msg", "invalid"),
                         e.get("type", "invalid")) for e in exc.errors()]
    detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
    return problem_response(ValidationProblem(detail, errors=errors), request)


# PostgreSQL SQLSTATEs and SQLite messages of constraint failures, and what the caller hears.
_PG_INTEGRITY = {"23505": ("unique", 409), "23502": ("not_null", 422), "23503": ("reference", 422),
                 "23514": ("check", 422)}
_SQLITE_INTEGRITY = (("UNIQUE constraint failed", "unique", 409), ("NOT NULL constraint failed", "not_null", 422),
                     ("FOREIGN KEY constraint failed", "reference", 422), ("CHECK constraint failed", "check", 422))
_INTEGRITY_MESSAGES = {"unique": "already exists", "not_null": "is required",
                       "reference": "refers to a record that does not exist", "check": "is not an allowed value"}


def _integrity_kind(exc: IntegrityError) -> tuple[str, int, str]:
    """(kind, status, field) of a constraint failure, from the driver's structured error on
    PostgreSQL and from SQLite's fixed message format ("UNIQUE constraint failed: t.col")."""
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate:
        kind, status = _PG_INTEGRITY.get(sqlstate, ("conflict", 409))
        diag = getattr(orig, "diag", None)
        field = getattr(diag, "column_name", None) or ""
        key = re.search(r"Key \(([^)]+)\)=", getattr(diag, "message_detail", None) or "")
        return kind, status, field or (key.group(1) if key else "")
    text = str(orig)
    for prefix, kind, status in _SQLITE_INTEGRITY:
        if text.startswith(prefix):
            columns = text[len(prefix):].lstrip(": ").split(", ")
            fields = [c.rsplit(".", 1)[-1] for c in columns if c]
            return kind, status, ", ".join(fields) if kind != "check" else ""
    return "conflict", 409, ""


def _integrity_handler(request: Request, exc: IntegrityError) -> JSONResponse:
    kind, status, field = _integrity_kind(exc)
    message = _INTEGRITY_MESSAGES.get(kind, "conflicts with another record")
    field = field or "body"
    problem = (Conflict if status == 409 else ValidationProblem)(
        f"{field}: {message}", errors=[FieldError(field, message, kind)])
    return problem_response(problem, request)


def _database_busy_handler(request: Request, exc: OperationalError) -> JSONResponse:
    """A lock wait past `lock_timeout`, a statement past `statement_timeout`, a deadlock that
    kept recurring, SQLite's busy timeout, or a database that does not answer: the request
    failed without writing anything, and the same request may succeed in a moment."""
    orig = getattr(exc, "orig", None)
    log.warning("database busy or unavailable", extra={
        "path": request.url.path, "sqlstate": getattr(orig, "sqlstate", None), "error": str(orig)[:200]})
    problem = Problem("The database is busy or unavailable; nothing was changed. Retry shortly.", status=503,
                      title="Service unavailable", type_slug="database-busy")
    return problem_response(problem, request, {"Retry-After": "1"})


def _data_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """A value the database cannot store (too long, out of range, a NUL byte): the input
    checks should have caught it; the caller still gets a 422, not a 500."""
    log.warning("value refused by the database", extra={"path": request.url.path, "error": type(exc).__name__,
                                                          "reason": _db_reason(exc)})
    message = "a value is too long, out of range or contains characters the database cannot store"
    return problem_response(ValidationProblem(f"body: {message}", errors=[FieldError("body", message, "not_storable")]),
                            request)


def _statement_error_handler(request: Request, exc: StatementError) -> Any:
    # StatementError without a DBAPI error: a bind value failed before reaching the database
    # (sqlite3 refuses ints beyond 64 bits with OverflowError, a column type with ValueError).
    if isinstance(exc.orig, (OverflowError, ValueError)):
        return _data_error_handler(request, exc)
    raise exc


def _db_reason(exc: Exception) -> str:
    # The first line of the driver's message only: the rest (and SQLAlchemy's text) carries
    # the statement and its parameters, which hold customer data.
    orig = getattr(exc, "orig", None) or exc
    return str(orig).splitlines()[0][:200] if str(orig) else type(orig).__name__


def install_error_handlers(app: Any) -> None:
    app.add_exception_handler(OperationalError, _database_busy_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(PydanticValidationError, _pydantic_handler)
    app.add_exception_handler(Problem, _problem_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(IntegrityError, _integrity_handler)
    app.add_exception_handler(DataError, _data_error_handler)
    app.add_exception_handler(StatementError, _statement_error_handler)
    app.add_exception_handler(OverflowError, _data_error_handler)
    # No handler for Exception: Starlette would run it in ServerErrorMiddleware, which
    # re-raises after answering (uvicorn then drops the keep-alive connection) and, for a
    # sync handler, in a thread where the stack trace is gone. UnhandledErrorMiddleware does it.


class UnhandledErrorMiddleware:
    """The last resort for an exception no handler took: logs it with its stack trace (and
    the request id, via the log formatter) and answers 500 problem+json carrying the request
    id, without re-raising, so the server keeps the connection open."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.error("unhandled error", exc_info=exc, extra={"method": scope.get("method"), "path": scope.get("path")})
            if started:  # half a response is out: nothing valid can follow it
                raise
            problem = Problem("An unexpected error occurred; it has been logged with this request id.", status=500,
                              title="Internal error", type_slug="internal")
            await _send_problem(send, problem)


# --------------------------------------------------------------------------------------------
# Middlewares (pure ASGI: no per-request task switching overhead of BaseHTTPMiddleware)
# --------------------------------------------------------------------------------------------

ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


async def _send_problem(send: Any, problem: Problem, extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = problem.body()
    rid = request_id_var.get()
    if rid:
        body["request_id"] = rid
    raw = json.dumps(body).encode()
    headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(raw)).encode())]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers + (extra_headers or [])})
    await send({"type": "http.response.body", "body": raw})


send_problem = _send_problem  # for middlewares outside this module (core/validation.py)


class RequestContextMiddleware:
    """Assigns a request id (or keeps the caller's X-Request-ID), logs one line per request
    and feeds the metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")[:64]
        rid = incoming if incoming and incoming.replace("-", "").isalnum() else new_ulid()
        token = request_id_var.set(rid)
        start = time.perf_counter()
        status_holder = {"status": 500}

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - start
            route_path = self.metrics.route_label(scope.get("route"))
            self.metrics.observe(scope["method"], route_path, status_holder["status"], elapsed)
            log.info("request", extra={"method": scope["method"], "path": scope["path"],
                                       "status": status_holder["status"], "ms": round(elapsed * 1000, 2)})
            request_id_var.reset(token)


class BodyLimitMiddleware:
    """Refuses bodies over the limit with 413 before any handler parses them. Uploads
    (multipart) get their own, larger limit."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        ctype = headers.get(b"content-type", b"").decode("latin-1")
        limit = self.max_upload_bytes if ctype.startswith("multipart/") else self.max_bytes
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_problem(send, _too_large(limit))
            return
        received = 0
        response_started = False
        refused = False

        async def limited_receive() -> dict:
            nonlocal received, response_started, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Answer 413 here: the exception below may be caught on its way out
                    # (FastAPI turns any error while reading a form into a 400), so whatever
                    # the app answers after this point is dropped.
                    if not response_started and not refused:
                        refused = response_started = True
                        await _send_problem(send, _too_large(limit))
                    raise _BodyTooLarge()
            return message

        async def tracking_send(message: dict) -> None:
            nonlocal response_started
            if refused:
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not response_started:
                await _send_problem(send, _too_large(limit))
        except Exception:
            if not refused:
                raise
            # the app failed on the body it was refused; the caller already has its 413


class _BodyTooLarge(Exception):
    pass


def _too_large(limit: int) -> Problem:
    return PayloadTooLarge(f"The request body is larger than {limit} bytes",
                           errors=[FieldError("body", f"larger than {limit} bytes", "too_large")])
