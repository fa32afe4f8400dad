"""``/metrics``: what it counts, by which labels, and who may read it."""

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cms import metrics
from cms.app import create_app
from cms.articles.models import ArticleStatus
from cms.db import Database, utcnow
from cms.roles import Role
from tests.admin.conftest import admin_login
from tests.conftest import (
    ArticleFactory,
    HeldUpload,
    LiveServer,
    UserFactory,
    make_settings,
)

Login = Callable[..., dict[str, str]]


def scrape(client: httpx.Client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests_for(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float],
    route: str,
    status: str,
    method: str = "GET",
) -> float:
    return value(samples, "cms_http_requests_total", method=method, route=route, status=status)


def test_requests_are_counted_by_route_template_never_by_path(
    api: httpx.Client, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    author = make_user()
    published = [
        make_article(
            author=author, title=f"Post {n}", status=ArticleStatus.PUBLISHED, published_at=utcnow()
        )
        for n in range(2)
    ]
    before = scrape(api)
    for article in published:
        assert api.get(f"/articles/{article.id}").status_code == 200
    assert api.get("/articles/999999").status_code == 404
    assert api.get("/no/such/page-123").status_code == 404
    after = scrape(api)

    route = "/articles/{article_id}"
    assert requests_for(after, route, "200") - requests_for(before, route, "200") == 2
    assert requests_for(after, route, "404") - requests_for(before, route, "404") == 1
    assert requests_for(after, "unmatched", "404") - requests_for(before, "unmatched", "404") == 1
    duration_count = ("cms_http_request_duration_seconds_count", "GET", route)
    assert (
        value(after, duration_count[0], method="GET", route=route)
        - value(before, duration_count[0], method="GET", route=route)
        == 3
    )
    routes = {dict(labels).get("route") for _name, labels in after}
    assert not any(str(article.id) in str(label) for label in routes for article in published)
    assert not any("page-123" in str(label) for label in routes)


def test_back_office_requests_are_labelled_by_their_route_template(api: httpx.Client) -> None:
    before = scrape(api)
    assert api.get("/admin/login").status_code == 200
    assert api.get("/admin/article/list").status_code == 302  # to the login page
    assert api.get("/admin/statics/css/main.css").status_code in (200, 404)
    assert api.get("/admin/no-such-page").status_code == 404
    after = scrape(api)

    def grew(route: str, status: str) -> float:
        return requests_for(after, route, status) - requests_for(before, route, status)

    assert grew("/admin/login", "200") == 1
    assert grew("/admin/{identity}/list", "302") == 1
    assert grew("/admin/statics/{path}", "200") + grew("/admin/statics/{path}", "404") == 1
    assert grew("/admin/{path}", "404") == 1


def test_the_metrics_page_counts_neither_itself_nor_as_in_flight(api: httpx.Client) -> None:
    scrape(api)
    samples = scrape(api)
    assert not any(dict(labels).get("route") == "/metrics" for _name, labels in samples)
    assert value(samples, "cms_http_requests_in_flight") == 0


def test_in_flight_counts_requests_being_served(
    api: httpx.Client, live_server: LiveServer, make_user: UserFactory, login: Login
) -> None:
    upload = HeldUpload(
        live_server.url, "/articles/", json.dumps({"title": "Slow"}).encode(), login(make_user())
    )
    try:
        upload.start()
        assert value(scrape(api), "cms_http_requests_in_flight") == 1
        status, _body = upload.finish()
    finally:
        upload.close()
    assert status == 201
    assert value(scrape(api), "cms_http_requests_in_flight") == 0


def test_pool_use_is_reported_for_the_database(api: httpx.Client, database: Database) -> None:
    label = metrics.database_label(database.url)
    assert value(scrape(api), "cms_db_pool_checked_out", database=label) == 0
    with database.engine.connect(), database.engine.connect():
        samples = scrape(api)
        assert value(samples, "cms_db_pool_checked_out", database=label) == 2
        assert value(samples, "cms_db_pool_size", database=label) == database.engine.pool.size()  # type: ignore[attr-defined]
    assert value(scrape(api), "cms_db_pool_checked_out", database=label) == 0


def test_login_failures_and_lockouts_are_counted_by_surface(
    api: httpx.Client, make_user: UserFactory
) -> None:
    user = make_user(role=Role.EDITOR)
    before = scrape(api)
    for _ in range(5):  # the tests' CMS_LOGIN_MAX_FAILURES
        wrong = api.post("/auth/token", data={"username": user.email, "password": "not it!"})
        assert wrong.status_code == 401
    assert (
        api.post("/auth/token", data={"username": user.email, "password": "x"}).status_code == 429
    )
    other = make_user(role=Role.EDITOR)
    with httpx.Client(base_url=str(api.base_url)) as browser:
        assert admin_login(browser, other.email, "nope").status_code == 400
    after = scrape(api)

    def grew(name: str, surface: str) -> float:
        return value(after, name, surface=surface) - value(before, name, surface=surface)

    assert grew("cms_login_failures_total", "api") == 5
    assert grew("cms_login_lockouts_total", "api") == 1
    assert grew("cms_login_failures_total", "admin") == 1


def test_sign_up_refusals_are_counted_by_reason(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    taken = make_user()
    before = scrape(api)
    account = {"email": taken.email, "password": "long enough"}
    assert api.post("/users/", json=account).status_code == 409
    admin = make_user(role=Role.ADMIN)
    # An admin adding a user is not a sign-up.
    assert api.post("/users/", json=account, headers=login(admin)).status_code == 409
    after = scrape(api)
    grew = value(after, "cms_signup_refusals_total", reason="email_taken") - value(
        before, "cms_signup_refusals_total", reason="email_taken"
    )
    assert grew == 1


@pytest.fixture
def closed_site(database_url: str) -> Iterator[LiveServer]:
    """Sign-up closed, and one attempt per client address."""
    with LiveServer(
        create_app(make_settings(database_url, allow_signup=False, signup_max_per_client=1))
    ) as server:
        yield server


def test_sign_ups_refused_on_a_closed_site_are_counted(
    closed_site: LiveServer, database: Database
) -> None:
    with httpx.Client(base_url=closed_site.url) as client:
        before = scrape(client)
        account = {"email": "new@example.com", "password": "long enough"}
        assert client.post("/users/", json=account).status_code == 403
        assert client.post("/users/", json=account).status_code == 429
        after = scrape(client)
    for reason in ("not_allowed", "rate_limited"):
        grew = value(after, "cms_signup_refusals_total", reason=reason) - value(
            before, "cms_signup_refusals_total", reason=reason
        )
        assert grew == 1, reason


def test_metrics_are_a_plain_404_for_a_request_through_an_undeclared_proxy(
    api: httpx.Client,
) -> None:
    unknown = api.get("/no-such-page")
    for header in ("X-Forwarded-For", "X-Real-IP"):
        refused = api.get("/metrics", headers={header: "127.0.0.1"})
        assert refused.status_code == 404
        assert refused.content == unknown.content
        assert refused.headers["content-type"] == unknown.headers["content-type"]


@pytest.fixture
def proxied_site(database_url: str) -> Iterator[LiveServer]:
    """Behind a proxy at 127.0.0.1; metrics for the 10.0.0.0/8 network."""
    settings = make_settings(database_url, trusted_proxies="127.0.0.1", metrics_allow="10.0.0.0/8")
    with LiveServer(create_app(settings)) as server:
        yield server


@pytest.mark.parametrize(
    ("forwarded_for", "status"),
    [(None, 404), ("10.1.2.3", 200), ("203.0.113.9", 404), ("10.1.2.3, 203.0.113.9", 404)],
)
def test_metrics_are_for_the_allowed_clients_only(
    proxied_site: LiveServer, database: Database, forwarded_for: str | None, status: int
) -> None:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    response = httpx.get(f"{proxied_site.url}/metrics", headers=headers)
    assert response.status_code == status
    if status == 404:
        assert response.json() == {"detail": "Not Found"}
    else:
        assert "cms_http_requests_in_flight" in response.text


WORKER = """
import sys
from cms import metrics
metrics.REQUESTS.labels("GET", "/healthz", "200").inc({count})
metrics.IN_FLIGHT.inc({count})
print("ready", flush=True)
sys.stdin.read()
"""


def test_workers_figures_add_up_and_a_dead_workers_gauges_leave(tmp_path: Path) -> None:
    """Multiprocess mode, as ``cms serve --workers N`` runs it: counters are summed over
    every worker that ever ran, gauges over the workers that are alive."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def worker(count: int) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-c", WORKER.format(count=count)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None and process.stdout.readline() == "ready\n"
        return process

    alive, leaving = worker(3), worker(4)
    try:
        assert leaving.stdin is not None
        leaving.communicate("", timeout=30)  # exits without a word, as a killed worker would
        samples = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(metrics.render(str(tmp_path)).decode())
            for sample in family.samples
        }
    finally:
        alive.communicate("", timeout=30)
    assert requests_for(samples, "/healthz", "200") == 7
    assert value(samples, "cms_http_requests_in_flight") == 3
