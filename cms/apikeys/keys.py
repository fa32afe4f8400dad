"""The key format, with no database: making a key, and telling a well-formed one.

``cms_<id>_<secret><checksum>``: a 12-character public id, 43 characters of secret
(256 random bits) and a 6-character CRC32 of all that precedes it, every part in
base62. The checksum lets a leak scanner (or this server, before any SQL) tell a real
key from a typo or a guess without a lookup.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import zlib
from dataclasses import dataclass

from cms.apikeys.models import KEY_ID_LENGTH

PREFIX = "cms_"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SECRET_LENGTH = 43  # 62**43 > 2**256
_CHECKSUM_LENGTH = 6  # 62**6 > 2**32
_FORMAT = re.compile(
    rf"cms_([0-9A-Za-z]{{{KEY_ID_LENGTH}}})_([0-9A-Za-z]{{{_SECRET_LENGTH}}})"
    rf"([0-9A-Za-z]{{{_CHECKSUM_LENGTH}}})"
)


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, digit = divmod(number, 62)
        digits.append(_ALPHABET[digit])
    return "".join(reversed(digits)).rjust(width, "0")


def _checksum(text: str) -> str:
    return _base62(zlib.crc32(text.encode()), _CHECKSUM_LENGTH)


def new_key_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(KEY_ID_LENGTH))


def new_secret() -> str:
    return _base62(secrets.randbits(256), _SECRET_LENGTH)


def compose(key_id: str, secret: str) -> str:
    """The key as given to its holder."""
    body = f"{PREFIX}{key_id}_{secret}"
    return body + _checksum(body)


def digest(secret: str) -> str:
    """What is stored of a secret: its SHA-256, in hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class PresentedKey:
    """A well-formed key someone sent: its id, and the digest of its secret."""

    key_id: str
    secret_digest: str


def looks_like_key(value: str) -> bool:
    return value.startswith(PREFIX)


def parse(value: str) -> PresentedKey | None:
    """The key in ``value``, or ``None`` if it is malformed or its checksum is wrong."""
    match = _FORMAT.fullmatch(value)
    if match is None:
        return None
    key_id, secret, checksum = match.groups()
    if not secrets.compare_digest(checksum, _checksum(value[:-_CHECKSUM_LENGTH])):
        return None
    return PresentedKey(key_id=key_id, secret_digest=digest(secret))


def compare(stored_digest: str, presented_digest: str) -> bool:
    """Whether two digests are equal, in time that does not depend on where they differ."""
    return secrets.compare_digest(stored_digest, presented_digest)
