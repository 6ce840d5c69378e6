"""A connector's credentials at rest and in the API: the header values of `transport.headers`
(an Authorization header, an API key header...) and the transport keys that name a secret
(`password`, `token`, `api_key`, `secret`, `auth`) are stored encrypted like webhook secrets
(integration/secrets_box.py), are write-only (the API and the audit log show the names with
masked values) and are decrypted only to make the request.

Stored form: the transport without those values, plus `credentials_encrypted` (one Fernet
token of the JSON of the secret part). A row written before this (plaintext headers, no
token) still works: `unseal` reads its plaintext, `masked` hides it, and the next save of the
connector encrypts it."""

from __future__ import annotations

import json
from typing import Any

from merx.integration.secrets_box import decrypt_secret, encrypt_secret

MASK = "********"
SEALED = "credentials_encrypted"
SECRET_KEYS = frozenset({"password", "token", "api_key", "secret", "auth"})


def unseal(stored: dict[str, Any] | None, settings: Any) -> dict[str, Any]:
    """The transport as the request needs it, credentials in plain text. `settings`: those of
    the database it is stored in (`uow.settings`), whose secret key sealed it."""
    plain = {k: v for k, v in (stored or {}).items() if k != SEALED}
    if stored and stored.get(SEALED):
        secret = json.loads(decrypt_secret(stored[SEALED], settings))
        headers = {**(plain.get("headers") or {}), **secret.pop("headers", {})}
        if headers:
            plain["headers"] = headers
        plain.update(secret)
    return plain


def seal(transport: dict[str, Any], settings: Any, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stored form of a transport sent by a client. A masked value (as the API shows it)
    keeps the credential stored before, so reading, editing and sending back loses nothing."""
    before = unseal(previous, settings)
    public = {k: v for k, v in transport.items() if k != SEALED}
    secret: dict[str, Any] = {}
    headers = transport.get("headers")
    if isinstance(headers, dict) and headers:
        kept = before.get("headers") or {}
        secret["headers"] = {name: kept.get(name) if value == MASK else value for name, value in headers.items()}
        public.pop("headers")
    for key in SECRET_KEYS & set(transport):
        secret[key] = before.get(key) if transport[key] == MASK else transport[key]
        public.pop(key)
    if secret:
        public[SEALED] = encrypt_secret(json.dumps(secret), settings)
    return public


def masked(stored: dict[str, Any] | None, settings: Any) -> dict[str, Any]:
    """The transport as staff and the audit log see it: credential names, never values."""
    out = {k: v for k, v in (stored or {}).items() if k != SEALED}
    names: dict[str, Any] = {}
    if stored and stored.get(SEALED):
        try:
            names = json.loads(decrypt_secret(stored[SEALED], settings))
        except RuntimeError:  # a key that no longer decrypts still shows which credentials exist
            names = {}
    headers = {**(out.get("headers") or {}), **names.pop("headers", {})}
    if headers:
        out["headers"] = {name: MASK for name in headers}
    for key in (SECRET_KEYS & set(out)) | set(names):
        out[key] = MASK
    return out
