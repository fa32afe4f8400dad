"""Standard Webhooks secrets and signatures, and how a secret is kept at rest.

A secret is ``whsec_`` followed by the base64 of 32 random bytes; a signature is
``v1,`` and the base64 of HMAC-SHA256 over ``"{webhook-id}.{webhook-timestamp}.{body}"``
keyed with those bytes (https://www.standardwebhooks.com).

Signing needs the secret itself, so it cannot be stored as a one-way hash like a
password. It is encrypted (AES-256-GCM) under a key derived from the site's secret key:
a copy of the database alone (a backup, a dump) does not let anyone forge deliveries.
Changing ``CMS_SECRET_KEY`` makes stored secrets unreadable; their endpoints fail with
a message that says to rotate them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cms.errors import ConfigurationError

PREFIX = "whsec_"
_SECRET_BYTES = 32
_NONCE_BYTES = 12
# Versioned, so a future scheme can sit beside this one.
_STORED_PREFIX = "v1:"
_KEY_PURPOSE = b"cms webhook secrets v1"


def new_secret() -> str:
    """A fresh ``whsec_`` secret."""
    return PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value (``v1,<base64>``) of one delivery attempt."""
    key = base64.b64decode(secret.removeprefix(PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _key(site_key: str) -> bytes:
    return hmac.new(site_key.encode(), _KEY_PURPOSE, hashlib.sha256).digest()


def seal(secret: str, site_key: str) -> str:
    """``secret`` encrypted under ``site_key``, as text for a column."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(_key(site_key)).encrypt(nonce, secret.encode(), None)
    return _STORED_PREFIX + base64.b64encode(nonce + sealed).decode()


def unseal(stored: str, site_key: str) -> str:
    """The secret :func:`seal` encrypted; :class:`ConfigurationError` if ``site_key``
    is not the key it was sealed with."""
    raw = base64.b64decode(stored.removeprefix(_STORED_PREFIX))
    try:
        plain = AESGCM(_key(site_key)).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], None)
    except InvalidTag:
        raise ConfigurationError(
            "This endpoint's secret was stored under another CMS_SECRET_KEY; "
            "remove the endpoint and add it again"
        ) from None
    return plain.decode()
