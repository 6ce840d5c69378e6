"""What every page shares: the template environment, rendering with the caller and CSRF
token, role checks that redirect to the login page, and the route class that turns problems
into plain-sentence error pages. Pages call other contexts through their `public` modules."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import quote, unquote

import jinja2
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute

from merx.core.auth import ANONYMOUS, Principal, Role
from merx.core.errors import Problem
from merx.core.observability import request_id_var
from merx.core.uow import UnitOfWork
from merx.core.web import principal_of
from merx.web.auth import session

log = logging.getLogger("merx.web")
HERE = Path(__file__).resolve().parent
FLASH_COOKIE = "merx_flash"

CONSOLE_ROLES = (Role.admin, Role.staff, Role.sales_rep, Role.support_agent, Role.seller, Role.marketer)


# --------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------


def _money(value: Any, currency: str | None = None) -> str:
    if value is None:
        return "—"
    if hasattr(value, "amount") and hasattr(value, "currency"):
        value, currency = value.amount, value.currency
    if isinstance(value, dict) and "amount" in value:
        value, currency = value["amount"], value.get("currency")
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return str(value)
    text = f"{amount:,.2f}"
    return f"{text} {currency}" if currency else text


def _number(value: Any, digits: int = 0) -> str:
    if value is None:
        return "—"
    try:
        return f"{float(value):,.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


def _percent(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    try:
        return f"{float(value) * 100:.{digits}f}%"
    except (TypeError, ValueError):
        return str(value)


def _when(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def _field(obj: Any, name: str, default: Any = None) -> Any:
    """Reads a field from a dataclass, a Pydantic model or a dict alike."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")),
                         autoescape=jinja2.select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True,
                         auto_reload=False)
env.filters.update(money=_money, number=_number, percent=_percent, when=_when)
env.globals.update(field=_field)


def _route_paths(routes: Any) -> Iterator[str]:
    for route in routes:
        path = getattr(route, "path", None)
        if path:
            yield path
        # Included routers keep their routes on the router (FastAPI mounts them lazily).
        nested = getattr(route, "routes", None) or getattr(getattr(route, "original_router", None), "routes", None)
        if nested:
            yield from _route_paths(nested)


def static_route_exists(request: Request, path: str) -> bool:
    """Whether the app serves `path` (e.g. the CRM's /static/merx.js); looked up once per app."""
    known = getattr(request.app.state, "web_route_paths", None)
    if known is None:
        known = request.app.state.web_route_paths = {}
    if path not in known:
        known[path] = path in set(_route_paths(request.app.routes))
    return known[path]


def render(request: Request, template: str, context: dict[str, Any] | None = None, *, status: int = 200,
           principal: Principal | None = None) -> HTMLResponse:
    ctx = dict(context or {})
    ctx.setdefault("request", request)
    ctx.setdefault("me", principal if principal is not None else current_principal(request))
    ctx["csrf_token"] = session.csrf_token(request)
    ctx["flash"] = request.cookies.get(FLASH_COOKIE)
    ctx["path"] = request.url.path
    html = env.get_template(template).render(ctx)
    response = HTMLResponse(html, status_code=status)
    session.ensure_csrf_cookie(request, response)
    if ctx["flash"]:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(url: str, *, flash: str | None = None) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    if flash:
        response.set_cookie(FLASH_COOKIE, quote(flash)[:500], max_age=60, httponly=True, samesite="lax", path="/")
    return response


env.filters["unquote"] = lambda text: unquote(text or "")

# Status codes stay snake_case in the API; people read words. Only names that do not read well
# with the underscore turned into a space need an entry here.
STATUS_LABELS = {"partially_refunded": "partly refunded", "no_sales": "no sales", "ok": "OK"}


def status_label(status: str | None) -> str:
    if not status:
        return "—"
    return STATUS_LABELS.get(status, status.replace("_", " "))


env.filters["label"] = status_label


def counted(n: Any, noun: str, plural: str | None = None) -> str:
    """`{{ n | counted("ticket") }}`: "1 ticket", "2 tickets", "1,200 customers"."""
    try:
        one = int(n) == 1
    except (TypeError, ValueError):
        one = False
    return f"{_number(n)} {noun if one else (plural or noun + 's')}"


