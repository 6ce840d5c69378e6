"""Console sign-in and sign-out."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from merx.core.auth import verify_password
from merx.core.models import User
from merx.core.ratelimit import RateLimited, check_rate
from merx.web.auth import session
from merx.web.common import PageRoute, csrf_form, current_principal, redirect, render

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
        check_rate(request, "login")  # per client address; authsec adds the per-account lockout
    except RateLimited as limited:
        page = render(request, "console/login.html", {"error": f"Too many sign-in attempts; try again in "
                                                               f"{limited.retry_after} s.", "email": email,
                                                      "next": target}, status=429)
        page.headers["Retry-After"] = str(limited.retry_after)
        return page
    db = request.app.state.db
    with db.read_sessions() as s:
        user = s.scalar(sa.select(User).where(User.email == email)) if email else None
        ok = bool(user and user.active and verify_password(password, user.password_hash))
        user_id = user.id if ok and user else None
    if user_id is None:
        return render(request, "console/login.html", {"error": "The email or password is not right.",
                                                      "email": email, "next": target}, status=401)
    response = redirect(target)
    session.start_session(request, response, user_id)
    return response


@router.post("/console/logout")
def logout(request: Request, form: dict[str, Any] = Depends(csrf_form)) -> Response:
    response = redirect("/console/login", flash="You are signed out.")
    session.end_session(response)
    return response
