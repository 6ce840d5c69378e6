"""Routes of the integration hub: webhook endpoints and their delivery log, the outbox
(event feed), and connectors with their import jobs. Configuration is admin-only; staff may read."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import PlainTextResponse, Response

from merx.core.auth import Principal, Role
from merx.core.pagination import check_limit
from merx.core.schemas import Page
from merx.core.uow import UnitOfWork
from merx.core.web import get_read_uow, get_uow, require
from merx.integration import service
from merx.integration.schemas import (ConnectorCreate, ConnectorOut, ConnectorUpdate, DeliveryOut, EventOut,
                                      ImportJobOut, WebhookCreate, WebhookOut, WebhookUpdate, WebhookWithSecretOut)

router = APIRouter(tags=["integration"])
ADMIN = require(Role.admin)
READERS = require(Role.admin, Role.staff)


# -- webhooks ----------------------------------------------------------------------------------------

@router.post("/webhooks", response_model=WebhookWithSecretOut, status_code=201)
def create_webhook(body: WebhookCreate, uow: UnitOfWork = Depends(get_uow),
                   _: Principal = Depends(ADMIN)) -> WebhookWithSecretOut:
    """Register an endpoint. The signing secret is returned here (and on rotation) only."""
    return service.create_endpoint(uow, body)


@router.get("/webhooks", response_model=Page[WebhookOut])
def list_webhooks(limit: int | None = Query(None), cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                  _: Principal = Depends(READERS)) -> Page[WebhookOut]:
    items, nxt = service.list_endpoints(uow, limit=check_limit(limit, 50, 500), cursor=cursor)
    return Page[WebhookOut](items=items, next_cursor=nxt)


@router.get("/webhooks/{endpoint_id}", response_model=WebhookOut)
def get_webhook(endpoint_id: int, uow: UnitOfWork = Depends(get_read_uow),
                _: Principal = Depends(READERS)) -> WebhookOut:
    return service.get_endpoint(uow, endpoint_id)


@router.patch("/webhooks/{endpoint_id}", response_model=WebhookOut)
def update_webhook(endpoint_id: int, body: WebhookUpdate, uow: UnitOfWork = Depends(get_uow),
                   _: Principal = Depends(ADMIN)) -> WebhookOut:
    return service.update_endpoint(uow, endpoint_id, body)


@router.post("/webhooks/{endpoint_id}/rotate-secret", response_model=WebhookWithSecretOut)
def rotate_webhook_secret(endpoint_id: int, uow: UnitOfWork = Depends(get_uow),
                          _: Principal = Depends(ADMIN)) -> WebhookWithSecretOut:
    return service.rotate_secret(uow, endpoint_id)


@router.delete("/webhooks/{endpoint_id}", status_code=204)
def delete_webhook(endpoint_id: int, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(ADMIN)) -> Response:
    service.delete_endpoint(uow, endpoint_id)
    return Response(status_code=204)


@router.get("/webhooks/{endpoint_id}/deliveries", response_model=Page[DeliveryOut])
def list_deliveries(endpoint_id: int, status: str | None = None, event_type: str | None = None,
                    limit: int | None = Query(None), cursor: str | None = None,
                    uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(READERS)) -> Page[DeliveryOut]:
    items, nxt = service.list_deliveries(uow, endpoint_id, status=status, event_type=event_type,
                                         limit=check_limit(limit, 50, 500), cursor=cursor)
    return Page[DeliveryOut](items=items, next_cursor=nxt)


@router.get("/webhooks/{endpoint_id}/deliveries/{delivery_id}", response_model=DeliveryOut)
def get_delivery(endpoint_id: int, delivery_id: int, uow: UnitOfWork = Depends(get_read_uow),
                 _: Principal = Depends(READERS)) -> DeliveryOut:
    """One delivery with its payload (until purged) and every attempt."""
    return service.get_delivery(uow, endpoint_id, delivery_id)


@router.post("/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay", response_model=DeliveryOut)
def replay_delivery(endpoint_id: int, delivery_id: int, uow: UnitOfWork = Depends(get_uow),
                    _: Principal = Depends(ADMIN)) -> DeliveryOut:
    """Send the stored payload again now; the attempt is added to the log."""
    return service.replay_delivery(uow, endpoint_id, delivery_id)


# -- events ------------------------------------------------------------------------------------------

@router.get("/events", response_model=Page[EventOut])
def list_events(type: str | None = None, aggregate_type: str | None = None, aggregate_id: str | None = None,
                limit: int | None = Query(None), cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                _: Principal = Depends(READERS)) -> Page[EventOut]:
    """The outbox in commit order of its sequence: a pull feed for systems without webhooks."""
    items, nxt = service.list_events(uow, event_type=type, aggregate_type=aggregate_type, aggregate_id=aggregate_id,
                                     limit=check_limit(limit, 100, 1000), cursor=cursor)
    return Page[EventOut](items=items, next_cursor=nxt)


@router.get("/events/catalog")
def event_catalog(_: Principal = Depends(READERS)) -> dict[str, Any]:
    from merx.integration.catalog_doc import load_catalog

    return load_catalog()


@router.get("/events/relay-status")
def relay_status(uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(READERS)) -> dict[str, Any]:
    return service.relay_status(uow)


# -- connectors ---------------------------------------------------------------------------------------

@router.post("/connectors", response_model=ConnectorOut, status_code=201)
def create_connector(body: ConnectorCreate, uow: UnitOfWork = Depends(get_uow),
                     _: Principal = Depends(ADMIN)) -> ConnectorOut:
    """Define a connector: target, format, declarative mapping (fields, value maps, units,
    rules, defaults) and transport (HTTP pull URL + interval, watched folder, export URL)."""
    from merx.integration.connectors import service as connectors

    return connectors.create_connector(uow, body)


@router.get("/connectors", response_model=Page[ConnectorOut])
def list_connectors(limit: int | None = Query(None), cursor: str | None = None,
                    uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(READERS)) -> Page[ConnectorOut]:
    from merx.integration.connectors import service as connectors

    items, nxt = connectors.list_connectors(uow, limit=check_limit(limit, 50, 500), cursor=cursor)
    return Page[ConnectorOut](items=items, next_cursor=nxt)


@router.get("/connectors/{code}", response_model=ConnectorOut)
def get_connector(code: str, uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(READERS)) -> ConnectorOut:
    from merx.integration.connectors import service as connectors

    return connectors.get_connector(uow, code)


@router.patch("/connectors/{code}", response_model=ConnectorOut)
def update_connector(code: str, body: ConnectorUpdate, uow: UnitOfWork = Depends(get_uow),
                     _: Principal = Depends(ADMIN)) -> ConnectorOut:
    from merx.integration.connectors import service as connectors

    return connectors.update_connector(uow, code, body)


@router.delete("/connectors/{code}", status_code=204)
def delete_connector(code: str, uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(ADMIN)) -> Response:
    from merx.integration.connectors import service as connectors

    connectors.delete_connector(uow, code)
    return Response(status_code=204)


@router.post("/connectors/{code}/imports", response_model=ImportJobOut, status_code=201)
def import_file(code: str, request: Request, file: UploadFile = File(...), force: bool = False,
                principal: Principal = Depends(ADMIN)) -> ImportJobOut:
    """Import a CSV/JSON file through the connector. Returns the job with its counts and the
    per-row error report; an identical file is recorded as a duplicate and changes nothing."""
    from merx.integration.connectors import service as connectors

    content = file.file.read()
    return connectors.run_import(request.app.state.db, code, content, filename=file.filename, source="upload",
                                 actor=principal, force=force)


@router.post("/connectors/{code}/pull", response_model=ImportJobOut, status_code=201)
def pull_now(code: str, request: Request, _: Principal = Depends(ADMIN)) -> ImportJobOut:
    """Run the connector's HTTP pull now (the worker also runs it on its interval)."""
    from merx.integration.connectors import service as connectors

    return connectors.pull_once(request.app.state.db, code)


