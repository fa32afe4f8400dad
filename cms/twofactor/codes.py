"""TOTP codes (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits, one step of clock drift
either way) and recovery codes: generating, checking, showing. No database here.

pyotp computes the codes (maintained, typed, the reference Python implementation);
segno draws the enrolment QR code as inline SVG, in pure Python with no image library
and no JavaScript, so the page stays within the back office's content security policy.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from enum import StrEnum

import pyotp
import segno

from cms import sealing
from cms.roles import Role

ISSUER = "CMS"
DIGITS = 6
# Codes of the step before and after the current one are accepted too (clock drift).
DRIFT_STEPS = 1
RECOVERY_CODES = 10
# 10 characters of 31 that cannot be mistaken for one another (no i, l, o, 0, 1):
# 49.5 random bits, shown as two groups of five.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_LENGTH = 10
_SECRET_PURPOSE = b"cms two-factor secrets v1"
_RECOVERY_PURPOSE = b"cms recovery codes v1"


class Requirement(StrEnum):
    """Who the site requires two-factor sign-in from."""

    NOBODY = "nobody"
    # Editors and admins: they reach everyone's articles, the users and the settings.
    STAFF = "staff"
    # Everyone who uses the back office, authors too.
    EVERYONE = "everyone"

    def applies_to(self, role: Role) -> bool:
        if self is Requirement.EVERYONE:
            return True
        return self is Requirement.STAFF and role.is_staff


def new_secret() -> str:
    """A fresh TOTP seed: 160 random bits in base32 (RFC 4226's recommended length)."""
    return pyotp.random_base32(32)


def seal_secret(secret: str, site_key: str) -> str:
    return sealing.seal(secret, site_key, _SECRET_PURPOSE)


def unseal_secret(stored: str, site_key: str) -> str:
    """The seed; :class:`cms.sealing.Unsealable` if sealed under another site key."""
    return sealing.unseal(stored, site_key, _SECRET_PURPOSE)


def provisioning_uri(secret: str, account: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, digits=DIGITS).provisioning_uri(name=account, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """``uri`` as a QR code: an ``<svg>`` element to put in the page as it is."""
    return str(segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff"))


def grouped(secret: str) -> str:
    """The seed in groups of four, as people type it into an app."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def cleaned(code: str) -> str:
    """What someone typed, without the spaces and dashes they may have typed with it."""
    return "".join(code.split()).replace("-", "").lower()


def looks_like_totp(code: str) -> bool:
    return len(code) == DIGITS and code.isascii() and code.isdigit()


def matching_step(secret: str, code: str, at: datetime) -> int | None:
    """The time step ``code`` is the code of, within the drift allowed around ``at``;
    ``None`` if it is none of them."""
    if not looks_like_totp(code):
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS)
    now = totp.timecode(at)
    found = None
    # Every candidate is compared (in constant time), whichever matches.
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def new_recovery_codes() -> list[str]:
    """Ten fresh recovery codes, as shown (``abcde-fghjk``)."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def recovery_digest(code: str, site_key: str) -> str:
    """What is stored of a recovery code (see :class:`~cms.twofactor.models.RecoveryCode`)."""
    key = sealing.derive_key(site_key, _RECOVERY_PURPOSE)
    return hmac.new(key, cleaned(code).encode(), hashlib.sha256).hexdigest()
