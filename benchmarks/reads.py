"""The read benchmark: the CMS's read path against the floor, on MariaDB, driven by wrk.

    .venv/bin/python -m benchmarks.reads                    # 1,000,000 articles
    .venv/bin/python -m benchmarks.reads --articles 20000   # a quick run

See benchmarks/README.md for what each scenario measures and how.
"""

import argparse
import json
import os
import platform
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from benchmarks import profiling, targets
from benchmarks.client import admin_sign_in, fetch
from benchmarks.dataset import (
    Dataset,
    Wanted,
    prepare,
    server_settings,
    wait_for_queries,
)
from benchmarks.load import Load, Measurement, run_wrk, wrk_path
from benchmarks.processes import (
    Children,
    Interrupted,
    children,
    database_server_pids,
    free_port,
    memory_kib,
    wait_idle,
    wait_ready,
    worker_pids,
)
from benchmarks.scenarios import Features, Scenario, build, discover, write_pages
from benchmarks.targets import Outcome, Verdict

HERE = Path(__file__).parent
REPOSITORY = HERE.parent
DEFAULT_SERVER = "mysql+mysqldb://root@127.0.0.1:3306"
FULL_SIZE = 1_000_000
PROFILED = ("article", "list_first", "page_article", "page_home")
# Below this many requests in a run, its percentiles rest on too few samples to compare.
FEW_REQUESTS = 200


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.reads", description=__doc__.split("\n\n")[0]
    )
    add = parser.add_argument
    add("--articles", type=int, default=FULL_SIZE, help="articles in the database")
    add("--authors", type=int, default=1_000, help="demo authors they are spread over")
    add("--seed", type=int, default=1, help="seed of the demo content and of the id sample")
    add(
        "--database-url",
        help="MariaDB database to build or reuse (default: cms_bench for 1,000,000 articles, "
        "cms_bench_<N> for N, so a quick run never replaces the full one)",
    )
    add("--rebuild", action="store_true", help="rebuild the database even if reusable")
    add("--prepare-only", action="store_true", help="build (or check) the database and stop")
    add("--duration", type=float, default=10, help="seconds measured per scenario")
    add("--warmup", type=float, default=2, help="seconds of unmeasured load before each")
    add(
        "--repeat",
        type=int,
        default=1,
        help="measured runs per scenario and server, alternating CMS and floor; the median "
        "run is reported (3 on a busy machine)",
    )
    add("--threads", type=int, default=2, help="wrk threads")
    add("--connections", type=int, default=16, help="connections for most scenarios")
    add("--narrow-connections", type=int, default=4, help="connections for search and tag")
    add("--workers", default="1,2", help="worker counts to serve with, in turn")
    add("--ids", type=int, default=10_000, help="published ids spread over by the id scenario")
    add("--search", default="garden", help="term for ?q= and the back-office search")
    add(
        "--quiet-load",
        type=float,
        default=0,
        help="before each worker count, wait (up to 10 min) for the 1-minute load average "
        "to fall below this (0: do not wait)",
    )
    add("--only", default="", help="comma-separated scenario keys to run (default: all)")
    add("--profile", action="store_true", help="py-spy profiles of the first worker count")
    add("--results", type=Path, default=HERE / "results", help="where results are written")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    wrk_path()
    if args.profile:
        profiling.py_spy()
    started = datetime.now(UTC)
    run_dir = args.results / started.strftime("reads-%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    if args.database_url is None:
        name = "cms_bench" if args.articles == FULL_SIZE else f"cms_bench_{args.articles}"
        args.database_url = f"{DEFAULT_SERVER}/{name}"
    wanted = Wanted(args.database_url, args.articles, args.authors, args.seed)
    env = {
        **os.environ,
        "CMS_DATABASE_URL": args.database_url,
        "CMS_ENVIRONMENT": "production",
        "CMS_SECRET_KEY": secrets.token_urlsafe(48),
    }
    report: dict[str, Any] = {"started": started.isoformat(), "machine": _machine()}
    report["arguments"] = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    with children() as started_processes:
        dataset = prepare(wanted, env, rebuild=args.rebuild, sample=args.ids)
        report["dataset"] = _dataset_report(dataset)
        if args.prepare_only:
            print(json.dumps(report["dataset"], indent=2))
            return 0
        ids_file = run_dir / "ids.txt"
        ids_file.write_text("".join(f"{article_id}\n" for article_id in dataset.sample_ids))
        features: Features | None = None
        report["phases"] = []
        out = run_dir / "results.json"
        for workers in [int(n) for n in args.workers.split(",")]:
            phase, features = _phase(
                started_processes, args, env, dataset, features, workers, ids_file, run_dir
            )
            report["phases"].append(phase)
            report["features"] = {
                **asdict(features),
                "list_parameters": sorted(features.list_parameters),
            }
            # Written after each worker count, so an interrupted run keeps what it measured.
            out.write_text(json.dumps(report, indent=2, default=str))
    report["finished"] = datetime.now(UTC).isoformat()
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"\nResults: {out}")
    return 0