@router.get("/connectors/{code}/imports", response_model=Page[ImportJobOut])
def list_imports(code: str, limit: int | None = Query(None), cursor: str | None = None,
                 uow: UnitOfWork = Depends(get_read_uow), _: Principal = Depends(READERS)) -> Page[ImportJobOut]:
    from merx.integration.connectors import service as connectors

    items, nxt = connectors.list_jobs(uow, code, limit=check_limit(limit, 50, 500), cursor=cursor)
    return Page[ImportJobOut](items=items, next_cursor=nxt)


@router.get("/connectors/{code}/imports/{job_id}", response_model=ImportJobOut)
def get_import(code: str, job_id: int, uow: UnitOfWork = Depends(get_read_uow),
               _: Principal = Depends(READERS)) -> ImportJobOut:
    from merx.integration.connectors import service as connectors

    return connectors.get_job(uow, code, job_id)


@router.get("/connectors/{code}/imports/{job_id}/errors.csv", response_class=PlainTextResponse)
def import_errors_csv(code: str, job_id: int, uow: UnitOfWork = Depends(get_read_uow),
                      _: Principal = Depends(READERS)) -> PlainTextResponse:
    """The per-row error report as CSV (row, field, message, value)."""
    from merx.integration.connectors import service as connectors

    job = connectors.get_job(uow, code, job_id)
    return PlainTextResponse(connectors.error_report_csv(job), media_type="text/csv")
