"""Cursor pagination over a monotonically increasing key (the primary key).

Cursors are opaque to clients; inside they are the last key seen, so pages stay stable
while rows are inserted (unlike OFFSET)."""

from __future__ import annotations

import base64
from typing import Any, Callable, Sequence, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from merx.core.db import SQLITE_CASEFOLD
from merx.core.errors import ValidationProblem

R = TypeVar("R")


def encode_cursor(last_key: int) -> str:
    return base64.urlsafe_b64encode(f"k:{last_key}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, value = raw.split(":", 1)
        if tag != "k":
            raise ValueError
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise ValidationProblem.for_field("cursor", "is not a cursor returned by this API") from None


def check_limit(limit: int | None, default: int, maximum: int) -> int:
    if limit is None:
        return default
    if limit < 1 or limit > maximum:
        raise ValidationProblem.for_field("limit", f"must be between 1 and {maximum}")
    return limit


def paginate(session: Session, stmt: sa.Select[Any], key: Any, *, limit: int, cursor: str | None,
             convert: Callable[[Any], R] = lambda r: r, descending: bool = False) -> tuple[list[R], str | None]:
    """Keyset pagination on an integer key; `descending` pages from the newest row back."""
    after = decode_cursor(cursor)
    if after is not None:
        stmt = stmt.where(key < after if descending else key > after)
    rows: Sequence[Any] = session.scalars(stmt.order_by(key.desc() if descending else key).limit(limit + 1)).all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(_key_of(rows[-1], key)) if has_more and rows else None
    return [convert(r) for r in rows], next_cursor


def _key_of(row: Any, key: Any) -> int:
    return int(getattr(row, key.key))


def page_list(items: Sequence[R], key: Callable[[R], int], *, limit: int,
              cursor: str | None, descending: bool = False) -> tuple[list[R], str | None]:
    """The same cursor contract over a list already read in `key` order (newest first when
    `descending`): for reference data that is read whole anyway (categories with their
    translations, segments with counts) and is small (hundreds of rows), so one query plus a
    slice beats a keyset query per page."""
    after = decode_cursor(cursor)
    rest = [i for i in items if after is None or (key(i) < after if descending else key(i) > after)]
    page = rest[:limit]
    return page, (encode_cursor(key(page[-1])) if len(rest) > limit and page else None)


def escape_like(text: str) -> str:
    r"""`text` as a LIKE pattern that matches it literally ("50%" is not "50 and anything"), `\` escaping."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class casefold(FunctionElement[str]):  # noqa: N801 - reads as the SQL function it is
    """`casefold(expr)`: `expr` with its Unicode case folded, on either database. PostgreSQL's
    lower() folds Unicode by the database's ctype (Ł->ł, М->м; ß stays ß); SQLite's folds ASCII
    only, so there it calls merx_casefold, Python's str.casefold registered by core.db."""

    type = sa.String()
    name = "casefold"
    inherit_cache = True


@compiles(casefold)
def _casefold_lower(element: casefold, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(casefold, "sqlite")
def _casefold_sqlite(element: casefold, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_CASEFOLD}({compiler.process(element.clauses, **kw)})"


def text_search(stmt: sa.Select[Any], q: str | None, *columns: Any) -> sa.Select[Any]:
    """Narrow `stmt` to rows where any of `columns` contains `q`, ignoring Unicode case (the
    console's list search box, `?q=`): "łódź" finds "Łódź" on SQLite and PostgreSQL alike.
    A blank `q` leaves the statement as it is; the wildcard characters in `q` match
    themselves. Keyset pagination still applies after it."""
    text = (q or "").strip()
    if not text:
        return stmt
    # The pattern is folded by the same SQL function as the columns, not in Python: Python's
    # casefold turns "straße" into "strasse", which PostgreSQL's lower("Straße") never equals.
    # Folding leaves the escape characters (backslash, % and _) as they are.
    pattern = casefold(sa.literal(f"%{escape_like(text)}%", sa.String))
    return stmt.where(sa.or_(*(casefold(sa.cast(c, sa.String)).like(pattern, escape="\\") for c in columns)))


def matches_text(q: str | None, *values: Any) -> bool:
    """The same contains-test as `text_search`, for lists read whole (`page_list`)."""
    text = (q or "").strip().casefold()
    return not text or any(text in str(v).casefold() for v in values if v is not None)
