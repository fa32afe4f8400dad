"""The loop every background worker runs: rounds of work until told to stop.

The webhook dispatcher and the mail worker both claim what is due from a table, handle
it, and sleep when there was nothing to do. A round that fails (the database
restarting, or not migrated yet) is retried at the next one, and said once rather than
every second; finished rows are pruned at most every ``prune_every`` seconds, when idle.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


def run_rounds(
    stop: threading.Event,
    *,
    run_once: Callable[[], int],
    prune: Callable[[], object],
    wait: Callable[[float], object],
    poll_seconds: float,
    prune_every: float,
    logger: logging.Logger,
    what: str,
) -> None:
    """Call ``run_once`` (how much it handled) until ``stop`` is set; after a round that
    handled nothing, ``wait(poll_seconds)`` (which returns early when this process
    has new work) and, now and then, ``prune()``."""
    last_failure = ""
    pruned_at = 0.0
    while not stop.is_set():
        try:
            busy = run_once()
            if not busy and time.monotonic() - pruned_at > prune_every:
                prune()
                pruned_at = time.monotonic()
            last_failure = ""
        except Exception as exc:
            busy = 0
            if str(exc) != last_failure:
                logger.exception("%s round failed; retrying", what)
            last_failure = str(exc)
        if not busy:
            wait(poll_seconds)
