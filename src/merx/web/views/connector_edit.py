"""Editing a connector from the console (`/console/connectors/{code}/edit`, admin only, as
`PATCH /api/v1/connectors/{code}`): its name and whether it runs, each mapped field's source
column, default and value map (what changes when the ERP renames a column or adds a site code),
and the whole mapping as JSON for the rest (transforms, units, rules, line classes). The mapping
is checked by the connector's own rules; a refusal is shown beside the field it names (422) and
nothing is saved. The transport (addresses, credentials) stays an API edit: its secrets are
write-only."""

from __future__ import annotations

import copy
import json
import re
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


def map_text(value_map: Any) -> str:
    return ", ".join(f"{k}={v}" for k, v in (value_map or {}).items()) if isinstance(value_map, dict) else ""


def parse_map(text: str) -> dict[str, str]:
    """ "MAIN=WH1, NORTH=WH2" -> {"MAIN": "WH1", "NORTH": "WH2"}; a pair without "=" is refused."""
    out: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"{part!r} is not a pair like MAIN=WH1")
        out[key.strip()] = value.strip()
    return out


def field_values(mapping: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, spec in (mapping.get("fields") or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        out[f"source_{name}"] = str(spec.get("source", ""))
        out[f"default_{name}"] = "" if spec.get("default") is None else str(spec.get("default"))
        out[f"map_{name}"] = map_text(spec.get("value_map"))
    return out


def _errors(e: ValidationError | Problem, json_form: bool) -> dict[str, str]:
    """`mapping.fields.quantity.type` beside the quantity row (or the JSON box); the rest above."""
    if isinstance(e, ValidationError):
        return field_errors(e)
    out: dict[str, str] = {}
    for fe in e.errors or []:
        m = re.match(r"mapping\.fields\.([^.\[]+)", fe.field)
        key = "mapping_json" if json_form else (f"field_{m.group(1)}" if m else "_form")
        out.setdefault(key, f"{fe.field}: {fe.message}")
    return out or {"_form": e.detail or e.title}


def _page(request: Request, me: Any, code: str, *, values: dict[str, Any] | None = None,
          errors: dict[str, str] | None = None, status: int = 200) -> Response:
    with unit_of_work(request, me, readonly=True) as uow:
        c = integration.get_connector(uow, code)
    shown = {"name": c.name, "active": "on" if c.active else "", **field_values(c.mapping),
             "mapping_json": json.dumps(c.mapping, indent=2, ensure_ascii=False)}
    shown.update(values or {})
    return render(request, "console/connector_edit.html", {"c": c, "values": shown, "errors": errors or {},
                                                           "fields": list((c.mapping.get("fields") or {}))},
                  status=status, principal=me)


class FieldInputError(ValueError):
    """Input the form could not turn into a mapping, with the form field to show it beside."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _save(request: Request, me: Any, code: str, values: dict[str, Any], build: Any, json_form: bool) -> Response:
    try:
        with unit_of_work(request, me) as uow:
            c = integration.get_connector(uow, code)
            integration.update_connector(uow, code, integration.ConnectorUpdate.model_validate(build(c)))
    except FieldInputError as e:  # a value map or JSON that does not parse
        return _page(request, me, code, values=values, errors={e.field: str(e)}, status=422)
    except ValidationError as e:
        return _page(request, me, code, values=values, errors=_errors(e, json_form), status=422)
    except Problem as e:
        if e.status >= 500 or e.status == 404:
            raise
        return _page(request, me, code, values=values, errors=_errors(e, json_form), status=422)
    return redirect(f"/console/connectors/{code}", flash="Connector saved: the next run uses it.")


@router.get("/console/connectors/{code}/edit")
def connector_edit_page(request: Request, code: str) -> Response:
    return _page(request, console_user(request, *ADMIN), code)


@router.post("/console/connectors/{code}/edit")
def save_connector(request: Request, code: str, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """Name, active and the fields' columns, defaults and value maps; other options are kept."""
    me = console_user(request, *ADMIN)
    values = {k: v for k, v in form.items() if isinstance(v, str)}

    def build(c: Any) -> dict[str, Any]:
        mapping = copy.deepcopy(c.mapping)
        before = field_values(c.mapping)
        for name, spec in (mapping.get("fields") or {}).items():
            if not isinstance(spec, dict):
                continue
            source = values.get(f"source_{name}", "").strip()
            if not source:
                raise FieldInputError(f"field_{name}", "Give the column (or JSON path) this field is read from.")
            spec["source"] = source
            # only what was changed is rewritten: a typed default or map (a number, a flag) stays as it was
            if values.get(f"default_{name}", "") != before[f"default_{name}"]:
                default = values.get(f"default_{name}", "").strip()
                spec.pop("default", None) if not default else spec.update(default=default)
            if values.get(f"map_{name}", "") != before[f"map_{name}"]:
                try:
                    value_map = parse_map(values.get(f"map_{name}", ""))
                except ValueError as e:
                    raise FieldInputError(f"field_{name}", str(e)) from None
                spec.pop("value_map", None) if not value_map else spec.update(value_map=value_map)
        return {"name": values.get("name", "").strip(), "active": values.get("active") == "on", "mapping": mapping}

    return _save(request, me, code, values, build, json_form=False)


@router.post("/console/connectors/{code}/mapping")
def save_mapping_json(request: Request, code: str, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    """The whole mapping as JSON (the API's `mapping`), for the options the field rows do not show."""
    me = console_user(request, *ADMIN)
    values = {"mapping_json": str(form.get("mapping_json", ""))}

    def build(c: Any) -> dict[str, Any]:
        try:
            mapping = json.loads(values["mapping_json"])
        except json.JSONDecodeError as e:
            raise FieldInputError("mapping_json", f"This is not JSON: {e.msg} (line {e.lineno}, column {e.colno}).") \
                from None
        if not isinstance(mapping, dict):
            raise FieldInputError("mapping_json", "The mapping is a JSON object: {\"fields\": {...}}.")
        return {"mapping": mapping}

    return _save(request, me, code, values, build, json_form=True)
