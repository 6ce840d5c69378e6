"""A user's own page (`/console/users/{id}`, admin only, as `/api/v1/users`): rename the user
(`PATCH /users/{id}`), reset their password (`POST /users/{id}/password-reset`: a random one,
shown once on the answer and never again, their sessions end) and deactivate or activate them
(the users list's form: an admin cannot deactivate themselves, so an active admin always remains).
A refusal is the same page, 422, with the message beside the field."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from merx.core import accounts
from merx.core.auth import Role
from merx.core.errors import NotFound, Problem
from merx.web.common import PageRoute, console_user, csrf_form, redirect, render, unit_of_work
from merx.web.views.sales_account import field_errors

router = APIRouter(route_class=PageRoute)
MAX_NAME = 200  # as UserPatch


def _user(uow: Any, user_id: int) -> dict[str, Any]:
    found = next((u for u in accounts.list_users(uow) if u["id"] == user_id), None)
    if found is None:
        raise NotFound(f"User {user_id} does not exist")
    return found


def _page(request: Request, me: Any, user_id: int, *, name: str | None = None, errors: dict[str, str] | None = None,
          password: str | None = None, status: int = 200) -> Response:
    with unit_of_work(request, me, readonly=True) as uow:
        user = _user(uow, user_id)
    response = render(request, "console/user.html", {
        "u": user, "name": user["name"] if name is None else name, "errors": errors or {}, "password": password,
        "is_me": me.user_id == user_id}, status=status, principal=me)
    if password:  # the one answer that carries the password is kept by neither browser nor proxy
        response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/console/users/{user_id}")
def user_page(request: Request, user_id: int) -> Response:
    return _page(request, console_user(request, Role.admin), user_id)


@router.post("/console/users/{user_id}/name")
def rename(request: Request, user_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, Role.admin)
    name = str(form.get("name", "")).strip()
    if not name or len(name) > MAX_NAME:
        return _page(request, me, user_id, name=name, status=422,
                     errors={"name": f"Give a name of 1 to {MAX_NAME} characters."})
    with unit_of_work(request, me) as uow:
        accounts.update_user(uow, user_id, name=name)
    return redirect(f"/console/users/{user_id}", flash=f"Renamed to {name}.")


@router.post("/console/users/{user_id}/password-reset")
def reset_password(request: Request, user_id: int, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request, Role.admin)
    try:
        with unit_of_work(request, me) as uow:
            password = accounts.reset_password(uow, user_id)
    except Problem as e:
        if e.status >= 500 or e.status == 404:
            raise
        errors = {("password" if k in ("user_id", "email", "_form") else k): v for k, v in field_errors(e).items()}
        return _page(request, me, user_id, errors=errors, status=422)
    return _page(request, me, user_id, password=password)
