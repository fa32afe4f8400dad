"""A site makes the theme its own: a folder of templates overrides the default ones file
by file, and a broken template is a clear 500 page for the reader and an error in the
log naming the file and line."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import httpx
import pytest

from cms.asgi import build_app
from tests.conftest import LiveServer, UserFactory, make_settings
from tests.site.conftest import Login, publish


def _theme(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "theme"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_a_theme_folder_overrides_templates_file_by_file(
    api: httpx.Client, make_user: UserFactory, login: Login, database_url: str, tmp_path: Path
) -> None:
    publish(api, login(make_user()), title="Themed")
    folder = _theme(
        tmp_path,
        {
            "404.html": '{% extends "base.html" %}{% block main %}<h1>Lost at sea</h1>'
            "{% endblock %}",
            "site.css": "body { color: rebeccapurple; }",
        },
    )
    default_sheet = re.search(r"/site/static/site\.\w+\.css", api.get("/").text)
    with LiveServer(build_app(make_settings(database_url, site_theme_dir=str(folder)))) as live:
        missing = httpx.get(f"{live.url}/posts/nowhere")
        assert missing.status_code == 404 and "<h1>Lost at sea</h1>" in missing.text
        page = httpx.get(f"{live.url}/posts/themed")
        assert page.status_code == 200 and "<h1>Themed</h1>" in page.text  # the default
        sheet = re.search(r"/site/static/site\.\w+\.css", page.text)
        assert sheet is not None and default_sheet is not None
        assert sheet.group() != default_sheet.group()
        assert httpx.get(f"{live.url}{sheet.group()}").text == "body { color: rebeccapurple; }"


def test_a_theme_folder_must_exist(database_url: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="CMS_SITE_THEME_DIR"):
        make_settings(database_url, site_theme_dir=str(tmp_path / "nope"))


@pytest.mark.parametrize(
    ("template", "text", "line"),
    [
        # A syntax error: the template does not compile.
        ("home.html", '{% extends "base.html" %}\n{% block main %}\n{% if %}\n{% endblock %}', 3),
        # A runtime error: it compiles, and fails while rendering.
        (
            "article.html",
            '{% extends "base.html" %}\n{% block main %}\n<p>ok</p>\n'
            "{{ article.title.no_such_thing.deeper }}\n{% endblock %}",
            4,
        ),
    ],
)
def test_a_broken_template_is_a_clear_500_page_and_an_error_naming_file_and_line(
    api: httpx.Client,
    make_user: UserFactory,
    login: Login,
    database_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    template: str,
    text: str,
    line: int,
) -> None:
    article = publish(api, login(make_user()), title="Broken theme")
    folder = _theme(tmp_path, {template: text})
    path = "/" if template == "home.html" else article["url"]
    with (
        LiveServer(build_app(make_settings(database_url, site_theme_dir=str(folder)))) as live,
        caplog.at_level(logging.ERROR, logger="cms.site"),
    ):
        answer = httpx.get(f"{live.url}{path}")
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "private, no-store"
    assert "Something went wrong" in answer.text
    for leak in ("Traceback", "jinja2", "no_such_thing", str(folder), "line"):
        assert leak not in answer.text, leak
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    expected = f"site template {folder / template}, line {line}"
    assert any(message.startswith(expected) for message in errors), errors
