"""Finding a customer by an identifier another context keeps: `GET /customers?identifier=kind:value`
(a loyalty card, a marketplace buyer id, an anonymous visitor id ...).

Customers sits below CRM in the declared layer order (`.importlinter`), so it cannot ask CRM's
identity index itself. Instead it declares this hook: a context that keeps identifiers
contributes a resolver from its `hooks.py` at start-up (CRM does: `merx.crm.hooks`), and the
lookup asks the resolvers in turn."""

from __future__ import annotations

from typing import Callable

from merx.core.errors import NotFound, ValidationProblem
from merx.core.uow import UnitOfWork
from merx.customers import service
from merx.customers.schemas import CustomerOut

# (uow, kind, value) -> the id of the live customer holding that identifier, or None. A kind
# the resolver does not know is a ValidationProblem naming `field`.
IdentifierResolver = Callable[[UnitOfWork, str, str, str], int | None]

_resolvers: dict[str, IdentifierResolver] = {}


def contribute_identifier_resolver(context: str, resolver: IdentifierResolver) -> None:
    """Called from a context's `hooks.register()`; a second call for the same context replaces it."""
    _resolvers[context] = resolver


def find_by_identifier(uow: UnitOfWork, identifier: str, *, field: str = "identifier") -> CustomerOut | None:
    """The customer holding `kind:value`, if the caller may see them; None when nobody (visible) does."""
    kind, sep, value = identifier.partition(":")
    if not sep or not kind or not value:
        raise ValidationProblem.for_field(field, "must be kind:value, e.g. loyalty_card:LC-1")
    if not _resolvers:
        raise ValidationProblem.for_field(field, "no context that keeps identifiers (CRM) is installed")
    for resolver in _resolvers.values():
        customer_id = resolver(uow, kind, value, field)
        if customer_id is not None:
            try:
                return service.get_customer(uow, customer_id)  # applies the caller's record scope
            except NotFound:
                return None
    return None
