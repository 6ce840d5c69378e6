"""`Idempotency-Key` on POST/PUT/PATCH/DELETE: a retried write is carried out once.

The first request with a key claims it (a row in `idempotency_keys`, with a claim token) and
runs; its answer is stored and replayed to every retry (a 5xx only once some of the work
committed: before that, a retry runs the request again). The same key
with a different request is a 422; a retry while the first attempt still runs is a 409.

A crash can fall between the work's commit and the stored answer. So the claim travels with
the request into its unit of work (`get_uow`), and every `uow.commit()` marks the key
`committed` in the work's own transaction, under the claim token (`IdempotencyClaim.mark_committed`):
- a retry never runs work that already committed: it gets the resource the request created
  (`uow.created("order", id)` plus a renderer from `register_replay`), or, for a route that
  named none, a 409 saying the request was carried out and its answer was lost;
- a retry that takes over a key whose first attempt looked dead (no answer after
  `MERX_IDEMPOTENCY_STALE_SECONDS`) gets a new claim token; if that first attempt was only
  slow, its commit finds the token changed and rolls back: the work commits once.

Keys are scoped to the caller: an API key, a signed-in console user (cookie session), or an
anonymous caller (and the cart token it presents). An anonymous caller is never answered with
a signed-in caller's response. Requests match when their method, path and body are the same;
JSON bodies are compared by meaning (key order and whitespace do not matter).
`purge_idempotency_keys` deletes records older than `MERX_IDEMPOTENCY_TTL_HOURS`; the
scheduler runs it."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import anyio
import sqlalchemy as sa
from fastapi.encoders import jsonable_encoder
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request

from merx.core.auth import SYSTEM
from merx.core.db import Database, utcnow
from merx.core.errors import Conflict, FieldError, Problem, ValidationProblem
from merx.core.models import IdempotencyRecord
from merx.core.uow import UnitOfWork

ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]
SCOPE_KEY = "merx.idempotency"  # where the middleware leaves the claim for `get_uow`
METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_TABLE = IdempotencyRecord.__table__

# kind -> renders the resource a request created, for a retry whose answer was lost
_REPLAYS: dict[str, Callable[[UnitOfWork, str], Any]] = {}


def register_replay(kind: str, render: Callable[[UnitOfWork, str], Any]) -> None:
    """`render(uow, resource_id)` returns the body a route answers with for that resource
    (a Pydantic model or JSON-able value). The route's success status goes with it."""
    _REPLAYS[kind] = render


class LostClaim(Conflict):
    type_slug = "idempotency-in-progress"


@dataclass
class IdempotencyClaim:
    """This request's hold on its key, carried into its unit of work."""

    record_id: int
    token: str
    success_status: int = 200
    resource: tuple[str, str] | None = None

    _MARK = (sa.update(_TABLE)
             .where(_TABLE.c.id == sa.bindparam("record_id"), _TABLE.c.claim_token == sa.bindparam("token"),
                    _TABLE.c.state.in_(("in_progress", "committed")))
             .values(state="committed", status_code=sa.bindparam("status"),
                     resource_type=sa.bindparam("resource_type"), resource_id=sa.bindparam("resource_ref")))

    def mark_committed(self, conn: sa.Connection) -> None:
        """Inside the work's transaction, before it commits: the key is `committed` together
        with the work, or (another attempt took the key over) the work must not commit."""
        kind, ref = self.resource or (None, None)
        done = conn.execute(self._MARK, {"record_id": self.record_id, "token": self.token,
                                         "status": self.success_status, "resource_type": kind,
                                         "resource_ref": ref}).rowcount
        if done != 1:
            raise LostClaim("Another attempt with this Idempotency-Key took it over; this one was undone. "
                            "Retry with the same key to get its answer.")


# --------------------------------------------------------------------------------------------
# Matching requests
# --------------------------------------------------------------------------------------------


def request_fingerprint(method: str, path: str, content_type: str, body: bytes) -> str:
    """The same request, byte for byte or (JSON) by meaning: key order and spacing ignored."""
    canonical = body
    if "json" in content_type and body:
        try:
            canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"),
                                   ensure_ascii=False).encode()
        except ValueError:  # not JSON after all: compared as sent; the route will refuse it
            canonical = body
    return hashlib.sha256(method.encode() + b"\n" + path.encode() + b"\n" + canonical).hexdigest()


