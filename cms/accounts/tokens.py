"""The tokens in emailed links: signed with the site's key, naming one
:class:`~cms.accounts.models.AccountLink` and its purpose, expiring with it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jwt

ALGORITHM = "HS256"
# Keeps these tokens apart from bearer tokens signed with the same key.
AUDIENCE = "cms:account-link"


def sign(*, link_id: int, purpose: str, expires_at: datetime, secret_key: str) -> str:
    claims = {"lnk": link_id, "pur": purpose, "exp": expires_at, "aud": AUDIENCE}
    return jwt.encode(claims, secret_key, algorithm=ALGORITHM)


def read(token: str, *, purpose: str, secret_key: str) -> int | None:
    """The link id a valid, unexpired token for ``purpose`` names; ``None`` otherwise."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret_key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["lnk", "pur", "exp", "aud"]},
        )
    except (jwt.InvalidTokenError, ValueError, TypeError):
        return None
    if claims.get("pur") != purpose or not isinstance(claims.get("lnk"), int):
        return None
    return int(claims["lnk"])
