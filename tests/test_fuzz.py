"""Schemathesis against the running API over real HTTP: every operation that
``/openapi.json`` declares, anonymously and with a token of each role, with all of its
checks (no server error; status codes, content types, headers and bodies as declared;
schema-invalid input refused and schema-valid input accepted; methods and ``Allow``;
created resources readable, deleted ones gone). Any failure fails the test.

Bounded for CI by ``CMS_FUZZ_EXAMPLES`` examples per operation and phase (default 20) and
a fixed seed; a longer, random run is one command (README, "Fuzzing the API"):

    CMS_FUZZ_EXAMPLES=500 CMS_FUZZ_SEED=random .venv/bin/pytest tests/test_fuzz.py
"""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from cms.articles.models import ArticleStatus
from cms.db import utcnow
from cms.roles import Role
from tests.conftest import ArticleFactory, LiveServer, UserFactory

ROOT = Path(__file__).resolve().parent.parent
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
EXAMPLES = os.environ.get("CMS_FUZZ_EXAMPLES", "20")
SEED = os.environ.get("CMS_FUZZ_SEED", "20261129")


@pytest.mark.parametrize("role", ["anonymous", "author", "editor", "admin"])
def test_the_api_answers_as_its_schema_declares(
    role: str,
    live_server: LiveServer,
    api: httpx.Client,
    make_user: UserFactory,
    make_article: ArticleFactory,
    login: object,
    tmp_path: Path,
) -> None:
    users = {kind: make_user(role=Role(kind)) for kind in ("author", "editor", "admin")}
    now = utcnow()
    for title, status, published_at in [
        ("Published", ArticleStatus.PUBLISHED, now - timedelta(days=1)),
        ("Scheduled", ArticleStatus.PUBLISHED, now + timedelta(days=1)),
        ("Draft", ArticleStatus.DRAFT, None),
    ]:
        make_article(
            author=users["author"],
            title=title,
            status=status,
            published_at=published_at,
        )
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{live_server.url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        EXAMPLES,
        "--request-timeout",
        "30",
        "--no-color",
    ]
    if SEED != "random":
        command += ["--seed", SEED]
    if role != "anonymous":
        headers = login(users[role])  # type: ignore[operator]
        command += ["--header", f"Authorization: {headers['Authorization']}"]
    result = subprocess.run(
        command,
        cwd=tmp_path,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks",
            "CMS_FUZZ_ROLE": role,
        },
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-20_000:] + result.stderr[-5_000:]
    assert "API Operations:" in result.stdout  # it ran, and tested what the schema declares
