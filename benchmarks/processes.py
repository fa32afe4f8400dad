"""The processes a benchmark run starts, and the guarantee that it stops every one of them.

Each child runs in its own session (process group), so stopping it stops whatever it
forked too: uvicorn's supervisor and its workers, or py-spy and its target's sampler.
"""

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import IO

from benchmarks.client import fetch

# `cms serve` gives requests this long to finish on SIGTERM; a little more, then SIGKILL.
STOP_GRACE_SECONDS = 25


class Interrupted(Exception):
    """SIGTERM or SIGHUP arrived: unwind like Ctrl-C does, so every child is stopped."""


class Children:
    """Every process the run started; :meth:`stop_all` ends them, newest first."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        stdout: IO[bytes] | int | None = None,
        stderr: IO[bytes] | int | None = None,
    ) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(  # noqa: S603 (our own argv, never a shell)
            list(argv),
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
        self.running.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        """SIGTERM to its whole group, SIGKILL if it outstays the grace period."""
        if process in self.running:
            self.running.remove(process)
        _signal_group(process.pid, signal.SIGTERM)
        try:
            process.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
        # Workers outlive a supervisor that was killed: sweep the group either way.
        _signal_group(process.pid, signal.SIGKILL)

    def stop_all(self) -> None:
        for process in reversed(list(self.running)):
            self.stop(process)


def _signal_group(pgid: int, signum: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, signum)


@contextmanager
def children() -> Iterator[Children]:
    """A :class:`Children` whose processes are all stopped when the block ends, however
    it ends: normally, on an exception, on Ctrl-C, SIGTERM or SIGHUP."""

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        raise Interrupted(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    started = Children()
    try:
        yield started
    finally:
        # A second Ctrl-C while stopping must not leave servers behind.
        sigint = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            started.stop_all()
        finally:
            signal.signal(signal.SIGINT, sigint)
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_ready(
    process: subprocess.Popen[bytes], port: int, log: Path, timeout: float = 90.0
) -> None:
    """Wait until ``GET /readyz`` answers 200; fail with the log's tail if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{_tail(log)}")
        try:
            if fetch(port, "/readyz", timeout=5).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server not ready after {timeout:.0f}s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def worker_pids(pid: int) -> list[int]:
    """The processes that serve requests: uvicorn's workers when it runs several (children
    of the supervisor started by multiprocessing), else the process itself."""
    workers = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        # The resource tracker is a child too, but serves nothing.
        if parent == pid and b"spawn_main" in cmdline:
            workers.append(int(entry.name))
    return sorted(workers) or [pid]


def memory_kib(pid: int) -> dict[str, int]:
    """``VmHWM`` (peak resident) and ``VmRSS`` (resident now) of ``pid``, in KiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            found[key] = int(value.split()[0])
    return found


def _cpu_ticks(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total


def wait_idle(pids: list[int], *, timeout: float = 120.0) -> float:
    """Wait until ``pids`` have used (almost) no CPU for half a second; the seconds waited.

    When wrk stops, the server still works through the requests it had queued; with a
    slow page that is seconds of work that would otherwise be charged to the next run."""
    started = time.monotonic()
    quiet = 0
    before = _cpu_ticks(pids)
    while quiet < 2 and time.monotonic() - started < timeout:
        time.sleep(0.25)
        now = _cpu_ticks(pids)
        # One tick is 10 ms: 2 ticks in 250 ms is under 10% of one CPU.
        quiet = quiet + 1 if now - before <= 2 else 0
        before = now
    return time.monotonic() - started


def database_server_pids() -> list[int]:
    """This machine's MariaDB/MySQL server processes (none if it runs elsewhere)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() in (
                "mariadbd",
                "mysqld",
            ):
                found.append(int(entry.name))
        except OSError:
            continue
    return found
