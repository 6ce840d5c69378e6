"""One webhook delivery on the console (`/console/integration/webhooks/{id}/deliveries/{did}`,
admin only, as `GET /api/v1/webhooks/{id}/deliveries/{did}`): the payload that was signed and
sent (until the retention purge), its status and last HTTP answer, and every attempt with its
trigger, latency, outcome, error and the start of the receiver's answer. Resend posts the
stored payload again now (`.../replay`: same webhook-id, fresh signature) and comes back here
with the new attempt in the log; a purged payload is said beside the button (409)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from merx.core.auth import Role
from merx.core.errors import Problem
from merx.integration import public as integration
from merx.web.common import PageRoute, console_user, csrf_form, problem_sentence, redirect, render, unit_of_work

router = APIRouter(route_class=PageRoute)
ADMIN = (Role.admin,)


def _page(request: Request, me: Any, endpoint_id: int, delivery_id: int, *, error: str | None = None,
          status: int = 200) -> Response:
    with unit_of_work(request, me, readonly=True) as uow:
        endpoint = integration.get_endpoint(uow, endpoint_id)
        delivery = integration.get_delivery(uow, endpoint_id, delivery_id)
    payload = json.dumps(delivery.payload, indent=2, ensure_ascii=False) if delivery.payload is not None else None
    return render(request, "console/webhook_delivery.html", {"e": endpoint, "d": delivery, "payload": payload,
                                                             "error": error}, status=status, principal=me)


@router.get("/console/integration/webhooks/{endpoint_id}/deliveries/{delivery_id}")
def delivery_page(request: Request, endpoint_id: int, delivery_id: int) -> Response:
    return _page(request, console_user(request, *ADMIN), endpoint_id, delivery_id)


@router.post("/console/integration/webhooks/{endpoint_id}/deliveries/{delivery_id}/resend")
def resend(request: Request, endpoint_id: int, delivery_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *ADMIN)
    try:
        with unit_of_work(request, me) as uow:
            out = integration.replay_delivery(uow, endpoint_id, delivery_id)
    except Problem as e:
        if e.status >= 500 or e.status == 404:
            raise
        return _page(request, me, endpoint_id, delivery_id, error=problem_sentence(e), status=e.status)
    answer = f"HTTP {out.last_status_code}" if out.last_status_code else out.attempt_log[-1].outcome
    return redirect(f"/console/integration/webhooks/{endpoint_id}/deliveries/{delivery_id}",
                    flash=f"Sent again: {answer}; the delivery is {out.status}.")
