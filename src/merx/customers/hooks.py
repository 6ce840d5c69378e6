"""What customers contributes to hooks of core: the storefront's shopper sessions as API
bearers (`Authorization: Bearer mxs_...`), resolved to a customer-role caller."""

from __future__ import annotations


def register() -> None:
    from merx.core.auth import contribute_bearer_resolver
    from merx.customers.accounts import SESSION_PREFIX, principal_for_bearer

    contribute_bearer_resolver(SESSION_PREFIX, principal_for_bearer)
