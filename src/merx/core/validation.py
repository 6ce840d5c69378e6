"""Input limits shared by every context: ids bounded to the database's integer type, text
without NUL or control characters, finite decimals, plain ASCII numbers.

Two places apply them without each route or schema repeating itself:
- `StrictModel` (core/schemas.py) runs `check_input_value` on every field of every request
  body, so a bad value is a 422 naming its field instead of a database error.
- `InputGuardMiddleware` checks what FastAPI's own parameter parsing cannot bound: the
  query string (a NUL byte reaches PostgreSQL, which refuses it) and integer path/query
  parameters (Python ints are unbounded; the columns are 64-bit). It is hand-written because
  FastAPI has no global bound for `int` parameters and there are ~150 of them across contexts;
  it finds the integer parameters in the app's own OpenAPI document, so it keeps no list, and
  looks only when the path or query holds a 19-digit number.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import parse_qsl

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from merx.core.errors import FieldError, ValidationProblem

# BIGINT on PostgreSQL, INTEGER (64-bit) on SQLite: the widest id either backend stores.
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
INT32_MAX = 2**31 - 1  # sa.Integer columns (counts, versions) are 32-bit on PostgreSQL

DbId = Annotated[int, Field(ge=1, le=INT64_MAX, description="A record id (1 to 2^63-1).")]
"""A record id, as a body field or a parameter: refused with 422 outside the database's range."""

# C0 controls except tab, newline and carriage return, and DEL. PostgreSQL text cannot hold
# NUL; the XML inside an XLSX file cannot hold the others (openpyxl refuses to write them).
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Decimal input: ASCII digits only. `Decimal()` (and Pydantic's Decimal) also accept
# Arabic-Indic, Devanagari and full-width digits, which no other system of ours reads back.
ASCII_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def parse_decimal_text(value: Any, what: str) -> Decimal:
    """A decimal given as a JSON string or integer (never a float, never NaN/Infinity, ASCII
    digits only), or a PydanticCustomError naming `what`."""
    if isinstance(value, (float, bool)):
        raise PydanticCustomError("decimal", "{what} must be a decimal string such as \"12.5\", not a float",
                                  {"what": what})
    text = str(value).strip()
    if not ASCII_DECIMAL.fullmatch(text):
        raise PydanticCustomError("decimal", "{what} must be a decimal number such as \"12.5\" (ASCII digits)",
                                  {"what": what})
    return Decimal(text)


def _ascii_decimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):  # a score (not money) may come as a JSON number: 4.5
        value = repr(value)
    return parse_decimal_text(value, "the value")


Rating = Annotated[Decimal, BeforeValidator(_ascii_decimal), Field(ge=0, le=5, max_digits=3, decimal_places=2)]
"""A 0 to 5 score with at most two decimals (4.75), as a string or an integer."""


def control_char_message(value: str) -> str | None:
    found = CONTROL_CHARS.search(value)
    if found is None:
        return None
    return f"contains the control character U+{ord(found.group()):04X}, which is not allowed"


def strip_control_chars(value: str) -> str:
    """For output only (input refuses them): text that reached the database before the
    check existed must still export."""
    return CONTROL_CHARS.sub("", value)


def check_input_value(value: Any, path: str = "") -> Any:
    """Raise a PydanticCustomError (-> 422 naming the field) for a value no backend can store
    faithfully: an integer beyond 64 bits, a NaN or infinite decimal, text with a control
    character. Walks lists and dicts (free-form attributes, metadata)."""
    where = f" (at {path})" if path else ""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise PydanticCustomError("int_range", "must be between -2^63 and 2^63-1{where}", {"where": where})
    elif isinstance(value, (Decimal, float)):
        if not (value.is_finite() if isinstance(value, Decimal) else value == value and abs(value) != float("inf")):
            raise PydanticCustomError("finite_number", "must be a finite number, not NaN or Infinity{where}",
                                      {"where": where})
    elif isinstance(value, str):
        message = control_char_message(value)
        if message:
            raise PydanticCustomError("control_character", message + "{where}", {"where": where})
    elif isinstance(value, dict):
        for k, v in value.items():
            check_input_value(k, f"{path}.{k}" if path else str(k))
            check_input_value(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, (list, tuple, set, frozenset)):
        for i, v in enumerate(value):
            check_input_value(v, f"{path}[{i}]")
    return value