def _phase(
    started: Children,
    args: argparse.Namespace,
    env: dict[str, str],
    dataset: Dataset,
    features: Features | None,
    workers: int,
    ids_file: Path,
    run_dir: Path,
) -> tuple[dict[str, Any], Features]:
    """Serve the CMS and the floor with ``workers`` workers each and run every scenario."""
    print(f"\n== {workers} worker(s) ==")
    settings = server_settings(dataset.wanted.url)
    print(
        f"  MariaDB {settings.get('version')}, buffer pool "
        f"{int(settings.get('innodb_buffer_pool_size', 0)) // 2**20} MiB"
    )
    if args.quiet_load > 0:
        _wait_for_quiet(args.quiet_load)
    # After a fresh load InnoDB flushes and purges for a while; other users of the same
    # server keep it busy for good, so this wait is bounded and only reported.
    waited = wait_idle(database_server_pids(), timeout=60)
    if waited >= 60:
        print("  note: the database server was still busy after 60 s; figures will be noisy")
    cms_port, floor_port = free_port(), free_port()
    bin_dir = Path(sys.executable).parent
    cms_log, floor_log = run_dir / f"cms-{workers}w.log", run_dir / f"floor-{workers}w.log"
    with cms_log.open("wb") as cms_out, floor_log.open("wb") as floor_out:
        cms = _serve(started, [str(bin_dir / "cms"), "serve"], cms_port, workers, env, cms_out)
        floor = _serve(
            started,
            [str(bin_dir / "uvicorn"), "benchmarks.floor:app"],
            floor_port,
            workers,
            env,
            floor_out,
        )
    wait_ready(cms, cms_port, cms_log)
    wait_ready(floor, floor_port, floor_log)
    if features is None:
        features = discover(cms_port, dataset, search=args.search)
        for note in features.notes:
            print(f"  note: {note}")
    cookie = admin_sign_in(cms_port, dataset.staff_email, dataset.staff_password)
    pages_file = write_pages(features.page_pattern, dataset.sample_slugs, run_dir / "pages.txt")
    scenarios = build(
        features,
        dataset,
        ids_file=ids_file,
        pages_file=pages_file,
        cookie=cookie,
        connections=args.connections,
        narrow_connections=args.narrow_connections,
        search=args.search,
    )
    only = {key for key in args.only.split(",") if key}
    load_before = os.getloadavg()
    outcomes: dict[str, Outcome] = {}
    for scenario in scenarios:
        if only and scenario.key not in only:
            outcomes[scenario.key] = Outcome(scenario, problem="not selected")
            continue
        outcome = _measure(started, args, scenario, cms, cms_port, floor, floor_port)
        outcomes[scenario.key] = outcome
        print(f"  {_row(outcome)}")
    load_after = os.getloadavg()
    peaks = {pid: memory_kib(pid) for pid in worker_pids(cms.pid)}
    peak_mib = [kib["VmHWM"] / 1024 for kib in peaks.values()]
    profiles = {}
    if args.profile and workers == int(args.workers.split(",")[0]):
        measured = [s for s in scenarios if outcomes[s.key].problem != "not selected"]
        profiles = _profiles(started, args, measured, worker_pids(cms.pid)[0], cms_port, run_dir)
    started.stop(cms)
    started.stop(floor)
    verdicts = targets.judge(outcomes, dataset.total_articles)
    memory = targets.memory(peak_mib)
    _print_table(workers, dataset, outcomes, verdicts, memory, peaks, load_before, load_after)
    phase = {
        "workers": workers,
        "database_server": settings,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "scenarios": {key: _outcome_report(o, verdicts.get(key)) for key, o in outcomes.items()},
        "worker_memory_kib": {str(pid): kib for pid, kib in peaks.items()},
        "memory_verdict": str(memory),
        "profiles": {key: profile.as_dict() for key, profile in profiles.items()},
        "logs": {"cms": str(cms_log), "floor": str(floor_log)},
    }
    return phase, features


