"""Payment routes: providers, payments (capture / void / refund with an Idempotency-Key),
provider webhooks (signed, open to the provider), bank statement reconciliation, and the
test gateway's 3-D Secure challenge page."""

from __future__ import annotations

import html
from typing import Literal

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from merx.core.auth import Principal, Role
from merx.core.pagination import check_limit
from merx.core.schemas import Page
from merx.core.uow import UnitOfWork
from merx.core.web import get_read_uow, get_uow, require
from merx.payments import gateway_pages, reconciliation, service, webhooks
from merx.payments.schemas import (IntentDetailOut, IntentOut, MoneyOperationIn, NotificationOut, ProviderOut,
                                   StatementImportOut, StatementLineOut, WebhookAck)

router = APIRouter(tags=["payments"])
STAFF = (Role.admin, Role.staff)
BACK_OFFICE = (Role.admin, Role.staff, Role.support_agent)
MAX_STATEMENT_BYTES = 10 * 1024 * 1024


@router.get("/payments/providers", response_model=list[ProviderOut])
def providers(request: Request, uow: UnitOfWork = Depends(get_read_uow),
              _: Principal = Depends(require(*BACK_OFFICE))) -> list[ProviderOut]:
    return service.list_providers(uow, set(request.app.state.settings.enabled_payment_providers))


@router.get("/payments", response_model=Page[IntentOut])
def list_payments(status: str | None = Query(None, max_length=24), provider: str | None = Query(None, max_length=32),
                  limit: int | None = None, cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                  _: Principal = Depends(require(*BACK_OFFICE))) -> Page[IntentOut]:
    items, nxt = service.list_intents(uow, status=status, provider=provider, limit=check_limit(limit, 50, 200),
                                      cursor=cursor)
    return Page[IntentOut](items=items, next_cursor=nxt)


@router.get("/payments/notifications", response_model=Page[NotificationOut])
def list_notifications(limit: int | None = None, cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                       _: Principal = Depends(require(*BACK_OFFICE))) -> Page[NotificationOut]:
    items, nxt = service.list_notifications(uow, limit=check_limit(limit, 50, 200), cursor=cursor)
    return Page[NotificationOut](items=items, next_cursor=nxt)


@router.get("/payments/{intent_id}", response_model=IntentDetailOut)
def get_payment(intent_id: int, uow: UnitOfWork = Depends(get_read_uow),
                _: Principal = Depends(require(*BACK_OFFICE))) -> IntentDetailOut:
    return service.get_intent(uow, intent_id)


@router.post("/payments/{intent_id}/capture", response_model=IntentOut)
def capture(intent_id: int, body: MoneyOperationIn | None = None, idempotency_key: str | None = Header(None),
            uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(require(*STAFF))) -> IntentOut:
    """Capture all that is left of the authorisation, or `amount` of it (422 `above_authorized`
    beyond). Requires an Idempotency-Key: the same key never captures twice."""
    return service.capture(uow, intent_id, amount=body.amount if body else None, idempotency_key=idempotency_key)


@router.post("/payments/{intent_id}/refund", response_model=IntentOut)
def refund(intent_id: int, body: MoneyOperationIn | None = None, idempotency_key: str | None = Header(None),
           uow: UnitOfWork = Depends(get_uow), _: Principal = Depends(require(*STAFF))) -> IntentOut:
    """Refund all that was captured, or `amount` of it (422 `above_captured` beyond); the order
    gets an order.refunded event (and invoicing a credit note)."""
    return service.refund(uow, intent_id, amount=body.amount if body else None, idempotency_key=idempotency_key,
                          reason=body.reason if body else None)


@router.post("/payments/{intent_id}/void", response_model=IntentOut)
def void(intent_id: int, idempotency_key: str | None = Header(None), uow: UnitOfWork = Depends(get_uow),
         _: Principal = Depends(require(*STAFF))) -> IntentOut:
    return service.void(uow, intent_id, idempotency_key=idempotency_key)