env.filters["counted"] = counted


# --------------------------------------------------------------------------------------------
# Who is calling
# --------------------------------------------------------------------------------------------


class LoginRequired(Exception):
    pass


def current_principal(request: Request) -> Principal:
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    try:
        return principal_of(request)
    except Problem:  # a bad bearer header on a page: treat the visitor as anonymous
        request.state.principal = ANONYMOUS
        return ANONYMOUS


def console_user(request: Request, *roles: Role) -> Principal:
    """The signed-in user when they hold one of `roles` (default: any console role)."""
    principal = current_principal(request)
    if principal.is_anonymous:
        raise LoginRequired()
    allowed = roles or CONSOLE_ROLES
    if principal.role not in allowed:
        raise Problem("Your role does not give access to this page. Ask an administrator if you need it.",
                      status=403, title="Not allowed", type_slug="forbidden")
    return principal


@contextlib.contextmanager
def unit_of_work(request: Request, principal: Principal | None = None, *, readonly: bool = False) -> Iterator[UnitOfWork]:
    actor = principal if principal is not None else current_principal(request)
    with UnitOfWork(request.app.state.db, actor, request_id=request_id_var.get(), readonly=readonly) as uow:
        yield uow


async def checked_form(request: Request) -> dict[str, Any]:
    """The submitted form, after checking its CSRF token (403 page otherwise)."""
    form = await request.form()
    sent = form.get(session.CSRF_FIELD) or request.headers.get(session.CSRF_HEADER)
    if not session.csrf_matches(request, sent if isinstance(sent, str) else None):
        raise Problem("This form has expired or did not come from this site. Reload the page and try again.",
                      status=403, title="Form expired", type_slug="csrf")
    return {k: v for k, v in form.multi_items()} | {"__multi__": form}


async def csrf_form(request: Request) -> dict[str, Any]:
    """Dependency for POST pages: lets the page itself be a plain function run in the thread
    pool (database work must not block the event loop) while the form is read async."""
    return await checked_form(request)


def problem_sentence(problem: Problem) -> str:
    """A problem as a plain sentence for people (field names kept: they say what to fix)."""
    detail = problem.detail.strip()
    if problem.errors and len(problem.errors) > 1:
        detail = "; ".join(f"{e.field.replace('_', ' ')}: {e.message}" for e in problem.errors[:5])
    return detail[:1].upper() + detail[1:] if detail else problem.title


# --------------------------------------------------------------------------------------------
# Route class: problems become pages
# --------------------------------------------------------------------------------------------


def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    template = "console/error.html" if request.url.path.startswith("/console") else "store/error.html"
    if request.url.path.startswith(("/associate", "/kiosk", "/pay/")):
        template = "associate/error.html"  # the phone and kiosk layout
    try:
        return render(request, template, {"title": title, "message": message,
                                          "request_id": request_id_var.get()}, status=status)
    except Exception:  # the error page itself failed: fall back to bare text, still no trace
        log.exception("error page failed")
        return HTMLResponse(f"<!doctype html><title>{title}</title><p>{message}</p>", status_code=status)


class PageRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Any]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except LoginRequired:
                target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
                login = "/associate/login" if request.url.path.startswith("/associate") else "/console/login"
                if request.headers.get("hx-request"):
                    return Response(status_code=204, headers={"HX-Redirect": f"{login}?next={target}"})
                return RedirectResponse(f"{login}?next={target}", status_code=303)
            except Problem as e:
                if e.status == 401:
                    return RedirectResponse("/console/login", status_code=303)
                return error_page(request, e.status, e.title, problem_sentence(e))
            except RequestValidationError as e:
                parts = []
                for err in e.errors()[:3]:
                    where = ".".join(str(p) for p in err.get("loc", ())[1:]) or "input"
                    parts.append(f"{where}: {err.get('msg', 'invalid')}")
                return error_page(request, 422, "Invalid input", "Some input was not valid — " + "; ".join(parts) + ".")
            except Exception:
                log.exception("page failed", extra={"path": request.url.path})
                return error_page(request, 500, "Something went wrong",
                                  "Something went wrong on our side. The error has been logged; please try again.")

        return handler
