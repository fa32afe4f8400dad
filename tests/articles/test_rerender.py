"""``cms rerender``: stored HTML brought up to today's renderer in batches, resumable, never
overwriting a save made meanwhile; and every save records the renderer it used."""

from collections.abc import Callable

import httpx
import pyromark
import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from cms.articles import rerender
from cms.articles.models import Article, ArticleRevision, ArticleStatus
from cms.articles.rendering import RENDERER_VERSION, TOO_LARGE, render_markdown
from cms.cli import app
from cms.db import Database
from cms.fields import BODY_MAX_BYTES
from tests.conftest import TEST_SECRET_KEY, ArticleFactory, UserFactory

Login = Callable[..., dict[str, str]]

GFM_BODY = "See www.example.org\n\n- [x] done\n"
PLAIN_BODY = "Just *prose*."


@pytest.fixture
def cli_env(database: Database) -> dict[str, str]:
    return {
        "CMS_DATABASE_URL": database.url,
        "CMS_ENVIRONMENT": "test",
        "CMS_SECRET_KEY": TEST_SECRET_KEY,
    }


def as_rendered_by_renderer_0(database: Database, article_id: int) -> None:
    """Store the article as the renderer before GFM left it."""
    with database.transaction() as session:
        body = session.scalars(select(Article.body).where(Article.id == article_id)).one()
        session.execute(
            update(Article)
            .where(Article.id == article_id)
            .values(
                body_html=pyromark.html(
                    body,
                    options=pyromark.Options.ENABLE_TABLES | pyromark.Options.ENABLE_STRIKETHROUGH,
                ),
                rendered_with=0,
            )
        )


def stored(database: Database, article_id: int) -> Article:
    with database.reading() as session:
        article = session.get(Article, article_id)
        assert article is not None
        return article


def revisions(database: Database) -> int:
    with database.reading() as session:
        return session.scalar(select(func.count()).select_from(ArticleRevision)) or 0


def test_rerender_updates_old_html_and_bumps_the_version_only_where_it_changed(
    database: Database,
    make_user: UserFactory,
    make_article: ArticleFactory,
    cli_env: dict[str, str],
) -> None:
    author = make_user()
    gfm = make_article(author=author, body=GFM_BODY, status=ArticleStatus.PUBLISHED)
    plain = make_article(author=author, title="Plain", body=PLAIN_BODY)
    for article in (gfm, plain):
        as_rendered_by_renderer_0(database, article.id)
    before = {article.id: stored(database, article.id) for article in (gfm, plain)}
    assert "<a" not in before[gfm.id].body_html and "[x]" in before[gfm.id].body_html
    history = revisions(database)

    result = CliRunner().invoke(app, ["rerender"], env=cli_env)

    assert result.exit_code == 0, result.output
    assert "2/2 checked: 1 changed, 1 unchanged, 0 saved meanwhile, 0 refused" in result.output
    assert f"Renderer {RENDERER_VERSION}: 1 articles re-rendered, 1 already up to date" in (
        result.output
    )
    after = stored(database, gfm.id)
    assert after.body_html == render_markdown(GFM_BODY)
    assert '<a href="http://www.example.org"' in after.body_html
    assert after.version == before[gfm.id].version + 1  # a new ETag
    assert after.rendered_with == RENDERER_VERSION
    assert after.updated_at == before[gfm.id].updated_at  # not an editorial change
    unchanged = stored(database, plain.id)
    assert unchanged.version == before[plain.id].version
    assert unchanged.rendered_with == RENDERER_VERSION
    assert revisions(database) == history


def test_a_second_run_finds_nothing_to_do(
    database: Database,
    make_user: UserFactory,
    make_article: ArticleFactory,
    cli_env: dict[str, str],
) -> None:
    article = make_article(author=make_user(), body=GFM_BODY)
    as_rendered_by_renderer_0(database, article.id)
    assert CliRunner().invoke(app, ["rerender"], env=cli_env).exit_code == 0
    version = stored(database, article.id).version

    again = CliRunner().invoke(app, ["rerender"], env=cli_env)

    assert again.exit_code == 0, again.output
    assert "checked" not in again.output  # no batch at all
    assert "0 articles re-rendered, 0 already up to date" in again.output
    assert stored(database, article.id).version == version


