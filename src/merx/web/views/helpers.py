"""Small helpers the page modules share."""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from pydantic import ValidationError

from merx.core.errors import Problem
from merx.core.pagination import paginate
from merx.web.common import problem_sentence


def validation_sentence(e: ValidationError) -> str:
    parts = []
    for err in e.errors()[:4]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "input"
        msg = str(err.get("msg", "is not valid")).removeprefix("Value error, ")
        parts.append(f"{where.replace('_', ' ')}: {msg}")
    return "Please correct: " + "; ".join(parts) + "."


def form_refusal(uow: Any, save: Callable[[], object]) -> str | None:
    """Runs a console form's write: None when it went through, else the sentence saying why the
    input was refused (invalid fields, or a 4xx other than 404), with the transaction rolled
    back so the page can be shown again. A 404 or a server error is raised for the page's own
    handling."""
    try:
        save()
    except ValidationError as e:
        uow.rollback()
        return validation_sentence(e)
    except Problem as e:
        if e.status >= 500 or e.status == 404:
            raise
        uow.rollback()
        return problem_sentence(e)
    return None
def refusal_redirect(url: str, e: Exception) -> Any:
    """A refused console write as a redirect back with "Not saved: ..." (a validation error or a
    4xx Problem); anything else (a 5xx, a bug) is raised for the error page."""
    from merx.web.common import redirect

    if isinstance(e, ValidationError):
        return redirect(url, flash=f"Not saved: {validation_sentence(e)}")
    if isinstance(e, Problem) and e.status < 500:
        return redirect(url, flash=f"Not saved: {problem_sentence(e)}")
    raise e


def page_of(uow: Any, stmt: Any, *, limit: int = 50, cursor: str | None = None) -> tuple[list[Any], str | None]:
    """Cursor pagination over a service's select statement, keyed by its entity's id."""
    entity = stmt.column_descriptions[0]["entity"]
    return paginate(uow.session, stmt, entity.id, limit=limit, cursor=cursor or None)


def int_or_none(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def text_or_none(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def utc_or_text(value: Any) -> dt.datetime | str | None:
    """A datetime-local input (no offset) read as UTC, as the forms' labels say; text that is
    not a time is passed on for pydantic to name the field."""
    text = text_or_none(value)
    if text is None:
        return None
    try:
        return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
    except ValueError:
        return text


def reader_locale(request: Any) -> str:
    """The reader's language, by the storefront's rule: `?lang=`, then the `merx_lang` cookie,
    then Accept-Language, then the shop's default. Unknown codes are ignored, not refused: a
    bookmarked link with a stale `lang` must still open."""
    from merx.catalog import public as catalog

    settings = request.app.state.settings
    for explicit in (request.query_params.get("lang"), request.cookies.get("merx_lang")):
        if explicit and explicit in settings.locales:
            return explicit
    chosen, _ = catalog.pick_locale(None, request.headers.get("accept-language"), settings.locales,
                                    settings.default_locale)
    return chosen
