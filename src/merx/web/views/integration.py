"""Console integration: webhook endpoints, their delivery log with replay, and the connectors'
import history with links to each job's error report."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from merx.core.auth import Role
from merx.core.errors import Problem
from merx.integration import public as integration
from merx.web.common import PageRoute, csrf_form, console_user, problem_sentence, redirect, render, unit_of_work
from merx.web.views.helpers import text_or_none

router = APIRouter(route_class=PageRoute)
INTEGRATION_ROLES = (Role.admin,)
IMPORT_HISTORY_ROWS = 20


@router.get("/console/integration")
def integration_page(request: Request, endpoint: int | None = None, status: str | None = None,
                     cursor: str | None = None) -> Response:
    me = console_user(request, *INTEGRATION_ROLES)
    ctx: dict[str, Any] = {"status": status or ""}
    with unit_of_work(request, me, readonly=True) as uow:
        ctx["endpoints"], _ = integration.list_endpoints(uow, limit=100, cursor=None)
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
