"""Changing a user's role from the users page (`POST /console/users/{id}/role`, admin only, as
`PATCH /api/v1/users/{id}`). The rules are the accounts use case's: the last active admin
stays admin (409, shown beside the role), seller, customer and dealer users keep their role."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from merx.core import accounts
from merx.core.auth import Role
from merx.core.errors import Problem
from merx.web.common import PageRoute, console_user, csrf_form, problem_sentence, redirect, render, unit_of_work
from merx.web.views.shop_settings import users_context

router = APIRouter(route_class=PageRoute)


@router.post("/console/users/{user_id}/role")
def change_role(request: Request, user_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, Role.admin)
    chosen = str(form.get("role", ""))
    try:
        if chosen not in {r.value for r in Role}:
            raise Problem(f"{chosen!r} is not a role.", status=422, title="Invalid input")
        with unit_of_work(request, me) as uow:
            saved = accounts.update_user(uow, user_id, role=Role(chosen))
    except Problem as e:
        if e.status >= 500 or e.status == 404:
            raise
        with unit_of_work(request, me, readonly=True) as uow:
            ctx = users_context(uow, request)
        ctx["errors"] = {f"role{user_id}": problem_sentence(e)}
        return render(request, "console/users.html", ctx, status=422, principal=me)
    return redirect(f"/console/users#user-{user_id}",
                    flash=f"{saved['name']} is now {saved['role'].replace('_', ' ')}: it applies from their next click.")
