"""The permission policy's two spellings of "public" agree, row by row."""

from datetime import timedelta

from sqlalchemy import select

from cms import permissions
from cms.articles.models import Article, ArticleStatus
from cms.db import Database, utcnow
from cms.roles import Role
from tests.conftest import ArticleFactory, UserFactory


def test_the_sql_rule_and_the_row_rule_agree(
    database: Database, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    author = make_user()
    now = utcnow()
    for n, (status, offset) in enumerate(
        [
            (ArticleStatus.DRAFT, None),
            (ArticleStatus.DRAFT, timedelta(days=-1)),
            (ArticleStatus.PUBLISHED, timedelta(days=-1)),
            (ArticleStatus.PUBLISHED, timedelta(seconds=-1)),
            (ArticleStatus.PUBLISHED, timedelta(days=1)),
        ]
    ):
        make_article(
            author=author,
            title=f"Case {n}",
            status=status,
            published_at=None if offset is None else now + offset,
        )
    with database.sessionmaker() as session:
        rows = session.scalars(select(Article)).all()
        by_sql = set(session.scalars(select(Article.id).where(permissions.published_articles(now))))
    assert by_sql == {row.id for row in rows if row.is_visible_at(now)}
    assert len(by_sql) == 2


def test_who_sees_what(
    database: Database, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    author, other, editor = make_user(), make_user(), make_user(role=Role.EDITOR)
    draft = make_article(author=author, title="Mine")
    public = make_article(
        author=other,
        title="Theirs",
        status=ArticleStatus.PUBLISHED,
        published_at=utcnow() - timedelta(days=1),
    )
    hidden = make_article(author=other, title="Their draft")

    def seen(user: object) -> set[int]:
        with database.sessionmaker() as session:
            stmt = select(Article.id).where(
                permissions.visible_articles(user, utcnow())  # type: ignore[arg-type]
            )
            return set(session.scalars(stmt))

    assert seen(None) == {public.id}
    assert seen(author) == {public.id, draft.id}
    assert seen(editor) == {public.id, draft.id, hidden.id}


def test_the_editable_rows_are_the_rows_each_user_may_edit(
    database: Database, make_user: UserFactory, make_article: ArticleFactory
) -> None:
    """The SQL twin the back office lists an author's articles with, against the row rule."""
    author, other, editor = make_user(), make_user(), make_user(role=Role.EDITOR)
    inactive = make_user(is_active=False)
    for owner in (author, other, inactive):
        make_article(author=owner, title=f"Draft of {owner.id}")
        make_article(
            author=owner,
            title=f"Published of {owner.id}",
            status=ArticleStatus.PUBLISHED,
            published_at=utcnow() - timedelta(days=1),
        )
    with database.sessionmaker() as session:
        rows = session.scalars(select(Article)).all()
        for user in (None, author, other, editor, inactive):
            by_sql = set(
                session.scalars(select(Article.id).where(permissions.editable_articles(user)))
            )
            assert by_sql == {row.id for row in rows if permissions.can_edit_article(user, row)}
        assert (
            len(
                set(
                    session.scalars(select(Article.id).where(permissions.editable_articles(author)))
                )
            )
            == 2
        )
