"""Where a CMS worker spends its CPU under load: py-spy samples it while wrk drives one
scenario, and the samples are summed up by function and by package.

py-spy samples only the thread holding the GIL (``--gil``): time waiting for the database,
a lock or the next request is left out, so the shares are of the worker's Python work,
the part that code could trim, and that one GIL per worker makes the ceiling.
"""

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.load import Load, run_wrk
from benchmarks.processes import Children

_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^():]*):\d+\)$")
TOP = 10
# Frames under which everything runs (the thread and event loop starters, the CLI): their
# inclusive share says nothing about what to trim.
PLUMBING = frozenset({"threading", "typer", "asyncio", "uvicorn", "runpy"})


@dataclass
class Profile:
    samples: int = 0
    self_time: list[tuple[str, float]] = field(default_factory=list)
    inclusive: list[tuple[str, float]] = field(default_factory=list)
    packages: list[tuple[str, float]] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "self_share": self.self_time,
            "inclusive_share": self.inclusive,
            "package_self_share": self.packages,
            "files": self.files,
        }


def py_spy() -> str:
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
    return found


def record(
    children: Children,
    *,
    pid: int,
    port: int,
    load: Load,
    seconds: float,
    threads: int,
    out: Path,
) -> Profile:
    """Profile ``pid`` while wrk runs ``load``: collapsed stacks (``out``.txt, the input
    of any flame graph tool and of the summary) and a flame graph (``out``.svg)."""
    raw, svg = out.with_suffix(".txt"), out.with_suffix(".svg")
    for fmt, path in (("raw", raw), ("flamegraph", svg)):
        argv = [py_spy(), "record", f"--pid={pid}", f"--duration={round(seconds)}"]
        argv += [f"--format={fmt}", f"--output={path}", "--gil", "--nonblocking", "--rate=200"]
        spy = children.start(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        run_wrk(children, port, load, seconds=seconds, threads=threads)
        _, err = spy.communicate(timeout=seconds + 60)
        children.running.remove(spy)
        if spy.returncode != 0:
            raise RuntimeError(f"py-spy failed: {err.decode(errors='replace')}")
    summary = summarise(raw.read_text())
    summary.files = {"collapsed": str(raw), "flamegraph": str(svg)}
    return summary


def summarise(collapsed: str) -> Profile:
    """Shares of samples: in each function itself (self), under it (inclusive; plumbing
    left out), and in each top-level package (self)."""
    own: Counter[str] = Counter()
    under: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_name(frame) for frame in stack.split(";")]
        total += count
        own[frames[-1][0]] += count
        packages[frames[-1][1]] += count
        for name in {name for name, package in frames if package not in PLUMBING}:
            under[name] += count

    def shares(counter: Counter[str], limit: int) -> list[tuple[str, float]]:
        return [(name, round(n / total, 4)) for name, n in counter.most_common(limit)]

    if not total:
        return Profile()
    return Profile(total, shares(own, TOP), shares(under, 2 * TOP), shares(packages, TOP))


def _name(frame: str) -> tuple[str, str]:
    """``function (file)`` without the line, and the frame's top-level package."""
    match = _FRAME.match(frame)
    if match is None:
        return frame, "?"
    path = match.group("file")
    package = path.split("/", 1)[0].removesuffix(".py")
    if match.group("function") == "<module>":
        package = "runpy"
    return f"{match.group('function')} ({path})", package
