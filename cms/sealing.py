"""Secrets the site must read back (a webhook's signing secret, a TOTP seed), kept
encrypted at rest under a key derived from the site's secret key.

AES-256-GCM with a fresh 96-bit nonce per value; each use derives its own key from
``CMS_SECRET_KEY`` and a purpose (HMAC-SHA256), so a value sealed for one purpose never
opens as another's. A copy of the database alone (a backup, a dump) reveals none of them;
changing ``CMS_SECRET_KEY`` makes them all unreadable (:class:`Unsealable`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE_BYTES = 12
# Versioned, so a future scheme can sit beside this one.
_STORED_PREFIX = "v1:"


class Unsealable(Exception):
    """The value was sealed under another site key (or for another purpose)."""


def derive_key(site_key: str, purpose: bytes) -> bytes:
    """32 bytes for ``purpose``, derived from the site's secret key."""
    return hmac.new(site_key.encode(), purpose, hashlib.sha256).digest()


def seal(plain: str, site_key: str, purpose: bytes) -> str:
    """``plain`` encrypted under the site key for ``purpose``, as text for a column."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = AESGCM(derive_key(site_key, purpose)).encrypt(nonce, plain.encode(), None)
    return _STORED_PREFIX + base64.b64encode(nonce + sealed).decode()


def unseal(stored: str, site_key: str, purpose: bytes) -> str:
    """The text :func:`seal` encrypted; :class:`Unsealable` if it was sealed under
    another key or purpose."""
    try:
        raw = base64.b64decode(stored.removeprefix(_STORED_PREFIX), validate=True)
        key = AESGCM(derive_key(site_key, purpose))
        plain = key.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], None)
    except (InvalidTag, ValueError, binascii.Error):
        raise Unsealable from None
    return plain.decode()