def caller_scope(scope: dict, headers: dict[bytes, bytes], session_reader: Callable[[Request], int | None] | None) -> str:
    """Whose keys these are. Blocking (a session may be looked up): call it in a thread."""
    auth = headers.get(b"authorization", b"")
    if auth:
        return "key:" + hashlib.sha256(auth).hexdigest()[:32]
    user_id = session_reader(Request(scope)) if session_reader is not None else None
    if user_id is not None:
        return f"user:{user_id}"
    cart_token = headers.get(b"x-cart-token", b"")
    return "anonymous:" + hashlib.sha256(cart_token).hexdigest()[:32] if cart_token else "anonymous"


# --------------------------------------------------------------------------------------------
# Claiming, finishing, replaying
# --------------------------------------------------------------------------------------------


@dataclass
class Replay:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def claim(db: Database, *, scope_key: str, key: str, method: str, path: str, fingerprint: str,
          stale_after: dt.timedelta) -> IdempotencyClaim | Replay | Problem:
    token = secrets.token_hex(16)
    with db.write_sessions() as s:
        for _ in range(2):  # a record purged between our insert and our read: insert again
            rec = IdempotencyRecord(scope=scope_key, key=key, method=method, path=path, request_hash=fingerprint,
                                    state="in_progress", claim_token=token, created_at=utcnow())
            s.add(rec)
            try:
                s.commit()
                return IdempotencyClaim(rec.id, token)
            except IntegrityError:
                s.rollback()
            existing = s.scalars(sa.select(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope_key, IdempotencyRecord.key == key)).one_or_none()
            if existing is not None:
                break
        else:
            raise AssertionError("unreachable: the key was neither insertable nor present")
        if existing.request_hash != fingerprint:
            return ValidationProblem(
                "This Idempotency-Key was already used with a different request",
                errors=[FieldError("Idempotency-Key", "already used with a different request body or path",
                                   "idempotency_mismatch")])
        if existing.state == "done":
            return Replay(existing.status_code or 200, list(existing.response_headers or []),
                          existing.response_body or b"")
        presumed_dead = existing.state == "interrupted" or utcnow() - existing.created_at > stale_after
        if not presumed_dead:
            return Conflict("A request with this Idempotency-Key is still being processed; retry shortly",
                            type_slug="idempotency-in-progress")
        if existing.state in ("committed", "interrupted"):
            created = (existing.resource_type, existing.resource_id, existing.status_code)
            s.rollback()  # hold no write transaction (SQLite: the file's write lock) while rendering
            return _answer_for_committed(db, *created)
        # The first attempt committed nothing and looks dead (its process was killed): take the
        # key over. If it was only slow, its commit now finds the token changed and rolls back.
        taken = s.execute(sa.update(_TABLE).where(_TABLE.c.id == existing.id,
                                                  _TABLE.c.claim_token == existing.claim_token,
                                                  _TABLE.c.state == "in_progress")
                          .values(claim_token=token, created_at=utcnow())).rowcount
        s.commit()
        if taken == 1:
            return IdempotencyClaim(existing.id, token)
        return Conflict("A request with this Idempotency-Key is still being processed; retry shortly",
                        type_slug="idempotency-in-progress")


def _answer_for_committed(db: Database, kind: str | None, ref: str | None, status: int | None) -> Replay | Problem:
    """The work committed but no answer was stored (a crash, or a failure after the commit):
    answer with what the request created as it is now, never by doing the work again."""
    render = _REPLAYS.get(kind or "")
    if render is None:
        return Conflict("The request with this Idempotency-Key was carried out, but its answer was lost; "
                        "it will not be repeated. Look the result up before trying again with a new key.",
                        type_slug="idempotency-answer-lost")
    with UnitOfWork(db, SYSTEM, readonly=True) as uow:
        body = render(uow, ref or "")
    raw = json.dumps(jsonable_encoder(body), separators=(",", ":")).encode()
    return Replay(status or 200, [("content-type", "application/json")], raw)


