"""Who is calling and what they may do.

API keys are random 32-byte tokens shown once; only their SHA-256 is stored (a key has
256 bits of entropy, so a fast hash is safe and lets lookups use an index). Passwords for
the web console use scrypt with a per-user salt."""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Callable


class Role(str, enum.Enum):
    admin = "admin"
    staff = "staff"
    sales_rep = "sales_rep"
    support_agent = "support_agent"
    seller = "seller"
    customer = "customer"
    store_associate = "store_associate"  # in-store app: scoped to the stores it is bound to (instore)
    marketer = "marketer"
    dealer = "dealer"  # a dealer's staff: scoped to its account (customer_id = the account's buying customer)


STAFF_ROLES = frozenset({Role.admin, Role.staff})
BACK_OFFICE_ROLES = frozenset({Role.admin, Role.staff, Role.sales_rep, Role.support_agent})


@dataclass(frozen=True)
class Principal:
    """The caller. `anonymous` has no user; scoped roles carry the id they are scoped to."""

    user_id: int | None
    role: Role | None
    name: str = "anonymous"
    seller_id: int | None = None
    customer_id: int | None = None
    api_key_id: int | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.role is None

    def has(self, *roles: Role) -> bool:
        return self.role in roles

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def scope_key(self) -> str:
        return f"user:{self.user_id}" if self.user_id is not None else "anonymous"


ANONYMOUS = Principal(user_id=None, role=None)
SYSTEM = Principal(user_id=None, role=Role.admin, name="system")

API_KEY_PREFIX = "mx_"


def generate_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt$16384$8$1${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        _, n, r, p, salt_hex, digest_hex = stored.split("$")
        digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt_hex), n=int(n), r=int(r), p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest.hex(), digest_hex)


# Bearer tokens other than API keys, by prefix: a context that issues its own sign-in tokens
# (customers: the storefront's shopper sessions, `mxs_...`) contributes a resolver from its
# hooks.py; `core.web.resolve_principal` asks it for a token with that prefix. None from the
# resolver is a 401, like an unknown key.
BearerResolver = Callable[[Any, str], "Principal | None"]  # (Database, token) -> the caller
BEARER_RESOLVERS: dict[str, BearerResolver] = {}


def contribute_bearer_resolver(prefix: str, resolver: BearerResolver) -> None:
    if prefix == API_KEY_PREFIX or not prefix:
        raise ValueError("the API key prefix is core's own")
    BEARER_RESOLVERS[prefix] = resolver