# --------------------------------------------------------------------------------------------
# Query strings and integer parameters
# --------------------------------------------------------------------------------------------

_LONG_DIGITS = re.compile(r"\d{19,}")


def _is_int_schema(schema: dict) -> bool:
    if schema.get("type") == "integer":
        return True
    if schema.get("type") == "array":
        return _is_int_schema(schema.get("items") or {})
    return any(_is_int_schema(s) for s in [*schema.get("anyOf", ()), *schema.get("oneOf", ())])


def _int_parameters(app: Any) -> list[tuple[re.Pattern[str], str, dict[str, str]]]:
    """[(path regex, method, {parameter: "path" | "query"})] of the integer parameters, read
    once from the app's own OpenAPI document (a public, stable description of every route;
    the router's internals are not)."""
    cached = getattr(app.state, "merx_int_parameters", None)
    if cached is not None:
        return cached
    out = []
    for path, operations in app.openapi().get("paths", {}).items():
        regex = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$")
        for method, operation in operations.items():
            params = {p["name"]: p["in"] for p in operation.get("parameters", ())
                      if p.get("in") in ("path", "query") and _is_int_schema(p.get("schema") or {})}
            if params:
                out.append((regex, method.upper(), params))
    app.state.merx_int_parameters = out
    return out


def _out_of_range(raw: str) -> bool:
    raw = raw.strip()
    digits = raw.lstrip("+-")
    return digits.isascii() and digits.isdigit() and not INT64_MIN <= int(raw) <= INT64_MAX


class InputGuardMiddleware:
    """422 naming the parameter for a query string or path with a control character, and for
    an integer parameter beyond 64 bits; everything else passes untouched (one regex search
    per request when nothing is wrong)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            problem = self.check(scope)
            if problem is not None:
                from merx.core.web import send_problem

                await send_problem(send, problem)
                return
        await self.app(scope, receive, send)

    def check(self, scope: dict) -> ValidationProblem | None:
        path: str = scope.get("path", "")
        raw_query = scope.get("query_string", b"").decode("latin-1")
        message = control_char_message(path)
        if message:
            return _problem("path", message)
        params: list[tuple[str, str]] = []
        if raw_query:
            params = parse_qsl(raw_query, keep_blank_values=True, encoding="utf-8", errors="replace")
            for name, value in params:
                message = control_char_message(name) or control_char_message(value)
                if message:
                    return _problem(name if not control_char_message(name) else "query", message)
        if not (_LONG_DIGITS.search(path) or _LONG_DIGITS.search(raw_query)):
            return None
        return self._check_int_params(scope, params)

    def _check_int_params(self, scope: dict, params: list[tuple[str, str]]) -> ValidationProblem | None:
        app = scope.get("app")
        if app is None or not hasattr(app, "openapi"):
            return None
        for regex, method, wanted in _int_parameters(app):
            matched = regex.match(scope["path"])
            if matched is None or method != scope["method"]:
                continue
            for name, value in matched.groupdict().items():
                if wanted.get(name) == "path" and _out_of_range(value):
                    return _problem(name, f"must be between {INT64_MIN} and {INT64_MAX}")
            for name, value in params:
                if wanted.get(name) == "query" and _out_of_range(value):
                    return _problem(name, f"must be between {INT64_MIN} and {INT64_MAX}")
            return None
        return None


def _problem(field: str, message: str) -> ValidationProblem:
    return ValidationProblem(f"{field}: {message}", errors=[FieldError(field, message, "invalid")])
