"""What ``cms serve`` arranges around uvicorn: the directory where its workers share
their metrics, and a clean exit after a graceful stop.

prometheus_client keeps a process's figures in memory unless ``PROMETHEUS_MULTIPROC_DIR``
names a directory when it is first imported; then every process writes its own files
there and a scrape adds them up. ``cms serve`` sets the variable before the workers
start. This module must not import prometheus_client itself: ``cms serve`` with one
worker serves in its own process, which would then already have chosen.
"""

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def shared_metrics_directory(workers: int) -> Iterator[str | None]:
    """The directory for ``workers`` processes while the block runs, or ``None`` for one.

    A directory the operator named in ``PROMETHEUS_MULTIPROC_DIR`` is used whatever the
    number of workers, emptied first (figures of a previous run would be added to this
    one's) and kept. Otherwise a fresh one is made, and removed at the end.
    """
    given = os.environ.get(VARIABLE)
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        yield given
        return
    if workers <= 1:
        yield None
        return
    made = tempfile.mkdtemp(prefix="cms-metrics-")
    os.environ[VARIABLE] = made
    try:
        yield made
    finally:
        os.environ.pop(VARIABLE, None)
        shutil.rmtree(made, ignore_errors=True)


@contextmanager
def clean_exit_on_sigterm() -> Iterator[None]:
    """Let the process exit 0 after uvicorn stopped gracefully on SIGTERM.

    uvicorn catches SIGTERM, drains, and then raises the signal again for the handler it
    found: with the default one the process would die "killed by SIGTERM" (status -15)
    after a clean stop, and skip what should run after the server (removing the metrics
    directory). Its handler replaces this one while it serves.
    """
    previous = signal.signal(signal.SIGTERM, lambda _signal, _frame: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