def _wait_for_quiet(threshold: float, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while os.getloadavg()[0] >= threshold and time.monotonic() < deadline:
        time.sleep(5)
    load = os.getloadavg()[0]
    if load >= threshold:
        print(f"  note: load average still {load:.2f} after {timeout:.0f} s; figures will be noisy")


def _serve(
    started: Children,
    command: list[str],
    port: int,
    workers: int,
    env: dict[str, str],
    log: IO[bytes],
) -> subprocess.Popen[bytes]:
    argv = [*command, "--host=127.0.0.1", f"--port={port}", f"--workers={workers}"]
    return started.start(argv, env=env, stdout=log, stderr=subprocess.STDOUT)


def _first_request(load: Load) -> str:
    if load.ids_file is None:
        return load.path
    with load.ids_file.open() as ids:
        return load.path.replace("{id}", ids.readline().strip())


def _measure(
    started: Children,
    args: argparse.Namespace,
    scenario: Scenario,
    cms: subprocess.Popen[bytes],
    cms_port: int,
    floor: subprocess.Popen[bytes],
    floor_port: int,
) -> Outcome:
    """Check that the CMS (and the floor) answer as expected, then measure them in turn,
    ``--repeat`` times, keeping each side's median run."""
    outcome = Outcome(scenario)
    if scenario.unavailable or scenario.cms is None:
        outcome.problem = scenario.unavailable or "not available"
        # The floor's figure still shows what the missing feature is aiming at.
        if scenario.floor is not None:
            outcome.floor_runs = [
                _wrk(started, args, floor, floor_port, scenario.floor) for _ in range(args.repeat)
            ]
            outcome.floor = _median(outcome.floor_runs)
        return outcome
    reply = fetch(cms_port, _first_request(scenario.cms), headers=scenario.cms.headers)
    if reply.status != scenario.expect:
        outcome.problem = f"check failed: {reply.status}, expected {scenario.expect}"
        return outcome
    kind = reply.header("content-type") or ""
    if not scenario.same_json and not kind.startswith("text/html"):
        outcome.problem = f"check failed: {kind or 'no content type'}, expected an HTML page"
        return outcome
    if scenario.floor is not None and scenario.same_json:
        floor_reply = fetch(floor_port, _first_request(scenario.floor))
        outcome.same_answer = floor_reply.status == 200 and floor_reply.json() == reply.json()
    watcher = _MemoryWatch(worker_pids(cms.pid)) if scenario.watch_memory else None
    # Alternating keeps a burst of load from elsewhere from landing on one side only.
    for _ in range(args.repeat):
        if watcher is not None:
            with watcher:
                outcome.cms_runs.append(_wrk(started, args, cms, cms_port, scenario.cms))
        else:
            outcome.cms_runs.append(_wrk(started, args, cms, cms_port, scenario.cms))
        if scenario.floor is not None:
            outcome.floor_runs.append(_wrk(started, args, floor, floor_port, scenario.floor))
    outcome.cms = _median(outcome.cms_runs)
    outcome.floor = _median(outcome.floor_runs)
    if watcher is not None:
        outcome.cms_rss_kib = watcher.peak_kib
    return outcome


class _MemoryWatch:
    """The largest resident set (``VmRSS``) of the CMS workers while the block runs,
    sampled every 0.2 s: what a worker holds while it serves, not only at the end."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while True:
            for pid in self.pids:
                try:
                    self.peak_kib = max(self.peak_kib, memory_kib(pid)["VmRSS"])
                except (OSError, KeyError):
                    continue
            if self._stop.wait(0.2):
                return

    def __enter__(self) -> "_MemoryWatch":
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def _median(runs: list[Measurement]) -> Measurement | None:
    """The run with the median throughput (the lower one of an even number)."""
    if not runs:
        return None
    return sorted(runs, key=lambda run: run.requests_per_second)[(len(runs) - 1) // 2]


def _wrk(
    started: Children,
    args: argparse.Namespace,
    server: subprocess.Popen[bytes],
    port: int,
    load: Load,
) -> Measurement:
    """Warm up, then measure; each run starts on a server and a database that have
    finished the last one's requests."""
    pids = sorted({server.pid, *worker_pids(server.pid)})

    def settle() -> None:
        wait_idle(pids)
        wait_for_queries(args.database_url)

    settle()
    if args.warmup > 0:
        run_wrk(started, port, load, seconds=args.warmup, threads=args.threads)
        settle()
    measured = run_wrk(started, port, load, seconds=args.duration, threads=args.threads)
    settle()
    return measured


def _profiles(
    started: Children,
    args: argparse.Namespace,
    scenarios: list[Scenario],
    pid: int,
    port: int,
    run_dir: Path,
) -> dict[str, profiling.Profile]:
    found = {}
    for scenario in scenarios:
        if scenario.key in PROFILED and scenario.cms is not None:
            print(f"  profiling {scenario.title} (worker {pid})")
            found[scenario.key] = profiling.record(
                started,
                pid=pid,
                port=port,
                load=scenario.cms,
                seconds=args.duration,
                threads=args.threads,
                out=run_dir / f"profile-{scenario.key}",
            )
            _print_profile(scenario.title, found[scenario.key])
    return found


# Reporting


def _row(outcome: Outcome) -> str:
    cms = outcome.cms
    if cms is None:
        return f"{outcome.scenario.title}: {outcome.problem}"
    floor = f", floor {outcome.floor.requests_per_second:,.0f} req/s" if outcome.floor else ""
    return f"{outcome.scenario.title}: {cms.requests_per_second:,.0f} req/s{floor}"


def _ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _print_table(
    workers: int,
    dataset: Dataset,
    outcomes: dict[str, Outcome],
    verdicts: dict[str, Verdict],
    memory: Verdict,
    peaks: dict[int, dict[str, int]],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> None:
    print(
        f"\n{workers} worker(s); {dataset.total_articles:,} articles "
        f"({dataset.published:,} published); load average before "
        f"{' '.join(f'{x:.2f}' for x in load_before)}, after "
        f"{' '.join(f'{x:.2f}' for x in load_after)} ({os.cpu_count()} CPUs)"
    )
    header = (
        f"{'scenario':<38} {'conns':>5} {'CMS req/s':>10} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'floor req/s':>11} {'p50 ms':>7} {'ratio':>6}  target"
    )
    print(header)
    print("-" * len(header))
    for key, outcome in outcomes.items():
        scenario, cms, floor = outcome.scenario, outcome.cms, outcome.floor
        title = scenario.title[:38]
        verdict = verdicts.get(key)
        if cms is None:
            if outcome.problem != "not selected":
                floor_note = (
                    f"; floor {floor.requests_per_second:,.0f} req/s, p50 {_ms(floor.p50_ms)} ms"
                    if floor
                    else ""
                )
                print(f"{title:<38} {'':>5} {outcome.problem}{floor_note}")
            continue
        conns = scenario.cms.connections if scenario.cms else 0
        floor_cells = (
            f"{floor.requests_per_second:>11,.0f} {_ms(floor.p50_ms):>7}"
            if floor
            else f"{'—':>11} {'':>7}"
        )
        ratio = f"{outcome.ratio:.2f}" if outcome.ratio is not None else "—"
        notes = [str(verdict)] if verdict else []
        if not cms.requests:
            notes.append("no request finished: latency unknown (> the run's duration)")
        elif cms.requests < FEW_REQUESTS:
            notes.append(f"only {cms.requests} requests: imprecise, raise --duration")
        if len(outcome.cms_runs) > 1:
            notes.append(f"runs spread {outcome.spread:.0%}")
        if cms.error_count:
            notes.append(f"{cms.error_count} errors {cms.errors}")
        if outcome.same_answer is False:
            notes.append("floor's answer differs from the CMS's!")
        if outcome.cms_rss_kib:
            notes.append(f"worker RSS ≤ {outcome.cms_rss_kib / 1024:.0f} MiB during the run")
        print(
            f"{title:<38} {conns:>5} {cms.requests_per_second:>10,.0f} {_ms(cms.p50_ms):>7} "
            f"{_ms(cms.p99_ms):>7} {floor_cells} {ratio:>6}  {'; '.join(notes)}"
        )
    rss = ", ".join(
        f"{pid}: peak {kib['VmHWM'] / 1024:.0f} MiB (now {kib['VmRSS'] / 1024:.0f})"
        for pid, kib in peaks.items()
    )
    print(f"CMS worker memory after the run: {rss} — {memory}")


def _print_profile(title: str, profile: profiling.Profile) -> None:
    print(f"\n  Profile of {title}: {profile.samples} samples of the GIL holder")
    print("  self time, top functions:")
    for name, share in profile.self_time:
        print(f"    {share:6.1%}  {name}")
    print("  self time by package:")
    for name, share in profile.packages:
        print(f"    {share:6.1%}  {name}")
    print("  inclusive time, top functions:")
    for name, share in profile.inclusive:
        print(f"    {share:6.1%}  {name}")


def _outcome_report(outcome: Outcome, verdict: Verdict | None) -> dict[str, Any]:
    scenario = outcome.scenario
    return {
        "title": scenario.title,
        "cms_request": asdict(scenario.cms) if scenario.cms else None,
        "floor_request": asdict(scenario.floor) if scenario.floor else None,
        "problem": outcome.problem,
        "cms": outcome.cms.as_dict() if outcome.cms else None,
        "floor": outcome.floor.as_dict() if outcome.floor else None,
        "cms_runs": [run.as_dict() for run in outcome.cms_runs],
        "floor_runs": [run.as_dict() for run in outcome.floor_runs],
        "ratio": outcome.ratio,
        "floor_same_answer": outcome.same_answer,
        "cms_worker_rss_kib_during": outcome.cms_rss_kib,
        "target": str(verdict) if verdict else None,
        "target_met": verdict.met if verdict else None,
    }


def _dataset_report(dataset: Dataset) -> dict[str, Any]:
    return {
        "database": dataset.wanted.name,
        "articles": dataset.total_articles,
        "published": dataset.published,
        "authors": dataset.wanted.authors,
        "seed": dataset.wanted.seed,
        "revision": dataset.wanted.marker()["revision"],
        "reused": dataset.reused,
        "seed_seconds": dataset.seed_seconds,
        "depth_90": dataset.depth,
        "ids_sampled": len(dataset.sample_ids),
    }


def _machine() -> dict[str, Any]:
    def output(*argv: str) -> str:
        try:
            done = subprocess.run(argv, capture_output=True, text=True, cwd=REPOSITORY, check=False)  # noqa: S603
        except OSError:
            return ""
        return (done.stdout or done.stderr).strip()

    return {
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "wrk": (output(wrk_path(), "-v").splitlines() or [""])[0],
        "commit": output("git", "rev-parse", "HEAD"),
        "uncommitted_changes": bool(output("git", "status", "--porcelain")),
        "uptime": output("uptime"),
        "time": time.time(),
    }


def run() -> int:
    """``main``, with an interruption reported in one line (the processes are already
    stopped by then)."""
    try:
        return main()
    except (KeyboardInterrupt, Interrupted) as exc:
        print(f"\nInterrupted ({exc or 'Ctrl-C'}); every process the run started is stopped.")
        return 130


if __name__ == "__main__":
    sys.exit(run())
