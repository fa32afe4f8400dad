"""Soak: the server's memory plateaus while large and hostile article bodies are written
and deleted over real HTTP, round after round.

Bounded by count (six rounds of seven requests; 10-30 s). The test server runs in this
process (uvicorn in a thread, see ``LiveServer``), so this process's resident set is the
server's.
"""

import gc
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from cms.articles.rendering import TOO_DEEP, TOO_LARGE
from cms.fields import BODY_MAX_BYTES
from tests.articles.test_rendering import filled, large_article, resident_bytes
from tests.conftest import UserFactory

Login = Callable[..., dict[str, str]]
# Connection pools, caches and each server thread's allocator arena fill during the first
# rounds (here RSS rose 50 MB over the first three, then 3 MB over eleven more).
WARM_UP_ROUNDS = 2
MEASURED_ROUNDS = 4
# Wide, as glibc keeps freed memory; cmarkgfm leaked over 60 MB a round of these bodies.
GROWTH_LIMIT_BYTES = 64 * 1024 * 1024

BODIES: list[tuple[str, str, int, str | None]] = [
    ("a 500 KB article", large_article(500_000), 201, None),
    ("a mebibyte of quotes", ">" * BODY_MAX_BYTES, 422, TOO_LARGE),
    ("a mebibyte of divs", filled("<div>"), 422, TOO_DEEP),
    (
        "unclosed bold, each different",
        "".join(f"<b title={n}>" for n in range(20_000)),
        422,
        TOO_DEEP,
    ),
    (
        "bold reopened in every div",
        filled(
            "<div>y</div>",
            head="<div>" + "".join(f"<b title={n}>" for n in range(64)) + "a</div>",
        ),
        201,
        None,
    ),
    ("misnested bold and div", filled("<b><div></b>"), 201, None),
    ("a mebibyte of brackets", filled("["), 201, None),
]


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads Linux's /proc")
def test_server_memory_plateaus_while_large_and_hostile_bodies_come_and_go(
    api: httpx.Client,
    make_user: UserFactory,
    login: Login,
) -> None:
    headers = login(make_user())

    def one_round() -> int:
        for name, body, status, message in BODIES:
            response = api.post("/articles/", json={"title": "Soak", "body": body}, headers=headers)
            assert response.status_code == status, (name, response.text[:200])
            if message is not None:
                assert response.json()["detail"][0]["msg"] == message, name
            else:
                deleted = api.delete(f"/articles/{response.json()['id']}", headers=headers)
                assert deleted.status_code == 204, name
        gc.collect()
        return resident_bytes()

    after_warm_up = [one_round() for _ in range(WARM_UP_ROUNDS)][-1]
    after_each = [one_round() for _ in range(MEASURED_ROUNDS)]
    grown = max(after_each) - after_warm_up
    figures = (
        f"RSS {after_warm_up >> 20} MB after the warm-up, then "
        f"{[rss >> 20 for rss in after_each]} MB after each of {MEASURED_ROUNDS} more rounds"
    )
    print(figures)  # shown with -rP: the soak's result is worth reading when it passes
    assert grown < GROWTH_LIMIT_BYTES, f"RSS grew {grown >> 20} MB: {figures}"
