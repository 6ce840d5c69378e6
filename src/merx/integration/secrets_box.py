"""Webhook signing secrets at rest: encrypted (Fernet, AES-128-CBC + HMAC) with a key derived
from MERX_SECRET_KEY. Signing needs the secret itself, so a one-way hash will not do."""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken

from merx.core.settings import get_settings

SECRET_PREFIX = "whsec_"


def _fernet(secret_key: str | None = None) -> Fernet:
    master = secret_key if secret_key is not None else get_settings().secret_key.get_secret_value()
    # Domain-separated derivation: the same MERX_SECRET_KEY signs other things elsewhere.
    derived = hashlib.sha256(b"merx.integration.webhook-secrets\x00" + master.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt_secret(plain: str, *, secret_key: str | None = None) -> str:
    return _fernet(secret_key).encrypt(plain.encode()).decode()


def decrypt_secret(token: str, *, secret_key: str | None = None) -> str:
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken:
        raise RuntimeError("webhook secret cannot be decrypted: MERX_SECRET_KEY changed since it was stored") from None


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
