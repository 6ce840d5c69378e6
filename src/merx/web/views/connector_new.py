"""Creating and deleting a connector from the console (admin only, as `POST /api/v1/connectors`
and `DELETE /api/v1/connectors/{code}`).

`/console/new-connector` takes the code, name, direction, target, format, the declarative
mapping as JSON (prefilled with a stock-levels example) and the transport as JSON (pull URL +
interval, watched folder, export URL; credentials are sealed by the service as in the API).
The connector's own checks name the field (`mapping.fields.quantity.type`), shown beside the
box, 422, with what was typed kept. Deleting takes a confirmation tick: the connector's import
jobs and record keys go with it (the service's rule)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from merx.core.auth import Role
from merx.core.errors import Problem
from merx.integration import public as integration
from merx.web.common import PageRoute, console_user, csrf_form, redirect, render, unit_of_work
from merx.web.views.sales_account import field_errors

router = APIRouter(route_class=PageRoute)
ADMIN = (Role.admin,)
TARGETS = ("stock_levels", "prices", "products", "order_status", "orders", "offers", "costs", "dealer_reports",
           "sales_lines")
EXAMPLE_MAPPING = {"fields": {"sku": {"source": "sku", "required": True}, "location": {"source": "location"},
                              "quantity": {"source": "quantity", "type": "integer", "min": 0}}}
FIELDS = ("code", "name", "direction", "target", "format", "mapping", "transport")


def _json(text: str, field: str, errors: dict[str, str]) -> Any:
    try:
        value = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as e:
        errors[field] = f"is not JSON: {e.msg} (line {e.lineno}, column {e.colno})"
        return None
    if not isinstance(value, dict):
        errors[field] = "must be a JSON object ({…})"
    return value


def _page(request: Request, me: Any, *, values: dict[str, str] | None = None, active: bool = True,
          errors: dict[str, str] | None = None, status: int = 200) -> Response:
    shown = values or {"direction": "inbound", "target": "stock_levels", "format": "csv",
                       "mapping": json.dumps(EXAMPLE_MAPPING, indent=2), "transport": "{}"}
    return render(request, "console/connector_new.html", {"values": shown, "active": active, "targets": TARGETS,
                                                          "errors": errors or {}}, status=status, principal=me)


@router.get("/console/new-connector")
def new_connector_page(request: Request) -> Response:
    return _page(request, console_user(request, *ADMIN))


@router.post("/console/new-connector")
def create_connector(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *ADMIN)
    values = {k: str(form.get(k, "")) for k in FIELDS}
    active = form.get("active") == "on"
    errors: dict[str, str] = {}
    mapping, transport = _json(values["mapping"], "mapping", errors), _json(values["transport"], "transport", errors)
    if errors:
        return _page(request, me, values=values, active=active, errors=errors, status=422)
    try:
        data = integration.ConnectorCreate(
            code=values["code"].strip(), name=values["name"].strip(), direction=values["direction"],
            target=values["target"], format=values["format"], mapping=mapping, transport=transport, active=active)
        with unit_of_work(request, me) as uow:
            created = integration.create_connector(uow, data)
    except (ValidationError, Problem) as e:
        if isinstance(e, Problem) and e.status >= 500:
            raise
        return _page(request, me, values=values, active=active, errors=field_errors(e), status=422)
    return redirect(f"/console/connectors/{created.code}", flash=f"Connector {created.code} created.")


@router.post("/console/connectors/{code}/delete")
def delete_connector(request: Request, code: str, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *ADMIN)
    if form.get("confirm") != "yes":
        return redirect(f"/console/connectors/{code}#delete-connector",
                        flash="Not deleted: tick the box to confirm the deletion.")
    with unit_of_work(request, me) as uow:
        integration.delete_connector(uow, code)
    return redirect("/console/connectors", flash=f"Connector {code} deleted, with its import history.")