@router.post("/payments/webhooks/{provider}", response_model=WebhookAck)
async def webhook(provider: str, request: Request, uow: UnitOfWork = Depends(get_uow)) -> WebhookAck:
    """A provider's notification, signed (Standard Webhooks headers for the built-in test
    gateway). 401 on a bad signature, 422 `unknown_transaction` for a payment we never opened;
    a replay answers `duplicate` and a late, out-of-order one `stale`: neither changes anything."""
    from starlette.concurrency import run_in_threadpool

    body = await request.body()
    return await run_in_threadpool(webhooks.receive, uow, provider, dict(request.headers), body)


@router.post("/payments/reconciliation/statements", response_model=StatementImportOut, status_code=201)
def import_statement(file: UploadFile = File(...), uow: UnitOfWork = Depends(get_uow),
                     _: Principal = Depends(require(*STAFF))) -> StatementImportOut:
    """A bank statement (CSV, or ISO 20022 camt.053 XML): lines naming an open bank-transfer
    order's reference with the amount due pay it; the rest wait in the reconciliation queue."""
    data = file.file.read(MAX_STATEMENT_BYTES + 1)
    if len(data) > MAX_STATEMENT_BYTES:
        from merx.core.errors import PayloadTooLarge

        raise PayloadTooLarge("A statement file may be at most 10 MiB")
    return reconciliation.import_statement(uow, file.filename or "statement", data)


@router.get("/payments/reconciliation/lines", response_model=Page[StatementLineOut])
def statement_lines(status: Literal["matched", "queued", "resolved"] | None = None, limit: int | None = None,
                    cursor: str | None = None, uow: UnitOfWork = Depends(get_read_uow),
                    _: Principal = Depends(require(*BACK_OFFICE))) -> Page[StatementLineOut]:
    items, nxt = reconciliation.list_lines(uow, status=status, limit=check_limit(limit, 50, 200), cursor=cursor)
    return Page[StatementLineOut](items=items, next_cursor=nxt)


@router.post("/payments/reconciliation/lines/{line_id}/resolve", response_model=StatementLineOut)
def resolve_line(line_id: int, note: str = Form(..., min_length=1, max_length=200), uow: UnitOfWork = Depends(get_uow),
                 _: Principal = Depends(require(*STAFF))) -> StatementLineOut:
    return reconciliation.resolve(uow, line_id, note=note)


# -- the test gateway's hosted page (outside /api/v1, like a gateway's own site) -------------

gateway = APIRouter(tags=["payments"], include_in_schema=False)


def _safe_return(url: str | None) -> str:
    return url if url and url.startswith("/") and not url.startswith("//") else "/"


@gateway.get("/pay/testcard/challenge", response_class=HTMLResponse)
def challenge_page(reference: str = Query(..., max_length=100), return_to: str | None = Query(None, max_length=300),
                   uow: UnitOfWork = Depends(get_read_uow)) -> HTMLResponse:
    c = gateway_pages.challenge(uow, reference)
    e = html.escape
    back = e(_safe_return(return_to))
    return HTMLResponse(f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>3-D Secure</title><link rel="icon" href="data:,">
<style>body{{font-family:system-ui;max-width:28rem;margin:3rem auto}}button{{font-size:1rem;margin:.3rem}}</style>
</head><body><h1>Test bank: 3-D Secure</h1>
<p>Confirm the payment of <strong>{e(c['amount'])} {e(c['currency'])}</strong> for order {e(c['order_number'])}.</p>
<form method="post" action="/pay/testcard/challenge">
<input type="hidden" name="reference" value="{e(reference)}"><input type="hidden" name="return_to" value="{back}">
<button name="outcome" value="approve">Approve</button><button name="outcome" value="fail">Fail authentication</button>
</form></body></html>""")


@gateway.post("/pay/testcard/challenge")
def answer_challenge(reference: str = Form(..., max_length=100), outcome: Literal["approve", "fail"] = Form(...),
                     return_to: str | None = Form(None, max_length=300),
                     uow: UnitOfWork = Depends(get_uow)) -> Response:
    gateway_pages.answer_challenge(uow, reference, outcome == "approve")
    return RedirectResponse(_safe_return(return_to), status_code=303)


EXTRA_ROUTERS = (gateway,)
