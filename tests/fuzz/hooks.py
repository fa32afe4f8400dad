"""Schemathesis hooks for the fuzz tests (loaded through ``SCHEMATHESIS_HOOKS``).

Each covers a rule that depends on what the server holds, which no schema can state, and
nothing more (every other refusal of schema-valid input fails the test):

- Email addresses: the schema says ``format: email`` and, in words, that special-use
  domains (``.test``, ``.invalid``…) are refused. Schemathesis's own generator favours
  exactly those, so addresses come from Hypothesis's generator (IANA's top-level domains).
- A made-up ``cursor`` is not one the server signed (422, by design: tests/articles test
  forged cursors); ``skip`` beside one is refused too. A made-up ``current_password`` is
  wrong, a made-up ``reassign_to`` names no other user, a made-up ``cover_image_id`` no
  image of the caller's (422 naming that field); a made-up ``token`` is no reset link the
  server sent (400, POST /auth/password-reset/confirm). A made-up
  ``If-Match`` names no current version (412). A ``published_at`` is refused for a draft
  (a draft has no publication time) and for scheduling when it is not in the future: both
  depend on the article's state and the clock. A webhook's ``url`` is refused unless its
  host resolves to public addresses, which depends on DNS, not on the URL's shape.
- An uploaded file's content (an image of an accepted type, within the pixel cap) is
  checked from its bytes, which a schema states in words only: POST /media/ answering
  415, or 422 naming ``file``, to made-up bytes is expected.
- Accounts are visible to their owner and to staff only: a sign-up sent anonymously or by
  an author creates an account that the sender cannot read (its owner signs in for that).
"""

import json
import os
from typing import Any

import schemathesis
from hypothesis import strategies as st

schemathesis.openapi.format("email", st.emails())

# Fields whose acceptability depends on the server's state (or a file's content), not on
# their shape.
STATEFUL_FIELDS = {
    "cursor",
    "skip",
    "current_password",
    "reassign_to",
    "published_at",
    "url",
    "file",
    "cover_image_id",
}


def _refused_fields(response: Any) -> set[str]:
    try:
        errors = json.loads(response.content)["detail"]
        return {str(error["loc"][-1]) for error in errors}
    except (ValueError, KeyError, TypeError, IndexError):
        return set()


def _expected_refusal(case: Any, response: Any) -> bool:
    if response.status_code == 422:
        refused = _refused_fields(response)
        return bool(refused) and refused <= STATEFUL_FIELDS
    if response.status_code == 415:
        return bool(case.path == "/media/" and case.method.upper() == "POST")
    if response.status_code == 400:
        return bool(case.path == "/auth/password-reset/confirm")
    if response.status_code == 412:
        return any(name.lower() == "if-match" for name in case.headers or {})
    return False


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure but the expected refusals described above."""
    if failure.code == "ST202":
        return not _expected_refusal(case, response)
    if failure.code == "ST302" and os.environ.get("CMS_FUZZ_ROLE") in ("anonymous", "author"):
        return not (
            getattr(failure, "created_with", "") == "POST /users/" and response.status_code == 404
        )
    return True
