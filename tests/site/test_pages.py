"""The readers' pages over real HTTP: what they show, and what they never show."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from cms.articles import reads
from cms.articles.models import Article, ArticleStatus
from cms.db import Database, utcnow
from tests.conftest import ArticleFactory, UserFactory
from tests.site.conftest import Login, Page, older_link, publish


def test_the_home_page_lists_the_newest_first_and_pages_on_with_older(
    api: httpx.Client, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    author = make_user(name="Home Writer")
    now = utcnow()
    for number in range(12):
        make_article(
            author=author,
            title=f"Post number {number}",
            body=f"Text of post {number}.",
            status=ArticleStatus.PUBLISHED,
            published_at=now - timedelta(hours=number + 1),
        )
    make_article(author=author, title="A draft nobody sees")
    first = api.get("/")
    assert first.status_code == 200
    assert first.headers["content-type"] == "text/html; charset=utf-8"
    titles = [f"Post number {n}" for n in range(12)]
    shown = [title for title in titles if f">{title}</a>" in first.text]
    assert shown == titles[:10]
    assert first.text.index("Post number 0") < first.text.index("Post number 9")
    assert "A draft nobody sees" not in first.text
    older = older_link(first.text)
    assert older is not None and older.startswith("/?cursor=")
    second = api.get(older)
    assert second.status_code == 200
    assert [t for t in titles if f">{t}</a>" in second.text] == titles[10:]
    assert older_link(second.text) is None
    # The way to everything else stays one click away, and nothing needs a script.
    for link in ('href="/admin"', 'href="/docs"', 'href="/feed.xml"'):
        assert link in first.text
    assert "<script" not in first.text
    assert api.head("/").status_code == 200


def test_an_article_page_shows_the_article(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    writer = make_user(name="Ada Page")
    article = publish(
        api,
        login(writer),
        title="Reading pages",
        body="Some *emphasis* here.\n\n" + "word " * 500,
        tags=["Machine Learning", "Python"],
    )
    response = api.get(f"/posts/{article['slug']}")
    assert response.status_code == 200
    text = response.text
    assert "<h1>Reading pages</h1>" in text
    assert f'<a href="/author/{writer.id}" rel="author">Ada Page</a>' in text
    assert f'<time datetime="{article["published_at"].replace("Z", "+00:00")}">' in text
    assert "3 min read" in text  # 503 words
    assert '<a href="/tag/machine-learning" rel="tag">Machine Learning</a>' in text
    assert '<a href="/tag/python" rel="tag">Python</a>' in text
    assert "<em>emphasis</em>" in text
    assert '<html lang="en">' in text and 'href="#main"' in text and '<main id="main"' in text
    assert article["url"] == "/posts/reading-pages"


def test_drafts_scheduled_and_trashed_articles_are_the_404_page(
    api: httpx.Client,
    make_user: UserFactory,
    make_article: ArticleFactory,
    login: Login,
    database: Database,
) -> None:
    author = make_user()
    make_article(author=author, title="Draft one")
    soon = make_article(
        author=author,
        title="Scheduled one",
        status=ArticleStatus.PUBLISHED,
        published_at=utcnow() + timedelta(hours=1),
    )
    headers = login(author)
    trashed = publish(api, headers, title="Trashed one")
    assert api.delete(f"/articles/{trashed['id']}", headers=headers).status_code == 204
    for slug in ("draft-one", "scheduled-one", "trashed-one", "never-was"):
        # Even for their author: the site reads as anyone does.
        page = api.get(f"/posts/{slug}", headers=headers)
        assert page.status_code == 404, slug
        assert page.headers["content-type"].startswith("text/html")
        assert "Page not found" in page.text
        assert "Draft one" not in page.text and "Scheduled one" not in page.text
    assert "Scheduled one" not in api.get("/").text
    with database.transaction() as session:  # its time comes
        stored = session.get(Article, soon.id)
        assert stored is not None
        stored.published_at = utcnow() - timedelta(seconds=1)
    assert api.get("/posts/scheduled-one").status_code == 200
    assert ">Scheduled one</a>" in api.get("/").text


def test_an_old_slug_answers_301_to_the_page(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())
    article = publish(api, headers, title="Moving day")
    moved = api.patch(f"/articles/{article['id']}", json={"slug": "new-home"}, headers=headers)
    assert moved.status_code == 200 and moved.json()["url"] == "/posts/new-home"
    answer = api.get("/posts/moving-day", follow_redirects=False)
    assert answer.status_code == 301
    assert answer.headers["location"] == "/posts/new-home"
    assert api.get("/posts/moving-day", follow_redirects=True).url.path == "/posts/new-home"


def test_tag_and_author_pages_list_only_what_is_visible(
    api: httpx.Client, make_user: UserFactory, make_article: ArticleFactory, login: Login
) -> None:
    writer = make_user(name="Tag Writer")
    headers = login(writer)
    publish(api, headers, title="Tagged and public", tags=["Gardening"])
    publish(api, headers, title="Public, other tag", tags=["Cooking"])
    api.post("/articles/", json={"title": "Tagged draft", "tags": ["Gardening"]}, headers=headers)
    api.post("/articles/", json={"title": "Secret plan", "tags": ["Merger"]}, headers=headers)
    tag = api.get("/tag/gardening")
    assert tag.status_code == 200
    assert "Gardening" in Page(tag.text).title
    assert ">Tagged and public</a>" in tag.text
    assert "Public, other tag" not in tag.text and "Tagged draft" not in tag.text
    # A tag only drafts carry can say what is coming: as unknown as one that does not exist.
    assert api.get("/tag/merger").status_code == 404
    assert api.get("/tag/no-such-tag").status_code == 404
    author = api.get(f"/author/{writer.id}")
    assert author.status_code == 200 and "Articles by Tag Writer" in author.text
    assert ">Tagged and public</a>" in author.text and "Tagged draft" not in author.text
    silent = make_user(name="Only Drafts")
    make_article(author=silent, title="Unfinished")
    for path in (f"/author/{silent.id}", "/author/999999", "/author/abc", "/author/0"):
        assert api.get(path).status_code == 404, path


def test_search_uses_the_api_search_and_answers_bad_input_kindly(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    headers = login(make_user())
    publish(api, headers, title="Sourdough starter", body="Flour and water.")
    publish(api, headers, title="Tomatoes", body="Sun and water.")
    api.post("/articles/", json={"title": "Sourdough draft"}, headers=headers)
    form = api.get("/search")
    assert form.status_code == 200 and '<input id="q" name="q" type="search"' in form.text
    found = api.get("/search", params={"q": "sourdough"})
    assert found.status_code == 200
    assert ">Sourdough starter</a>" in found.text and "Tomatoes" not in found.text
    assert "Sourdough draft" not in found.text
    from_api = api.get("/articles/", params={"q": "water"}).json()
    page = api.get("/search", params={"q": "water"}).text
    assert all(f">{article['title']}</a>" in page for article in from_api)
    assert "No articles match" in api.get("/search", params={"q": "zebra"}).text
    for params in ({"q": "x" * 201}, {"q": "a " * 40}, {"q": "water", "cursor": "forged"}):
        answer = api.get("/search", params=params)
        assert answer.status_code == 400, params
        assert answer.headers["content-type"].startswith("text/html")
        assert "Traceback" not in answer.text
    assert api.get("/", params={"cursor": "forged"}).status_code == 400


def test_unknown_addresses_under_the_site_are_the_404_page(api: httpx.Client) -> None:
    for path in ("/posts/", "/posts/a/b", "/posts/Not%20A%20Slug", "/tag/a/b", "/author/1/x"):
        answer = api.get(path)
        assert answer.status_code == 404, path
        assert "Page not found" in answer.text, path
    # Elsewhere, a browser gets the page too; an API client still gets JSON.
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    page = api.get("/about-us", headers=browser)
    assert page.status_code == 404 and "Page not found" in page.text
    assert page.headers["vary"] == "Accept"
    assert api.get("/about-us").json() == {"detail": "Not Found"}
    assert api.get("/about-us").headers["vary"] == "Accept"
    assert api.get("/articles/999999", headers=browser).json() == {"detail": "Article not found"}


def test_hostile_titles_and_bodies_are_escaped(
    api: httpx.Client, make_user: UserFactory, login: Login
) -> None:
    hostile = '</script><script>alert(1)</script><img src=x onerror=alert(2)> & "quotes"'
    article = publish(
        api,
        login(make_user(name="<b>Mallory</b>")),
        title=hostile,
        body="<script>alert(3)</script>[x](javascript:alert(4)) <!-- -->",
        tags=["<i>tag</i>"],
    )
    for path in (f"/posts/{article['slug']}", "/", "/search?q=alert"):
        text = api.get(path).text
        assert "<script>alert" not in text, path
        assert "<img src=x" not in text and 'href="javascript:' not in text, path
        assert "<b>Mallory</b>" not in text and "<i>tag</i>" not in text, path
    page = Page(api.get(f"/posts/{article['slug']}").text)
    assert [kind for kind, _ in page.scripts] == ["application/ld+json"]
    assert page.json_ld()["headline"] == hostile
    assert page.meta["og:title"] == hostile


def test_a_database_outage_is_a_page_for_readers_and_json_for_the_api(
    api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def gone(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("SELECT 1", {}, Exception("server has gone away"))

    monkeypatch.setattr(reads, "read_article", gone)
    browser = {"Accept": "text/html"}
    page = api.get("/posts/anything", headers=browser)
    assert page.status_code == 503 and page.headers["retry-after"] == "5"
    assert page.headers["content-type"].startswith("text/html")
    assert "Back in a moment" in page.text and "gone away" not in page.text
    assert api.get("/articles/1").status_code == 503
    assert api.get("/articles/1", headers=browser).json()["detail"].startswith("The database")
