"""Use cases of the integration hub: webhook endpoints, their delivery log and replays, and
reading the outbox (`merx events tail`). Connectors live in `connectors/`."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from merx.core.db import utcnow
from merx.core.errors import Conflict, NotFound, ValidationProblem
from merx.core.models import OutboxEvent
from merx.core.pagination import paginate, text_search
from merx.core.uow import UnitOfWork
from merx.integration import outbound, webhooks
from merx.integration.models import RelayCursor, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from merx.core.outbox import max_outbox_seq
from merx.integration.schemas import (AttemptOut, DeliveryOut, EventOut, WebhookCreate, WebhookOut, WebhookUpdate,
                                      WebhookWithSecretOut)
from merx.integration.secrets_box import decrypt_secret, encrypt_secret, generate_secret, is_valid_secret
from merx.integration.settings import get_integration_settings

import merx.integration.events  # noqa: F401  (registers the hub's event types in the catalog)


def _out(e: WebhookEndpoint) -> WebhookOut:
    return WebhookOut(id=e.id, url=e.url, events=list(e.event_types or []), description=e.description, active=e.active,
                      disabled_at=e.disabled_at, disabled_reason=e.disabled_reason,
                      consecutive_failures=e.consecutive_failures, created_at=e.created_at, updated_at=e.updated_at,
                      version=e.version)


def check_outbound_url(url: str, field: str = "url", allow: outbound.AllowList | None = None) -> None:
    """Refuse a URL that points at a private, loopback or link-local address (integration/outbound.py)."""
    try:
        outbound.check_url(url, allow if allow is not None else get_integration_settings().outbound_allow_list)
    except outbound.OutboundRefused as refused:
        raise ValidationProblem.for_field(field, str(refused)) from None


def create_endpoint(uow: UnitOfWork, data: WebhookCreate, *,
                    allow: outbound.AllowList | None = None) -> WebhookWithSecretOut:
    """`allow` replaces MERX_OUTBOUND_ALLOW for this one check (the demo's receiver on 127.0.0.1)."""
    secret = data.secret or generate_secret()
    if not is_valid_secret(secret):
        raise ValidationProblem.for_field("secret", "must be 'whsec_' followed by base64 of 24 to 64 bytes")
    check_outbound_url(data.url, allow=allow)
    s = uow.session
    endpoint = WebhookEndpoint(url=data.url, description=data.description, event_types=data.events,
                               secret_encrypted=encrypt_secret(secret, uow.settings), active=True, consecutive_failures=0,
                               start_seq=max_outbox_seq(s), version=1)
    s.add(endpoint)
    s.flush()
    uow.audit("webhook_endpoint.created", "webhook_endpoint", endpoint.id,
              after={"url": endpoint.url, "events": data.events})
    uow.commit()
    return WebhookWithSecretOut(**_out(endpoint).model_dump(), secret=secret)


def _get(uow: UnitOfWork, endpoint_id: int) -> WebhookEndpoint:
    e = uow.session.get(WebhookEndpoint, endpoint_id)
    if e is None:
        raise NotFound(f"webhook endpoint {endpoint_id} does not exist")
    return e


def get_endpoint(uow: UnitOfWork, endpoint_id: int) -> WebhookOut:
    return _out(_get(uow, endpoint_id))


def list_endpoints(uow: UnitOfWork, *, limit: int, cursor: str | None,
                   q: str | None = None) -> tuple[list[WebhookOut], str | None]:
    """`q`: only the endpoints whose URL or description contain it."""
    stmt = text_search(sa.select(WebhookEndpoint), q, WebhookEndpoint.url, WebhookEndpoint.description)
    return paginate(uow.session, stmt, WebhookEndpoint.id, limit=limit, cursor=cursor, convert=_out)


def update_endpoint(uow: UnitOfWork, endpoint_id: int, data: WebhookUpdate) -> WebhookOut:
    e = _get(uow, endpoint_id)
    before = _out(e).model_dump(mode="json")
    changes = data.model_dump(exclude_unset=True)
    if "url" in changes and changes["url"] is not None:
        check_outbound_url(changes["url"])
        e.url = changes["url"]
    if "events" in changes and changes["events"] is not None:
        e.event_types = changes["events"]
    if "description" in changes:
        e.description = changes["description"]
    if changes.get("active") is not None and changes["active"] != e.active:
        e.active = changes["active"]
        if e.active:  # re-enabled: the relay resumes from where it stopped, nothing is skipped
            e.consecutive_failures = 0
            e.disabled_at = None
            e.disabled_reason = None
        else:
            e.disabled_at = utcnow()
            e.disabled_reason = "disabled by a user"
    e.version += 1
    uow.audit("webhook_endpoint.updated", "webhook_endpoint", e.id, before=before, after=_out(e).model_dump(mode="json"))
    uow.commit()
    return _out(e)


def rotate_secret(uow: UnitOfWork, endpoint_id: int, secret: str | None = None) -> WebhookWithSecretOut:
    e = _get(uow, endpoint_id)
    secret = secret or generate_secret()
    if not is_valid_secret(secret):
        raise ValidationProblem.for_field("secret", "must be 'whsec_' followed by base64 of 24 to 64 bytes")
    e.secret_encrypted = encrypt_secret(secret, uow.settings)
    e.version += 1
    uow.audit("webhook_endpoint.secret_rotated", "webhook_endpoint", e.id)
    uow.commit()
    return WebhookWithSecretOut(**_out(e).model_dump(), secret=secret)


def delete_endpoint(uow: UnitOfWork, endpoint_id: int) -> None:
    e = _get(uow, endpoint_id)
    uow.session.execute(sa.delete(RelayCursor).where(RelayCursor.subscriber == f"webhook:{e.id}"))
    uow.session.delete(e)
    uow.audit("webhook_endpoint.deleted", "webhook_endpoint", endpoint_id, before={"url": e.url})
    uow.commit()


# -- delivery log ------------------------------------------------------------------------------------

def _attempt_out(a: WebhookAttempt) -> AttemptOut:
    return AttemptOut.model_validate(a, from_attributes=True)


def _delivery_out(d: WebhookDelivery, attempts: list[WebhookAttempt] | None = None,
                  with_payload: bool = False) -> DeliveryOut:
    payload = json.loads(d.body) if (with_payload and d.body) else None
    return DeliveryOut(id=d.id, endpoint_id=d.endpoint_id, event_id=d.event_id, event_type=d.event_type,
                       status=d.status, attempts=d.attempts, next_attempt_at=d.next_attempt_at,
                       last_status_code=d.last_status_code, created_at=d.created_at, completed_at=d.completed_at,
                       payload=payload, payload_purged_at=d.payload_purged_at,
                       attempt_log=[_attempt_out(a) for a in attempts or []])


def list_deliveries(uow: UnitOfWork, endpoint_id: int, *, status: str | None, event_type: str | None, limit: int,
                    cursor: str | None, newest_first: bool = False) -> tuple[list[DeliveryOut], str | None]:
    _get(uow, endpoint_id)
    stmt = sa.select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    if event_type:
        stmt = stmt.where(WebhookDelivery.event_type == event_type)
    return paginate(uow.session, stmt, WebhookDelivery.id, limit=limit, cursor=cursor, convert=_delivery_out,
                    descending=newest_first)


def _get_delivery(uow: UnitOfWork, endpoint_id: int, delivery_id: int) -> WebhookDelivery:
    d = uow.session.get(WebhookDelivery, delivery_id)
    if d is None or d.endpoint_id != endpoint_id:
        raise NotFound(f"delivery {delivery_id} of webhook endpoint {endpoint_id} does not exist")
    return d


def get_delivery(uow: UnitOfWork, endpoint_id: int, delivery_id: int) -> DeliveryOut:
    d = _get_delivery(uow, endpoint_id, delivery_id)
    attempts = uow.session.scalars(sa.select(WebhookAttempt).where(WebhookAttempt.delivery_id == d.id)
                                   .order_by(WebhookAttempt.id)).all()
    return _delivery_out(d, list(attempts), with_payload=True)


def replay_delivery(uow: UnitOfWork, endpoint_id: int, delivery_id: int) -> DeliveryOut:
    """Sends the stored body again now (same webhook-id, fresh timestamp and signature)."""
    e = _get(uow, endpoint_id)
    d = _get_delivery(uow, endpoint_id, delivery_id)
    if d.body is None:
        raise Conflict(f"the payload of delivery {delivery_id} was purged after the retention period; "
                       "it cannot be replayed")
    settings = get_integration_settings()
    secret = decrypt_secret(e.secret_encrypted, uow.settings)
    result = _post_once(e.url, secret, d.event_id, d.body, settings.webhook_timeout_seconds)
    now = utcnow()
    uow.session.add(WebhookAttempt(delivery_id=d.id, trigger="replay", attempted_at=now, status_code=result.status_code,
                                   latency_ms=result.latency_ms, outcome=result.outcome, error=result.error,
                                   response_snippet=result.response_snippet))
    d.attempts += 1
    d.last_status_code = result.status_code
    if result.ok:
        d.status, d.completed_at, d.next_attempt_at = "succeeded", now, None
    uow.audit("webhook_delivery.replayed", "webhook_delivery", d.id, after={"outcome": result.outcome})
    uow.commit()
    return get_delivery(uow, endpoint_id, delivery_id)


def _post_once(url: str, secret: str, msg_id: str, body: str, timeout: float) -> webhooks.AttemptResult:
    with outbound.guarded_client(get_integration_settings().outbound_allow_list) as client:
        return webhooks.post(client, url, secret, msg_id, body, timeout)


def send_test_event(url: str, secret: str | None = None, *, timeout: float = 10.0) -> tuple[str, webhooks.AttemptResult]:
    """`merx webhooks test URL`: one signed `webhook.test` message, so a receiver can check its
    signature verification before real events flow. Returns (secret used, result)."""
    from merx.core.ids import new_ulid

    secret = secret or generate_secret()
    event_id = new_ulid()
    body = webhooks.event_body(event_id=event_id, event_type="webhook.test", occurred_at=utcnow().isoformat(),
                               aggregate_type="webhook", aggregate_id="test", aggregate_version=None,
                               schema_version=1, payload={"message": "Merx webhook test"})
    return secret, _post_once(url, secret, event_id, body, timeout)


def send_test_to_endpoint(uow: UnitOfWork, endpoint_id: int) -> webhooks.AttemptResult:
    """The console's "Send test": one signed `webhook.test` message to a stored endpoint, with
    its own secret, so the receiver checks the same signature real events will carry. The
    secret is read in this transaction; the HTTP call runs after it ends."""
    e = _get(uow, endpoint_id)
    url, secret = e.url, decrypt_secret(e.secret_encrypted, uow.settings)
    uow.rollback()
    return send_test_event(url, secret)[1]


# -- outbox reading ------------------------------------------------------------------------------------

def event_out(r: OutboxEvent) -> EventOut:
    return EventOut(seq=r.seq, id=r.id, type=r.type, aggregate_type=r.aggregate_type, aggregate_id=r.aggregate_id,
                    aggregate_version=r.aggregate_version, occurred_at=r.occurred_at, schema_version=r.schema_version,
                    payload=r.payload)


def list_events(uow: UnitOfWork, *, event_type: str | None = None, aggregate_type: str | None = None,
                aggregate_id: str | None = None, limit: int, cursor: str | None) -> tuple[list[EventOut], str | None]:
    stmt = sa.select(OutboxEvent)
    if event_type:
        stmt = stmt.where(OutboxEvent.type == event_type)
    if aggregate_type:
        stmt = stmt.where(OutboxEvent.aggregate_type == aggregate_type)
    if aggregate_id:
        stmt = stmt.where(OutboxEvent.aggregate_id == aggregate_id)
    return paginate(uow.session, stmt, OutboxEvent.seq, limit=limit, cursor=cursor, convert=event_out)


def events_after(uow: UnitOfWork, after_seq: int, limit: int = 500) -> list[EventOut]:
    rows = uow.session.scalars(sa.select(OutboxEvent).where(OutboxEvent.seq > after_seq)
                               .order_by(OutboxEvent.seq).limit(limit)).all()
    return [event_out(r) for r in rows]


def relay_status(uow: UnitOfWork) -> dict[str, Any]:
    """Backlog per subscriber: how far each is behind the outbox's newest event."""
    newest = max_outbox_seq(uow.session)
    rows = uow.session.execute(sa.select(RelayCursor.subscriber, sa.func.min(RelayCursor.last_seq))
                               .group_by(RelayCursor.subscriber)).all()
    return {"newest_seq": newest, "subscribers": {sub: {"min_cursor": int(m)} for sub, m in rows}}
