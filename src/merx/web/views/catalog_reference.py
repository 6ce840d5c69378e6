"""Console catalog reference data (issue #20): categories (searchable, paged; create; rename,
move in the tree, attribute set, names per language) and attributes (searchable, paged; create;
rename, a number's unit, more options for an enum). Admin and staff, as the catalog API's
`CATALOG_ADMINS`. A refused form comes back as the same page with the message beside the field
(422)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import ValidationError

from merx.catalog import public as catalog
from merx.core.auth import Role
from merx.core.errors import NotFound, Problem
from merx.web.common import PageRoute, console_user, csrf_form, redirect, render, unit_of_work
from merx.web.views.helpers import text_or_none
from merx.web.views.listing import list_query, whole_list_page
from merx.web.views.sales_account import field_errors

router = APIRouter(route_class=PageRoute)
CATALOG_ROLES = (Role.admin, Role.staff)
PAGE = 50
ATTRIBUTE_TYPES = ("text", "number", "enum", "bool")


def _refused(e: Exception) -> bool:
    return isinstance(e, ValidationError) or (isinstance(e, Problem) and e.status < 500 and e.status != 404)


def _options(text: Any) -> list[str]:
    return [o.strip() for o in str(text or "").split(",") if o.strip()]


# -- categories --------------------------------------------------------------------------------------

def _categories_page(request: Request, me: Any, *, values: dict[str, Any] | None = None,
                     errors: dict[str, str] | None = None, status: int = 200) -> Response:
    lq = list_query(request, path="/console/categories")
    with unit_of_work(request, me, readonly=True) as uow:
        everything = catalog.list_categories(uow)
        sets = [a.code for a in catalog.list_attribute_sets(uow)]
    rows, next_cursor = whole_list_page(everything, lq, lambda c: (c.code, c.name, *c.translations.values()),
                                        key=lambda c: c.id, limit=PAGE)
    return render(request, "console/catalog_categories.html", {
        "rows": rows, "next_cursor": next_cursor, "lq": lq, "all": everything,
        "sets": sets, "values": values or {}, "errors": errors or {}}, status=status, principal=me)


@router.get("/console/categories")
def categories_page(request: Request) -> Response:
    return _categories_page(request, console_user(request, *CATALOG_ROLES))


@router.post("/console/categories")
def create_category(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *CATALOG_ROLES)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        body = catalog.CategoryCreate(code=values.get("code", "").strip(), name=values.get("name", "").strip(),
                                      parent=text_or_none(values.get("parent")),
                                      attribute_set=text_or_none(values.get("attribute_set")))
        with unit_of_work(request, me) as uow:
            made = catalog.create_category(uow, body)
    except (ValidationError, Problem) as e:
        if not _refused(e):
            raise
        return _categories_page(request, me, values=values, errors=field_errors(e), status=422)
    return redirect(f"/console/categories/{made.code}", flash=f"Category {made.name} created.")


def _category_page(request: Request, me: Any, code: str, *, values: dict[str, Any] | None = None,
                   errors: dict[str, str] | None = None, status: int = 200) -> Response:
    settings = request.app.state.settings
    with unit_of_work(request, me, readonly=True) as uow:
        everything = catalog.list_categories(uow)
        sets = [a.code for a in catalog.list_attribute_sets(uow)]
    cat = next((c for c in everything if c.code == code), None)
    if cat is None:
        raise NotFound(f"No category with code {code!r}")
    others = [c for c in everything if c.code != code and code not in c.path]  # not itself nor under it
    locales = [loc for loc in settings.locales if loc != settings.default_locale]
    shown = {"name": cat.name, "parent": cat.parent or "", "attribute_set": cat.attribute_set or "",
             **{f"t.{loc}": cat.translations.get(loc, "") for loc in locales}}
    return render(request, "console/catalog_category.html", {
        "cat": cat, "parents": others, "sets": sets, "locales": locales, "default_locale": settings.default_locale,
        "values": shown | (values or {}), "errors": errors or {}}, status=status, principal=me)


@router.get("/console/categories/{category}")
def category_page(request: Request, category: str) -> Response:
    return _category_page(request, console_user(request, *CATALOG_ROLES), category)


@router.post("/console/categories/{category}")
def save_category(request: Request, category: str, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *CATALOG_ROLES)
    settings = request.app.state.settings
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    translations = {loc: values[f"t.{loc}"].strip() for loc in settings.locales
                    if loc != settings.default_locale and values.get(f"t.{loc}", "").strip()}
    try:
        body = catalog.CategoryPatch(name=values.get("name", "").strip(), parent=text_or_none(values.get("parent")),
                                     attribute_set=text_or_none(values.get("attribute_set")), translations=translations)
        with unit_of_work(request, me) as uow:
            catalog.update_category(uow, category, body)
    except (ValidationError, Problem) as e:
        if not _refused(e):
            raise
        errors = {("t." + k.split(".", 1)[1] if k.startswith("translations.") else k): v
                  for k, v in field_errors(e).items()}
        if isinstance(e, Problem):  # a translation's locale is in the problem's field path
            errors |= {"t." + fe.field.split(".", 1)[1]: fe.message for fe in e.errors or []
                       if fe.field.startswith("translations.")}
        return _category_page(request, me, category, values=values, errors=errors, status=422)
    return redirect(f"/console/categories/{category}", flash="Category saved.")


# -- attributes --------------------------------------------------------------------------------------

def _attributes_page(request: Request, me: Any, *, values: dict[str, Any] | None = None,
                     errors: dict[str, str] | None = None, status: int = 200) -> Response:
    lq = list_query(request, path="/console/attributes")
    with unit_of_work(request, me, readonly=True) as uow:
        everything = catalog.list_attributes(uow)
    rows, next_cursor = whole_list_page(everything, lq, lambda a: (a.code, a.name, *(a.options or [])),
                                        key=lambda a: a.id, limit=PAGE)
    return render(request, "console/catalog_attributes.html", {
        "rows": rows, "next_cursor": next_cursor, "lq": lq, "types": ATTRIBUTE_TYPES,
        "values": values or {}, "errors": errors or {}}, status=status, principal=me)


@router.get("/console/attributes")
def attributes_page(request: Request) -> Response:
    return _attributes_page(request, console_user(request, *CATALOG_ROLES))


@router.post("/console/attributes")
def create_attribute(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *CATALOG_ROLES)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    kind = values.get("type", "")
    try:
        body = catalog.AttributeCreate(code=values.get("code", "").strip(), name=values.get("name", "").strip(),
                                       type=kind, unit=text_or_none(values.get("unit")),
                                       options=_options(values.get("options")) if kind == "enum" else None,
                                       localizable=values.get("localizable") == "on")
        with unit_of_work(request, me) as uow:
            made = catalog.create_attribute(uow, body)
    except (ValidationError, Problem) as e:
        if not _refused(e):
            raise
        return _attributes_page(request, me, values=values, errors=field_errors(e), status=422)
    return redirect(f"/console/attributes/{made.code}", flash=f"Attribute {made.name} created.")


def _attribute_page(request: Request, me: Any, code: str, *, values: dict[str, Any] | None = None,
                    errors: dict[str, str] | None = None, status: int = 200) -> Response:
    with unit_of_work(request, me, readonly=True) as uow:
        attr = next((a for a in catalog.list_attributes(uow) if a.code == code), None)
    if attr is None:
        raise NotFound(f"No attribute with code {code!r}")
    shown = {"name": attr.name, "unit": attr.unit or "", "options": ", ".join(attr.options or [])}
    return render(request, "console/catalog_attribute.html", {
        "attr": attr, "values": shown | (values or {}), "errors": errors or {}}, status=status, principal=me)


@router.get("/console/attributes/{attribute}")
def attribute_page(request: Request, attribute: str) -> Response:
    return _attribute_page(request, console_user(request, *CATALOG_ROLES), attribute)


@router.post("/console/attributes/{attribute}")
def save_attribute(request: Request, attribute: str, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *CATALOG_ROLES)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    fields: dict[str, Any] = {"name": values.get("name", "").strip()}
    if "unit" in values:
        fields["unit"] = text_or_none(values["unit"])
    if "options" in values:
        fields["options"] = _options(values["options"])
    try:
        body = catalog.AttributePatch(**fields)
        with unit_of_work(request, me) as uow:
            catalog.update_attribute(uow, attribute, body)
    except (ValidationError, Problem) as e:
        if not _refused(e):
            raise
        return _attribute_page(request, me, attribute, values=values, errors=field_errors(e), status=422)
    return redirect(f"/console/attributes/{attribute}", flash="Attribute saved.")
