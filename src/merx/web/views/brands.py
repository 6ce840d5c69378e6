"""Console brands: the brands with their aliases (the other names shoppers type: search finds
a brand's products by them), and a form per brand to rename it or change its aliases. Catalog
admins (admin, staff) edit, as `PATCH /api/v1/brands/{code}` allows; a seller, who sells under
the operator's brands, sees them without the forms. Saving emits `brand.updated`, which has
search re-index the brand's products."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from merx.catalog import public as catalog
from merx.core.auth import Role
from merx.web.common import PageRoute, console_user, csrf_form, redirect, render, unit_of_work
from merx.web.views.helpers import form_refusal
from merx.web.views.listing import list_query, whole_list_page

router = APIRouter(route_class=PageRoute)
VIEW_ROLES = (Role.admin, Role.staff, Role.seller)  # those who see the catalog pages
EDIT_ROLES = (Role.admin, Role.staff)  # the API's catalog admins
PAGE_SIZE = 50


def _aliases(text: str) -> list[str]:
    """One alias a line (commas separate too: "Самсунг, 三星" typed on one line is two)."""
    return [part.strip() for line in (text or "").splitlines() for part in line.split(",") if part.strip()]


def _page(request: Request, me: Any, *, error: str | None = None, failed: dict[str, Any] | None = None,
          status: int = 200) -> Response:
    lq = list_query(request, path="/console/brands")
    with unit_of_work(request, me, readonly=True) as uow:
        brands, next_cursor = whole_list_page(catalog.list_brands(uow), lq, lambda b: (b.code, b.name, *b.aliases),
                                              key=lambda b: b.id, limit=PAGE_SIZE)
    ctx = {"brands": brands, "lq": lq, "next_cursor": next_cursor, "can_edit": me.role in EDIT_ROLES, "error": error, "failed": failed or {}}
    return render(request, "console/brands.html", ctx, status=status, principal=me)


@router.get("/console/brands")
def brands_page(request: Request) -> Response:
    me = console_user(request, *VIEW_ROLES)
    return _page(request, me)


@router.post("/console/brands/{code}")
def save_brand(request: Request, code: str, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, *EDIT_ROLES)
    with unit_of_work(request, me) as uow:
        error = form_refusal(uow, lambda: catalog.update_brand(uow, code, catalog.BrandPatch(
            name=str(form.get("name") or "").strip() or None, aliases=_aliases(str(form.get("aliases") or "")))))
    if error is None:
        return redirect("/console/brands", flash=f"Brand {code} saved.")
    return _page(request, me, error=error, status=422,
                 failed={"code": code, "name": form.get("name") or "", "aliases": form.get("aliases") or ""})
