"""Values sealed under the site key: readable back with it, and with nothing else."""

import pytest

from cms import sealing
from cms.webhooks import signing

SITE_KEY = "a site key long enough for the tests, not a real one"
# Sealed by cms.webhooks.signing as it was before cms.sealing.
SEALED_BEFORE = (
    "v1:LjJVOKHmremji5Aau1XGHGjW9VZoknA5K2PlpVCcdES+04/NqXpsrAn+U7qpKVyqMa8GxvHhYKwjEMEiXiptxQ8B"
)


def test_a_sealed_value_opens_with_its_key_and_purpose_only() -> None:
    stored = sealing.seal("JBSWY3DPEHPK3PXP", SITE_KEY, b"purpose one")
    assert "JBSWY3DPEHPK3PXP" not in stored
    assert sealing.unseal(stored, SITE_KEY, b"purpose one") == "JBSWY3DPEHPK3PXP"
    with pytest.raises(sealing.Unsealable):
        sealing.unseal(stored, SITE_KEY, b"purpose two")
    with pytest.raises(sealing.Unsealable):
        sealing.unseal(stored, "another site key entirely, also long", b"purpose one")
    with pytest.raises(sealing.Unsealable):
        sealing.unseal("v1:not base64!", SITE_KEY, b"purpose one")


def test_each_seal_uses_a_fresh_nonce() -> None:
    assert sealing.seal("same", SITE_KEY, b"p") != sealing.seal("same", SITE_KEY, b"p")


def test_webhook_secrets_sealed_before_the_move_still_open() -> None:
    """The webhook scheme is unchanged: a value sealed by the code before this module
    existed opens the same."""
    assert signing.unseal(SEALED_BEFORE, SITE_KEY) == "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LKLSm4"
    secret = signing.new_secret()
    assert signing.unseal(signing.seal(secret, SITE_KEY), SITE_KEY) == secret
