"""Console integration: webhook endpoints, their delivery log with replay, and imports with
their error reports (when the owning contexts provide them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from merx.core.auth import Role
from merx.core.errors import Problem
from merx.web.common import (PageRoute, csrf_form, console_user, function, problem_sentence, redirect, render,
                             service, unit_of_work)
from merx.web.views.helpers import text_or_none

router = APIRouter(route_class=PageRoute)
INTEGRATION_ROLES = (Role.admin,)


@router.get("/console/integration")
def integration_page(request: Request, endpoint: int | None = None, status: str | None = None,
                     cursor: str | None = None) -> Response:
    me = console_user(request, *INTEGRATION_ROLES)
    integration = service("integration")
    ctx: dict[str, Any] = {"available": integration is not None and hasattr(integration, "list_endpoints"),
                           "status": status or ""}
    imports_fn = function("integration", "list_import_jobs") or function("catalog", "list_import_jobs")
    with unit_of_work(request, me, readonly=True) as uow:
        if ctx["available"]:
            ctx["endpoints"], _ = integration.list_endpoints(uow, limit=100, cursor=None)
            chosen = endpoint or (ctx["endpoints"][0].id if ctx["endpoints"] else None)
            ctx["chosen"] = chosen
            if chosen is not None:
                ctx["deliveries"], ctx["next_cursor"] = integration.list_deliveries(
                    uow, chosen, status=text_or_none(status), event_type=None, limit=50, cursor=cursor)
            if hasattr(integration, "relay_status"):
                ctx["relay"] = integration.relay_status(uow)
        ctx["imports"] = list(imports_fn(uow)) if imports_fn is not None else None
    return render(request, "console/integration.html", ctx, principal=me)


@router.post("/console/integration/{endpoint_id}/deliveries/{delivery_id}/replay")
def replay(request: Request, endpoint_id: int, delivery_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *INTEGRATION_ROLES)
    back = f"/console/integration?endpoint={endpoint_id}"

    def run() -> Any:
        with unit_of_work(request, me) as uow:
            return service("integration").replay_delivery(uow, endpoint_id, delivery_id)

    try:
        out = run()
    except Problem as e:
        if e.status >= 500:
            raise
        return redirect(back, flash=f"Not replayed: {problem_sentence(e)}")
    return redirect(back, flash=f"Delivery {delivery_id} replayed: {out.status}"
                                + (f" (HTTP {out.last_status_code})" if out.last_status_code else "") + ".")
