"""Prometheus metrics: what an operator watches, and the ``/metrics`` page that shows it.

Values live in this process, or, when ``PROMETHEUS_MULTIPROC_DIR`` names a directory
(``cms serve --workers N`` arranges one, see :mod:`cms.serving`), in files there
that every worker writes and any worker reads: a scrape then sees the whole server,
whichever worker answers it.
"""

import asyncio
import os
import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import prometheus_client
from fastapi import APIRouter, HTTPException, Request, Response, status
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool

from cms.config import Network, Settings, address_in
from cms.db import Database

# prometheus_client chooses between in-memory and file-backed values when it is first
# imported, from this variable; the scrape must read the same way.
MULTIPROCESS_DIRECTORY = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
METRICS_PATH = "/metrics"
UNMATCHED = "unmatched"
POOL_SAMPLE_SECONDS = 1.0

# A `_created` twin of every counter doubles the series for nothing a dashboard uses;
# the files of multiprocess mode have none, so single-process mode matches them.
prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]

REQUESTS = Counter(
    "cms_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
# Without the status: the counter has it, and it would multiply the buckets tenfold.
REQUEST_DURATION = Histogram(
    "cms_http_request_duration_seconds",
    "Time from a request's arrival until its response was sent, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
# Gauges add up over the workers that are alive: one total for the server.
IN_FLIGHT = Gauge(
    "cms_http_requests_in_flight",
    "Requests being served now.",
    multiprocess_mode="livesum",
)
POOL_SIZE = Gauge(
    "cms_db_pool_size",
    "Connections the pool keeps open (its pool_size), summed over workers.",
    ["database"],
    multiprocess_mode="livesum",
)
POOL_CHECKED_OUT = Gauge(
    "cms_db_pool_checked_out",
    "Connections in use by a request or command right now, summed over workers.",
    ["database"],
    multiprocess_mode="livesum",
)
POOL_OVERFLOW = Gauge(
    "cms_db_pool_overflow",
    "Connections open beyond the pool size right now, summed over workers.",
    ["database"],
    multiprocess_mode="livesum",
)
# Only with CMS_DATABASE_REPLICA_URLS: what each worker's health checks last found.
REPLICA_UP = Gauge(
    "cms_db_replica_up",
    "1 while reads may use the replica (up, replicating, not lagging), else 0; the lowest "
    "over workers.",
    ["replica"],
    multiprocess_mode="livemin",
)
REPLICA_LAG = Gauge(
    "cms_db_replica_lag_seconds",
    "Seconds the replica is behind the primary (Seconds_Behind_Master; -1: unknown, as "
    "when it is down or not replicating), the highest over workers.",
    ["replica"],
    multiprocess_mode="livemax",
)
LOGIN_FAILURES = Counter(
    "cms_login_failures",
    "Sign-ins refused for a wrong email or password or an inactive account, by surface.",
    ["surface"],
)
LOGIN_LOCKOUTS = Counter(
    "cms_login_lockouts",
    "Sign-in attempts refused with 429 because a failure limit was reached, by surface.",
    ["surface"],
)
SIGNUP_REFUSALS = Counter(
    "cms_signup_refusals",
    "Anonymous sign-ups refused: rate_limited (429), not_allowed (sign-up closed), "
    "email_taken (409).",
    ["reason"],
)
MEDIA_UPLOADS = Counter("cms_media_uploads", "Images stored, by surface.", ["surface"])
MEDIA_REFUSALS = Counter(
    "cms_media_refusals",
    "Uploads refused: unsupported_type (415), too_large (413), invalid (422: undecodable "
    "or past the pixel cap), busy (503: every decoding slot taken).",
    ["reason"],
)
RENDITION_SECONDS = Histogram(
    "cms_media_rendition_seconds",
    "Time to encode and store every rendition of one image.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16),
)
# Zero from the start, so rate() works before the first event.
for _surface in ("api", "admin"):
    LOGIN_FAILURES.labels(_surface)
    LOGIN_LOCKOUTS.labels(_surface)
    MEDIA_UPLOADS.labels(_surface)
for _reason in ("unsupported_type", "too_large", "invalid", "busy"):
    MEDIA_REFUSALS.labels(_reason)
for _reason in ("rate_limited", "not_allowed", "email_taken"):
    SIGNUP_REFUSALS.labels(_reason)


def database_label(url: str) -> str:
    """The ``database`` label of an engine: its database's name (a SQLite file's name)."""
    name = make_url(url).database or "memory"
    return Path(name).name


def sample_pool(engine: Engine, label: str) -> None:
    """Record how much of ``engine``'s connection pool is in use now."""
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return
    POOL_SIZE.labels(label).set(pool.size())
    POOL_CHECKED_OUT.labels(label).set(pool.checkedout())
    # Below zero while fewer than `size` connections have been opened yet.
    POOL_OVERFLOW.labels(label).set(max(pool.overflow(), 0))


def sample_replicas(database: Database) -> None:
    """Record what the last health check of each replica found (nothing is asked here)."""
    if database.replicas is None:
        return
    for replica in database.replicas.replicas:
        REPLICA_UP.labels(replica.name).set(1 if replica.healthy else 0)
        REPLICA_LAG.labels(replica.name).set(-1 if replica.lag is None else replica.lag)


@asynccontextmanager
async def watching_pool(database: Database) -> AsyncIterator[None]:
    """Sample ``database``'s pool every :data:`POOL_SAMPLE_SECONDS` while the block runs.

    Sampled rather than counted on checkout and checkin: with several workers each
    process must write its own figures, and a sample is exact whatever the pool did
    in between (a failed checkout, an invalidated connection).
    """
    label = database_label(database.url)

    async def sample_forever() -> None:
        while True:
            sample_pool(database.engine, label)
            sample_replicas(database)
            await asyncio.sleep(POOL_SAMPLE_SECONDS)

    task = asyncio.create_task(sample_forever())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        for gauge in (POOL_SIZE, POOL_CHECKED_OUT, POOL_OVERFLOW):
            gauge.labels(label).set(0)
        if MULTIPROCESS_DIRECTORY is not None:
            # This worker is stopping: its gauges leave the sums now.
            multiprocess.mark_process_dead(os.getpid(), MULTIPROCESS_DIRECTORY)  # type: ignore[no-untyped-call]


def render(directory: str | None = MULTIPROCESS_DIRECTORY) -> bytes:
    """Every metric in Prometheus' text format: this process's, or every worker's that
    writes to ``directory``."""
    if directory is None:
        return prometheus_client.generate_latest(prometheus_client.REGISTRY)
    forget_dead_workers(directory)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return prometheus_client.generate_latest(registry)


_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db")


def forget_dead_workers(directory: str) -> None:
    """Drop the gauges of workers that died without saying so (killed, crashed).

    Counters and histograms stay: what a dead worker counted still happened.
    """
    pids = {
        int(match.group(1))
        for entry in os.listdir(directory)
        if (match := _LIVE_GAUGE_FILE.fullmatch(entry))
    }
    for pid in pids:
        if not _alive(pid):
            multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive, and not ours to judge
        return True
    return True


# Headers a proxy adds. Behind a proxy on the same host that nobody declared in
# CMS_TRUSTED_PROXIES, every request comes from loopback: one of these headers is then
# the only sign that the client is someone else.
_PROXY_HEADERS = frozenset({b"x-forwarded-for", b"forwarded", b"x-real-ip"})


def may_read_metrics(request: Request, allowed: Iterable[Network], proxies: list[Network]) -> bool:
    """Whether this request's client is one of ``allowed`` (``CMS_METRICS_ALLOW``).

    The client is the address :class:`~cms.middleware.RequestContextMiddleware` found
    (``X-Forwarded-For`` believed from trusted proxies only). Without trusted proxies a
    request that came through a proxy is refused, whatever address it came from.
    """
    if not proxies and any(name in _PROXY_HEADERS for name, _ in request.scope["headers"]):
        return False
    return address_in(request.scope.get("state", {}).get("client_address"), allowed)


router = APIRouter()


@router.get(METRICS_PATH, include_in_schema=False)
def read_metrics(request: Request) -> Response:
    """The metrics, for the addresses in ``CMS_METRICS_ALLOW``; a plain 404 for others."""
    settings: Settings = request.app.state.settings
    if not may_read_metrics(request, settings.metrics_allow, settings.trusted_proxies):
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND)
    database: Database = request.app.state.database
    sample_pool(database.engine, database_label(database.url))
    return Response(render(), media_type=prometheus_client.CONTENT_TYPE_LATEST)
