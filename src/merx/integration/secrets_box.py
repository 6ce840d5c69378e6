"""Webhook signing secrets at rest: encrypted (Fernet, AES-128-CBC + HMAC) with a key derived
from MERX_SECRET_KEY. Signing needs the secret itself, so a one-way hash will not do.

The key is that of the settings the database in use serves under (`uow.settings`, the
relay's `settings_of(db)`), never the process's global settings: a process may serve several
databases (an in-process demo with its own data dir and generated key, tests), and a secret
stored under another database's key would not decrypt where that database is served.

Key rotation: new encryptions always use the current key; decryption also tries the keys in
MERX_SECRET_KEY_FALLBACKS until MERX_SECRET_KEY_FALLBACKS_UNTIL (MultiFernet), and
`reencrypt_secret` moves a stored value to the current key before that period ends."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from merx.core.settings import ensure_secret_key

SECRET_PREFIX = "whsec_"


def _derive(master: str) -> Fernet:
    # Domain-separated derivation: the same MERX_SECRET_KEY signs other things elsewhere.
    derived = hashlib.sha256(b"merx.integration.webhook-secrets\x00" + master.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def _fernet(settings: Any, secret_key: str | None = None) -> MultiFernet:
    """The current key first (it encrypts), then the fallbacks still in their period; or the
    one `secret_key` given (a backup's, a test's)."""
    if secret_key is not None:
        return MultiFernet([_derive(secret_key)])
    if settings is None:
        raise TypeError("the settings of the database in use (uow.settings) or a secret_key is required")
    ensure_secret_key(settings)
    return MultiFernet([_derive(key) for key in settings.verification_secrets()])


def encrypt_secret(plain: str, settings: Any = None, *, secret_key: str | None = None) -> str:
    return _fernet(settings, secret_key).encrypt(plain.encode()).decode()


def decrypt_secret(token: str, settings: Any = None, *, secret_key: str | None = None) -> str:
    try:
        return _fernet(settings, secret_key).decrypt(token.encode()).decode()
    except InvalidToken:
        raise RuntimeError("webhook secret cannot be decrypted: MERX_SECRET_KEY changed since it was stored "
                           "(an old key can be kept in MERX_SECRET_KEY_FALLBACKS for a while)") from None


def reencrypt_secret(token: str, settings: Any) -> str:
    """The same secret encrypted under the current key (decrypted with any accepted key)."""
    try:
        return _fernet(settings).rotate(token.encode()).decode()
    except InvalidToken:
        raise RuntimeError("stored secret cannot be decrypted with the current or fallback keys") from None


def reencrypt_webhook_secrets(uow: Any) -> int:
    """Store every webhook secret under the current key (run during a key rotation's
    fallback period, after which the old key decrypts nothing). Returns how many moved."""
    import sqlalchemy as sa

    from merx.integration.models import WebhookEndpoint

    settings = uow.settings
    ensure_secret_key(settings)
    current = _derive(settings.current_secret)
    moved = 0
    for endpoint in uow.session.scalars(sa.select(WebhookEndpoint)):
        try:
            current.decrypt(endpoint.secret_encrypted.encode())
            continue  # already under the current key
        except InvalidToken:
            pass
        endpoint.secret_encrypted = reencrypt_secret(endpoint.secret_encrypted, settings)
        moved += 1
    uow.audit("webhook_secrets.reencrypted", "webhook_endpoint", "*", after={"count": moved})
    uow.commit()
    return moved


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_bytes(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: the base64 part after `whsec_`."""
    raw = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    return base64.b64decode(raw)


def is_valid_secret(secret: str) -> bool:
    if not secret.startswith(SECRET_PREFIX):
        return False
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except ValueError:
        return False
    return 24 <= len(key) <= 64