class Interrupted(Exception):
    pass


def test_an_interrupted_run_resumes_where_it_stopped_batch_by_batch(
    database: Database,
    make_user: UserFactory,
    make_article: ArticleFactory,
    cli_env: dict[str, str],
) -> None:
    author = make_user()
    ids = [make_article(author=author, title=f"A{n}", body=GFM_BODY).id for n in range(5)]
    for article_id in ids:
        as_rendered_by_renderer_0(database, article_id)

    def stop(_progress: rerender.RerenderProgress) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):  # killed after its first transaction
        rerender.rerender_articles(database, batch_size=2, on_batch=stop)
    assert [stored(database, i).rendered_with for i in ids] == [1, 1, 0, 0, 0]

    result = CliRunner().invoke(app, ["rerender", "--batch-size", "2"], env=cli_env)

    assert result.exit_code == 0, result.output
    assert result.output.count("checked:") == 2  # batches of 2 and 1: what was left
    assert "3/3 checked: 3 changed" in result.output
    assert all(stored(database, i).body_html == render_markdown(GFM_BODY) for i in ids)
    assert [stored(database, i).version for i in ids] == [2] * 5


def test_an_article_saved_while_its_batch_renders_keeps_that_save(
    database: Database,
    make_user: UserFactory,
    make_article: ArticleFactory,
    api: httpx.Client,
    login: Login,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    author = make_user()
    article = make_article(author=author, body=GFM_BODY)
    as_rendered_by_renderer_0(database, article.id)
    headers = login(author)

    def render_while_the_author_saves(body: str) -> str:
        # The author's save commits between the batch's read and its write.
        saved = api.patch(
            f"/articles/{article.id}", json={"body": "Edited www.example.com"}, headers=headers
        )
        assert saved.status_code == 200, saved.text
        return render_markdown(body)

    monkeypatch.setattr(rerender, "render_markdown", render_while_the_author_saves)
    result = rerender.rerender_articles(database)

    assert (result.changed, result.unchanged, result.skipped) == (0, 0, 1)
    after = stored(database, article.id)
    assert after.body == "Edited www.example.com"
    assert after.body_html == render_markdown("Edited www.example.com")
    assert after.version == 2  # the save's, not bumped again
    assert after.rendered_with == RENDERER_VERSION  # the save recorded its renderer


def test_a_body_todays_renderer_refuses_keeps_its_html_and_is_reported(
    database: Database,
    make_user: UserFactory,
    make_article: ArticleFactory,
    cli_env: dict[str, str],
) -> None:
    # Renderer 0 wrote this as 1 MiB of text; as links it passes the 4 MiB bound.
    links = "www.a.b " * (BODY_MAX_BYTES // 8)
    article = make_article(author=make_user(), body="short")
    with database.transaction() as session:
        session.execute(
            update(Article)
            .where(Article.id == article.id)
            .values(body=links, body_html="<p>old</p>", rendered_with=0)
        )

    result = CliRunner().invoke(app, ["rerender"], env=cli_env)

    assert result.exit_code == 0, result.output
    assert f"Article {article.id} kept its old HTML: {TOO_LARGE}" in result.output
    assert "1 refused" in result.output
    after = stored(database, article.id)
    assert (after.body_html, after.rendered_with, after.version) == ("<p>old</p>", 0, 1)


def test_saving_through_the_api_records_the_renderer(
    database: Database, api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())
    created = api.post("/articles/", json={"title": "T", "body": "x"}, headers=headers)
    article_id = created.json()["id"]
    assert stored(database, article_id).rendered_with == RENDERER_VERSION
    as_rendered_by_renderer_0(database, article_id)
    api.patch(f"/articles/{article_id}", json={"body": "www.example.org"}, headers=headers)
    assert stored(database, article_id).rendered_with == RENDERER_VERSION
