"""Console sign-in, sign-out and password change."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from merx.core import accounts
from merx.core.errors import ValidationProblem
from merx.core.ratelimit import RateLimited, check_rate
from merx.web.auth import session
from merx.web.common import (PageRoute, console_user, csrf_form, current_principal, problem_sentence, redirect,
                              render, unit_of_work)

router = APIRouter(route_class=PageRoute)


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an open redirect would let a phishing link borrow our login page.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/console"
    return target


@router.get("/console/login")
def login_page(request: Request, next: str | None = None) -> Response:
    me = current_principal(request)
    if not me.is_anonymous and request.cookies.get(session.SESSION_COOKIE):
        return redirect(_safe_next(next))
    return render(request, "console/login.html", {"next": _safe_next(next)})


@router.post("/console/login")
def login(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    email = str(form.get("email", "")).strip().lower()
    password = str(form.get("password", ""))
    target = _safe_next(str(form.get("next") or ""))
    try:
        check_rate(request, "login")  # per client address; the per-account lockout is in accounts
    except RateLimited as limited:
        page = render(request, "console/login.html", {"error": f"Too many sign-in attempts; try again in "
                                                               f"{limited.retry_after} s.", "email": email,
                                                      "next": target}, status=429)
        page.headers["Retry-After"] = str(limited.retry_after)
        return page
    result = accounts.authenticate(request.app.state.db, request.app.state.settings, email, password)
    if result.user_id is None:
        # One answer for an unknown email and a wrong password; a locked account says so
        # (unknown emails lock the same way, so that reveals nothing either).
        if result.lockout is not None:
            minutes = -(-result.lockout.retry_after_seconds() // 60)
            response = render(request, "console/login.html", {
                "error": f"Too many failed sign-ins for this account. Try again in {minutes} minute"
                         f"{'s' if minutes != 1 else ''}.", "email": email, "next": target}, status=429)
            response.headers["Retry-After"] = str(result.lockout.retry_after_seconds())
            return response
        return render(request, "console/login.html", {"error": "The email or password is not right.",
                                                      "email": email, "next": target}, status=401)
    response = redirect(target)
    session.start_session(request, response, result.user_id)
    return response


@router.post("/console/logout")
def logout(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    response = redirect("/console/login", flash="You are signed out.")
    session.end_session(request, response)  # the session row ends: a copy of the cookie is worthless
    return response


@router.get("/console/password")
def password_page(request: Request) -> Response:
    console_user(request)
    return render(request, "console/password.html")


@router.post("/console/password")
def change_password(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    me = console_user(request)
    new = str(form.get("new_password", ""))
    if new != str(form.get("new_password_again", "")):
        return render(request, "console/password.html", {"error": "The two new passwords differ."}, status=422)
    try:
        with unit_of_work(request, me) as uow:
            accounts.change_own_password(uow, me.user_id, str(form.get("current_password", "")), new)
    except ValidationProblem as problem:
        return render(request, "console/password.html", {"error": problem_sentence(problem)}, status=422)
    # Every session of this user has ended, this one too; this browser gets a fresh one.
    response = redirect("/console", flash="Your password is changed. Other sessions are signed out.")
    session.start_session(request, response, me.user_id)
    return response
