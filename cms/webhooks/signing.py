"""Standard Webhooks secrets and signatures, and how a secret is kept at rest.

A secret is ``whsec_`` followed by the base64 of 32 random bytes; a signature is
``v1,`` and the base64 of HMAC-SHA256 over ``"{webhook-id}.{webhook-timestamp}.{body}"``
keyed with those bytes (https://www.standardwebhooks.com).

Signing needs the secret itself, so it cannot be stored as a one-way hash like a
password. It is encrypted (AES-256-GCM, :mod:`cms.sealing`) under a key derived from the
site's secret key: a copy of the database alone (a backup, a dump) does not let anyone
forge deliveries.
Changing ``CMS_SECRET_KEY`` makes stored secrets unreadable; their endpoints fail with
a message that says to rotate them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cms import sealing
from cms.errors import ConfigurationError

PREFIX = "whsec_"
_SECRET_BYTES = 32
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


def seal(secret: str, site_key: str) -> str:
    """``secret`` encrypted under ``site_key``, as text for a column."""
    return sealing.seal(secret, site_key, _KEY_PURPOSE)


def unseal(stored: str, site_key: str) -> str:
    """The secret :func:`seal` encrypted; :class:`ConfigurationError` if ``site_key``
    is not the key it was sealed with."""
    try:
        return sealing.unseal(stored, site_key, _KEY_PURPOSE)
    except sealing.Unsealable:
        raise ConfigurationError(
            "This endpoint's secret was stored under another CMS_SECRET_KEY; "
            "remove the endpoint and add it again"
        ) from None
