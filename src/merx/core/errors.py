"""Errors as RFC 9457 problem details. Services raise these; the app turns them into
`application/problem+json` responses. Every problem that concerns input names the field."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROBLEM_BASE = "https://merx.dev/problems/"


@dataclass
class FieldError:
    field: str
    message: str
    code: str = "invalid"

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message, "code": self.code}


class Problem(Exception):
    status: int = 400
    type_slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(self, detail: str, *, errors: list[FieldError] | None = None, extra: dict[str, Any] | None = None,
                 status: int | None = None, title: str | None = None, type_slug: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra or {}
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        if type_slug is not None:
            self.type_slug = type_slug

    def body(self, instance: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": PROBLEM_BASE + self.type_slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            out["instance"] = instance
        if self.errors:
            out["errors"] = [e.as_dict() for e in self.errors]
        out.update(self.extra)
        return out


class ValidationProblem(Problem):
    status = 422
    type_slug = "validation"
    title = "Invalid input"

    @classmethod
    def for_field(cls, field_name: str, message: str, code: str = "invalid") -> "ValidationProblem":
        return cls(f"{field_name}: {message}", errors=[FieldError(field_name, message, code)])


class NotFound(Problem):
    status = 404
    type_slug = "not-found"
    title = "Not found"


class Conflict(Problem):
    status = 409
    type_slug = "conflict"
    title = "Conflict"


class Unauthorized(Problem):
    status = 401
    type_slug = "unauthorized"
    title = "Authentication required"


class Forbidden(Problem):
    status = 403
    type_slug = "forbidden"
    title = "Not allowed"


class PayloadTooLarge(Problem):
    status = 413
    type_slug = "payload-too-large"
    title = "Request body too large"


@dataclass
class RowError:
    """One bad row of a bulk import: where it is and what is wrong."""

    row: int
    field: str
    message: str
    value: Any = field(default=None)

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "message": self.message, "value": self.value}
