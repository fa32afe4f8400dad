"""Simultaneous writers over real HTTP: nothing acknowledged is lost, nothing collides."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from cms.roles import Role
from tests.conftest import LiveServer, UserFactory

Login = Callable[..., dict[str, str]]
WRITERS = 8


def test_simultaneous_articles_with_one_title_get_distinct_slugs(
    live_server: LiveServer, api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())

    def post(_: int) -> httpx.Response:
        with httpx.Client(base_url=live_server.url, timeout=60) as client:
            return client.post("/articles/", json={"title": "Breaking news"}, headers=headers)

    with ThreadPoolExecutor(WRITERS) as pool:
        responses = list(pool.map(post, range(WRITERS)))
    assert [response.status_code for response in responses] == [201] * WRITERS
    slugs = {response.json()["slug"] for response in responses}
    assert slugs == {"breaking-news"} | {f"breaking-news-{n}" for n in range(2, WRITERS + 1)}


def test_simultaneous_edits_are_all_applied_in_turn(
    live_server: LiveServer, api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    editor = make_user(role=Role.EDITOR)
    headers = login(editor)
    article = api.post("/articles/", json={"title": "Contested"}, headers=headers).json()

    def patch(number: int) -> httpx.Response:
        with httpx.Client(base_url=live_server.url, timeout=60) as client:
            return client.patch(
                f"/articles/{article['id']}", json={"title": f"Edit {number}"}, headers=headers
            )

    with ThreadPoolExecutor(WRITERS) as pool:
        responses = list(pool.map(patch, range(WRITERS)))
    assert [response.status_code for response in responses] == [200] * WRITERS
    # Each acknowledged edit got its own version: none overwrote another unseen.
    versions = sorted(response.json()["version"] for response in responses)
    assert versions == list(range(2, WRITERS + 2))
    final = api.get(f"/articles/{article['id']}", headers=headers).json()
    assert final["version"] == WRITERS + 1
    last = max(responses, key=lambda response: response.json()["version"])
    assert final["title"] == last.json()["title"]


def test_simultaneous_signups_with_one_email_create_one_account(
    live_server: LiveServer, api: httpx.Client, database: object
) -> None:
    def signup(_: int) -> httpx.Response:
        with httpx.Client(base_url=live_server.url, timeout=60) as client:
            return client.post(
                "/users/", json={"email": "race@example.com", "password": "12345678"}
            )

    with ThreadPoolExecutor(WRITERS) as pool:
        codes = sorted(response.status_code for response in pool.map(signup, range(WRITERS)))
    assert codes == [201] + [409] * (WRITERS - 1)