def finish(db: Database, claim_: IdempotencyClaim, status: int | None, headers: list[tuple[str, str]],
           body: bytes) -> None:
    """Store the answer for replay. A server failure (5xx) or no answer at all, before any of
    the work committed, is forgotten: a retry runs the request. After a commit, the answer is
    kept and replayed (a 504 "payment timed out, order cancelled" stays that answer), except
    a 503 or no answer: the key becomes `interrupted` and a retry gets the created resource."""
    mine = (_TABLE.c.id == claim_.record_id) & (_TABLE.c.claim_token == claim_.token)
    with db.write_sessions() as s:
        if status is None or status >= 500 or status == 429:
            # a failure or a rate limit before any work committed is not an answer: a retry runs
            s.execute(sa.delete(_TABLE).where(mine, _TABLE.c.state == "in_progress"))
        if status is None or status == 503:
            s.execute(sa.update(_TABLE).where(mine, _TABLE.c.state == "committed").values(state="interrupted"))
        else:
            s.execute(sa.update(_TABLE).where(mine).values(state="done", status_code=status,
                                                           response_headers=headers, response_body=body))
        s.commit()


def purge_idempotency_keys(db: Database, now: dt.datetime | None = None) -> int:
    """Delete the records older than the time to live (MERX_IDEMPOTENCY_TTL_HOURS); a retry
    after that is a new request. Returns how many were deleted. For the scheduler."""
    from merx.core.settings import settings_of

    settings = settings_of(db)
    cutoff = (now or utcnow()) - dt.timedelta(hours=settings.idempotency_ttl_hours)
    with db.write_sessions() as s:
        deleted = s.execute(sa.delete(_TABLE).where(_TABLE.c.created_at < cutoff)).rowcount
        s.commit()
    return deleted


# --------------------------------------------------------------------------------------------
# The middleware
# --------------------------------------------------------------------------------------------


class IdempotencyMiddleware:
    """Pure ASGI (see the module docstring for the protocol)."""

    def __init__(self, app: ASGIApp, db_getter: Callable[[], Database],
                 session_reader_getter: Callable[[], Any] = lambda: None) -> None:
        self.app = app
        self.db_getter = db_getter
        self.session_reader_getter = session_reader_getter

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        from merx.core.web import _send_problem  # web imports the unit of work, which this module needs too

        if scope["type"] != "http" or scope["method"] not in METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        key_raw = headers.get(b"idempotency-key")
        if key_raw is None:
            await self.app(scope, receive, send)
            return
        key = key_raw.decode("latin-1").strip()
        if not key or len(key) > 255:
            await _send_problem(send, ValidationProblem.for_field("Idempotency-Key", "must be 1 to 255 characters"))
            return
        # Read the whole body (the body limit middleware runs outside us and bounds it).
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        path = scope["path"] + ("?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else "")
        fingerprint = request_fingerprint(scope["method"], path, headers.get(b"content-type", b"").decode("latin-1"),
                                          body)
        db = self.db_getter()
        settings = db.settings
        stale_after = dt.timedelta(seconds=settings.idempotency_stale_seconds if settings is not None else 120)
        reader = self.session_reader_getter()

        def claim_in_thread() -> IdempotencyClaim | Replay | Problem:
            scope_key = caller_scope(scope, headers, reader)
            return claim(db, scope_key=scope_key, key=key, method=scope["method"], path=path,
                         fingerprint=fingerprint, stale_after=stale_after)

        outcome = await anyio.to_thread.run_sync(claim_in_thread)
        if isinstance(outcome, Problem):
            in_progress = outcome.status == 409 and outcome.type_slug == "idempotency-in-progress"
            await _send_problem(send, outcome, [(b"retry-after", b"1")] if in_progress else None)
            return
        if isinstance(outcome, Replay):
            stored = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in outcome.headers]
            await send({"type": "http.response.start", "status": outcome.status,
                        "headers": stored + [(b"content-length", str(len(outcome.body)).encode()),
                                             (b"idempotent-replayed", b"true")]})
            await send({"type": "http.response.body", "body": outcome.body})
            return
        held = outcome
        scope[SCOPE_KEY] = held
        sent_body = False

        async def replay_receive() -> dict:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        captured: dict[str, Any] = {"status": None, "headers": [], "body": [], "stored": False}

        async def store() -> None:
            captured["stored"] = True
            await anyio.to_thread.run_sync(finish, db, held, captured["status"], captured["headers"],
                                           b"".join(captured["body"]))

        async def capture_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])
                                       if k.lower() in (b"content-type", b"location", b"etag")]
            elif message["type"] == "http.response.body":
                captured["body"].append(message.get("body", b""))
                if not message.get("more_body"):
                    # Store before the client sees the end of the response: a retry it sends
                    # the moment it has the answer must find the key done, not in progress.
                    await store()
            await send(message)

        try:
            await self.app(scope, replay_receive, capture_send)
        finally:
            if not captured["stored"]:
                with anyio.CancelScope(shield=True):
                    await store()
