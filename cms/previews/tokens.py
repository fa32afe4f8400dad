"""The preview token's format, with no database: making one, and telling a genuine one.

``pv1_<link id>_<secret>_<signature>``: the link's row id, 128 random bits of secret and
an HMAC-SHA256 (truncated to 128 bits) of the two under the site's key, all in lower-case
hex. Only a SHA-256 of the secret is stored. The signature lets the server refuse a
malformed, guessed or forged token before any SQL; the stored digest means a copy of the
database alone does not open previews, and the site's key alone does not either.
Changing ``CMS_SECRET_KEY`` ends every preview link.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "pv1_"
_SECRET_BYTES = 16
_SIGNATURE_BYTES = 16
# Ids are 32-bit on every backend.
_LARGEST_ID = 2**31 - 1
_FORMAT = re.compile(r"pv1_([1-9][0-9]{0,9})_([0-9a-f]{32})_([0-9a-f]{32})")
# The longest a token can be: what the API accepts in a query or header.
MAX_LENGTH = len(PREFIX) + 10 + 1 + 2 * _SECRET_BYTES + 1 + 2 * _SIGNATURE_BYTES


def new_secret() -> str:
    return secrets.token_hex(_SECRET_BYTES)


def digest(secret: str) -> str:
    """What is stored of a secret: its SHA-256, in hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _signature(site_key: str, link_id: int, secret: str) -> str:
    message = f"preview-link\0{link_id}\0{secret}".encode()
    return hmac.new(site_key.encode(), message, hashlib.sha256).digest()[:_SIGNATURE_BYTES].hex()


def compose(site_key: str, link_id: int, secret: str) -> str:
    """The token as given to whoever shares the preview."""
    return f"{PREFIX}{link_id}_{secret}_{_signature(site_key, link_id, secret)}"


@dataclass(frozen=True)
class PresentedPreview:
    """A genuine token someone sent: the link it names and the digest of its secret."""

    link_id: int
    secret_digest: str


def parse(site_key: str, value: str | None) -> PresentedPreview | None:
    """The link ``value`` names, or ``None`` if it is malformed or not signed with this
    site's key (no lookup needed to refuse it)."""
    if value is None or len(value) > MAX_LENGTH:
        return None
    match = _FORMAT.fullmatch(value)
    if match is None:
        return None
    link_text, secret, signature = match.groups()
    link_id = int(link_text)
    if link_id > _LARGEST_ID:
        return None
    if not hmac.compare_digest(signature, _signature(site_key, link_id, secret)):
        return None
    return PresentedPreview(link_id=link_id, secret_digest=digest(secret))
