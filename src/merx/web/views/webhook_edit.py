"""A webhook endpoint's own page (`/console/integration/webhooks/{id}`, admin only, as the API):
change its URL, events and description (`PATCH /api/v1/webhooks/{id}`), give it a new signing
secret (`POST .../rotate-secret`: shown once, on the answer to that form, never stored in
clear), or delete it (`DELETE`: its delivery log goes with it). A refused edit comes back with
the message beside the field (422)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from merx.core.auth import Role
from merx.core.errors import Problem
from merx.integration import public as integration
from merx.web.common import PageRoute, console_user, csrf_form, problem_sentence, redirect, render, unit_of_work
from merx.web.views.helpers import text_or_none
from merx.web.views.sales_account import field_errors

router = APIRouter(route_class=PageRoute)
ADMIN = (Role.admin,)
DELIVERIES_SHOWN = 20  # newest first; each opens its payload and attempt log (webhook_deliveries.py)


def _events(text: Any) -> list[str]:
    return [e.strip() for e in str(text or "").replace(",", " ").split() if e.strip()]


def _page(request: Request, me: Any, endpoint_id: int, *, values: dict[str, Any] | None = None,
          errors: dict[str, str] | None = None, secret: str | None = None, status: int = 200) -> Response:
    cursor = request.query_params.get("deliveries") or None
    with unit_of_work(request, me, readonly=True) as uow:
        endpoint = integration.get_endpoint(uow, endpoint_id)
        deliveries, older = integration.list_deliveries(uow, endpoint_id, status=None, event_type=None,
                                                        limit=DELIVERIES_SHOWN, cursor=cursor, newest_first=True)
    shown = values if values is not None else {"url": endpoint.url, "events": " ".join(endpoint.events),
                                               "description": endpoint.description or ""}
    response = render(request, "console/webhook.html", {"e": endpoint, "values": shown, "errors": errors or {},
                                                        "secret": secret, "deliveries": deliveries,
                                                        "older_deliveries": older}, status=status, principal=me)
    if secret:  # the one page that carries the secret is not kept by the browser or a proxy
        response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/console/integration/webhooks/{endpoint_id}")
def webhook_page(request: Request, endpoint_id: int) -> Response:
    return _page(request, console_user(request, *ADMIN), endpoint_id)


@router.post("/console/integration/webhooks/{endpoint_id}")
def edit_webhook(request: Request, endpoint_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *ADMIN)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        data = integration.WebhookUpdate(url=str(values.get("url", "")).strip(), events=_events(values.get("events")),
                                         description=text_or_none(values.get("description")))
        with unit_of_work(request, me) as uow:
            integration.update_endpoint(uow, endpoint_id, data)
    except (ValidationError, Problem) as e:
        if isinstance(e, Problem) and (e.status >= 500 or e.status == 404):
            raise
        return _page(request, me, endpoint_id, values=values, errors=field_errors(e), status=422)
    return redirect(f"/console/integration/webhooks/{endpoint_id}", flash="Endpoint saved: the next deliveries use it.")


@router.post("/console/integration/webhooks/{endpoint_id}/rotate-secret")
def new_secret(request: Request, endpoint_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *ADMIN)
    with unit_of_work(request, me) as uow:
        rotated = integration.rotate_secret(uow, endpoint_id)
    return _page(request, me, endpoint_id, secret=rotated.secret)


@router.post("/console/integration/webhooks/{endpoint_id}/delete")
def delete_webhook(request: Request, endpoint_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *ADMIN)
    if form.get("confirm") != "yes":
        return _page(request, me, endpoint_id, errors={"confirm": "Tick the box to confirm the deletion."}, status=422)
    try:
        with unit_of_work(request, me) as uow:
            endpoint = integration.get_endpoint(uow, endpoint_id)
            integration.delete_endpoint(uow, endpoint_id)
    except Problem as e:
        if e.status >= 500 or e.status == 404:
            raise
        return redirect(f"/console/integration/webhooks/{endpoint_id}", flash=f"Not deleted: {problem_sentence(e)}")
    return redirect("/console/integration", flash=f"Endpoint {endpoint_id} ({endpoint.url}) deleted: no more deliveries.")
