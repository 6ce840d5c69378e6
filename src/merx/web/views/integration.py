"""Console integration: webhook endpoints, their delivery log with replay, and the connectors'
import history with links to each job's error report."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from merx.core.auth import Role
from merx.core.errors import Problem
from merx.integration import public as integration
from merx.web.common import PageRoute, csrf_form, console_user, problem_sentence, redirect, render, unit_of_work
from merx.web.views.helpers import text_or_none, validation_sentence
from merx.web.views.listing import list_query

router = APIRouter(route_class=PageRoute)
INTEGRATION_ROLES = (Role.admin,)
IMPORT_HISTORY_ROWS = 20
ENDPOINTS_PAGE = 50


@router.get("/console/integration")
def integration_page(request: Request, endpoint: int | None = None, status: str | None = None,
                     cursor: str | None = None) -> Response:
    me = console_user(request, *INTEGRATION_ROLES)
    # the endpoints page with `endpoints_cursor`: `cursor` pages the chosen endpoint's deliveries
    lq = list_query(request, "endpoint", "status", cursor_param="endpoints_cursor")
    ctx: dict[str, Any] = {"status": status or "", "lq": lq}
    with unit_of_work(request, me, readonly=True) as uow:
        ctx["endpoints"], ctx["endpoints_next"] = integration.list_endpoints(uow, limit=ENDPOINTS_PAGE,
                                                                             cursor=lq.cursor, q=lq.q)
        chosen = endpoint or (ctx["endpoints"][0].id if ctx["endpoints"] else None)
        ctx["chosen"] = chosen
        if chosen is not None:
            ctx["deliveries"], ctx["next_cursor"] = integration.list_deliveries(
                uow, chosen, status=text_or_none(status), event_type=None, limit=50, cursor=cursor)
        ctx["relay"] = integration.relay_status(uow)
        ctx["imports"] = integration.recent_import_jobs(uow, limit=IMPORT_HISTORY_ROWS)
    return render(request, "console/integration.html", ctx, principal=me)


@router.post("/console/integration/{endpoint_id}/deliveries/{delivery_id}/replay")
def replay(request: Request, endpoint_id: int, delivery_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *INTEGRATION_ROLES)
    back = f"/console/integration?endpoint={endpoint_id}"

    def run() -> Any:
        with unit_of_work(request, me) as uow:
            return integration.replay_delivery(uow, endpoint_id, delivery_id)

    try:
        out = run()
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect(back, flash=f"Not replayed: {problem_sentence(e)}")
    return redirect(back, flash=f"Delivery {delivery_id} replayed: {out.status}"
                                + (f" (HTTP {out.last_status_code})" if out.last_status_code else "") + ".")


@router.post("/console/integration/webhooks")
def create_webhook(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """The signing secret is shown once, on the page this answers with; only its encrypted
    form is stored."""
    me = console_user(request, *INTEGRATION_ROLES)
    events = [e.strip() for e in str(form.get("events", "")).replace(",", " ").split() if e.strip()]
    try:
        with unit_of_work(request, me) as uow:
            created = integration.create_endpoint(uow, integration.WebhookCreate(
                url=str(form.get("url", "")).strip(), events=events, description=text_or_none(form.get("description"))))
    except ValidationError as e:
        return redirect("/console/integration", flash=f"Not created: {validation_sentence(e)}")
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect("/console/integration", flash=f"Not created: {problem_sentence(e)}")
    return redirect(f"/console/integration?endpoint={created.id}",
                    flash=f"Endpoint {created.id} created. Its signing secret (shown once): {created.secret}")


@router.post("/console/integration/webhooks/{endpoint_id}/test")
def test_webhook(request: Request, endpoint_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *INTEGRATION_ROLES)
    back = f"/console/integration?endpoint={endpoint_id}"
    try:
        with unit_of_work(request, me) as uow:
            result = integration.send_test_to_endpoint(uow, endpoint_id)
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect(back, flash=f"Test not sent: {problem_sentence(e)}")
    if result.ok:
        return redirect(back, flash=f"Test delivered: HTTP {result.status_code} in {result.latency_ms} ms.")
    return redirect(back, flash=f"Test failed: {result.error or f'HTTP {result.status_code}'}.")


@router.post("/console/integration/webhooks/{endpoint_id}/active")
def set_webhook_active(request: Request, endpoint_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *INTEGRATION_ROLES)
    active = form.get("active") == "yes"
    back = f"/console/integration?endpoint={endpoint_id}"
    try:
        with unit_of_work(request, me) as uow:
            integration.update_endpoint(uow, endpoint_id, integration.WebhookUpdate(active=active))
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect(back, flash=f"Not changed: {problem_sentence(e)}")
    return redirect(back, flash="Endpoint enabled: deliveries resume where they stopped." if active
                    else "Endpoint disabled: events wait for it until it is enabled again.")
