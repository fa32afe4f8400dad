"""How long ``POST /auth/password-reset`` takes for an address with an account and for
one without, over real HTTP on loopback, interleaved so both see the same machine.

    .venv/bin/python -m benchmarks.reset_timing [--requests 200] [--database-url URL]

Without ``--database-url`` a fresh SQLite file in a temporary folder is used. Prints the
mean, median and 95th percentile of each, in milliseconds. Nothing is sent: the mail
worker is not running, the messages stay queued.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from cms import migrations
from cms.asgi import build_app
from cms.config import Settings
from cms.users.models import User

KNOWN = "known@example.com"
# One address each, asked again and again: both then update their throttle counter in
# place (a new address each time would insert a counter row, a cost of its own).
UNKNOWN = "nobody@example.com"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _summary(name: str, seconds: list[float]) -> str:
    ms = sorted(value * 1000 for value in seconds)
    p95 = ms[max(0, round(0.95 * len(ms)) - 1)]
    return (
        f"{name:8} n={len(ms)} mean={statistics.fmean(ms):.2f} ms "
        f"p50={statistics.median(ms):.2f} ms p95={p95:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="cms-reset-timing-"))
    url = args.database_url or f"sqlite:///{folder / 'cms.sqlite3'}"
    migrations.upgrade(url)
    settings = Settings(
        _env_file=None,
        environment="test",
        database_url=url,
        secret_key="x" * 48,
        password_reset_max_per_address=1_000_000,
        password_reset_max_per_client=1_000_000,
        mail_dir=folder / "mail",
    )
    app = build_app(settings)
    user = User(email="known@example.com", name="Known")
    user.set_password("a password of some length")
    with app.state.database.transaction() as session:
        session.add(user)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for _ in range(10):  # warm up connections and caches
                client.post("/auth/password-reset", json={"email": "warm@example.com"})
            for number in range(args.requests):
                for kind in ("known", "unknown") if number % 2 else ("unknown", "known"):
                    email = KNOWN if kind == "known" else UNKNOWN
                    started = time.perf_counter()
                    answer = client.post("/auth/password-reset", json={"email": email})
                    timings[kind].append(time.perf_counter() - started)
                    assert answer.status_code == 202, answer.text
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.database.dispose()
    for kind, seconds in timings.items():
        print(_summary(kind, seconds))


if __name__ == "__main__":
    main()
