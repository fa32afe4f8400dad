"""Opaque, tamper-evident page cursors.

A cursor is a small JSON document (where the last page ended) signed with the site's key:
clients cannot read meaning into it or forge one, and the server needs no state to
continue a listing.
"""

import base64
import hashlib
import hmac
import json
from typing import Any

from cms.errors import InvalidInput

_SIGNATURE_BYTES = 16
BAD_CURSOR = "cursor is not one this server handed out; start again without it"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str, payload: bytes) -> bytes:
    return hmac.new(secret.encode(), b"cursor\0" + payload, hashlib.sha256).digest()[
        :_SIGNATURE_BYTES
    ]


def encode(secret: str, position: dict[str, Any]) -> str:
    payload = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return f"{_b64(payload)}.{_b64(_sign(secret, payload))}"


def decode(secret: str, cursor: str) -> dict[str, Any]:
    """The position a cursor names; :class:`InvalidInput` (422) for anything else."""
    try:
        payload_text, signature_text = cursor.split(".")
        payload, signature = _unb64(payload_text), _unb64(signature_text)
        if not hmac.compare_digest(signature, _sign(secret, payload)):
            raise ValueError("bad signature")
        position = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("cursor", BAD_CURSOR) from None
    if not isinstance(position, dict):
        raise InvalidInput("cursor", BAD_CURSOR)
    return position
