"""Driving a server with wrk and reading what it measured."""

import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.client import HOST
from benchmarks.processes import Children

LUA = Path(__file__).with_name("lua")
RESULT_PREFIX = "BENCH_RESULT "
# wrk's default (2 s) drops slower requests from the latency figures as timeouts: a deep
# back-office page must count, however slow.
TIMEOUT = "30s"


@dataclass(frozen=True)
class Load:
    """What one wrk run sends: a fixed path, or a template whose ``{id}`` takes each id
    of ``ids_file`` in turn."""

    path: str
    connections: int
    headers: Mapping[str, str]
    ids_file: Path | None = None


@dataclass(frozen=True)
class Measurement:
    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int]

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk (Debian's package)")
    return found


def run_wrk(
    children: Children, port: int, load: Load, *, seconds: float, threads: int
) -> Measurement:
    """One wrk run of ``seconds`` against ``port``, in its own process."""
    argv = [
        wrk_path(),
        f"--threads={threads}",
        f"--connections={max(load.connections, threads)}",
        f"--duration={max(1, round(seconds))}s",
        f"--timeout={TIMEOUT}",
    ]
    for name, value in load.headers.items():
        argv += ["--header", f"{name}: {value}"]
    url = f"http://{HOST}:{port}"
    if load.ids_file is None:
        argv += ["--script", str(LUA / "fixed.lua"), url + load.path]
    else:
        argv += ["--script", str(LUA / "spread.lua"), url]
        argv += ["--", str(load.ids_file), load.path, str(threads)]
    process = children.start(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate()
    children.running.remove(process)
    text = out.decode(errors="replace")
    for line in text.splitlines():
        if line.startswith(RESULT_PREFIX):
            return _measurement(json.loads(line[len(RESULT_PREFIX) :]))
    raise RuntimeError(f"wrk gave no result ({process.returncode}): {text}{err.decode()}")


def _measurement(raw: dict[str, Any]) -> Measurement:
    seconds = raw["duration_us"] / 1e6
    return Measurement(
        requests=raw["requests"],
        seconds=round(seconds, 3),
        requests_per_second=round(raw["requests"] / seconds, 1),
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        errors={key: int(value) for key, value in raw["errors"].items()},
    )
