"""Demo content: realistic-looking authors and articles, inserted in bulk.

Fast enough for load tests (a million articles in minutes): rows are inserted with Core
``executemany`` in batches, bodies are rendered once per template instead of once per
article, one password hash serves every demo author, and a large load builds the
articles' indexes once at the end (:mod:`cms.bulk`).
"""

import random
import secrets
from collections import Counter
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Insert,
    String,
    cast,
    event,
    func,
    insert,
    literal,
    select,
)

from cms import bulk
from cms.articles import counts, tag_counts
from cms.articles.models import (
    Article,
    ArticleCount,
    ArticleRevision,
    ArticleStatus,
    Tag,
    article_tags,
)
from cms.articles.rendering import RENDERER_VERSION, render_markdown
from cms.articles.slugs import first_free_slug, slug_from_title
from cms.articles.tags import tag_slug
from cms.db import Database, larger_multirow_inserts, utcnow
from cms.roles import Role
from cms.security import hash_password
from cms.users.models import User

# Articles per transaction: 8,000 loaded 100,000 in 22 s instead of 25 s with 2,000 (fewer
# commits and statements); the rows share the bodies' strings, so memory stays small.
BATCH_SIZE = 8_000

FIRST_NAMES = [
    "Ada",
    "Grace",
    "Alan",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Edsger",
    "Radia",
    "Tim",
    "Katherine",
    "Donald",
    "Hedy",
    "Guido",
]
LAST_NAMES = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Dijkstra",
    "Perlman",
    "Berners-Lee",
    "Johnson",
    "Knuth",
]
DEMO_TAGS = [
    "Gardening",
    "Cooking",
    "Repair",
    "Photography",
    "Travel",
    "Design",
    "Writing",
    "Music",
    "Science",
    "History",
    "Parenting",
    "Books",
    "Crafts",
    "Cycling",
    "Weather",
    "Architecture",
    "Coding",
    "Languages",
    "Health",
    "Money",
    "Film",
    "Nature",
    "Home",
    "Tools",
    "Food",
    "Education",
    "Community",
    "Outdoors",
    "Art",
    "Technology",
]
OPENERS = [
    "How to",
    "Why you should",
    "Ten ways to",
    "A beginner's guide to",
    "What nobody tells you about how to",
    "Lessons learned trying to",
    "The case against trying to",
    "A field guide: how to",
    "Notes on how to",
    "Stop struggling to",
]
VERBS = [
    "grow",
    "cook",
    "repair",
    "photograph",
    "plan",
    "design",
    "measure",
    "write about",
    "organise",
    "paint",
    "restore",
    "teach",
    "learn",
    "build",
    "document",
    "travel with",
]
OBJECTS = [
    "a vegetable garden",
    "sourdough bread",
    "an old bicycle",
    "city at night",
    "a small wedding",
    "a reading nook",
    "rainfall at home",
    "your first novel",
    "a cluttered garage",
    "watercolour skies",
    "a vintage radio",
    "children to code",
    "a new language",
    "a backyard shed",
    "family recipes",
    "a one-bag trip",
    "a neighbourhood library",
    "houseplants in winter",
    "a home studio",
    "wild mushrooms",
]
SENTENCES = [
    "Start small, and keep notes on what works and what does not.",
    "Most of the effort goes into preparation; the rest is patience.",
    "The right tools help, but a clear plan helps more.",
    "Expect the first attempt to teach you more than it delivers.",
    "Ask someone who has done it before: an hour of advice saves a week.",
    "Budget twice the time you think you need, then enjoy the slack.",
    "Write down each step as you go, so the second time is easier.",
    "Mistakes are cheaper early, so make them on purpose while the stakes are low.",
    "Quality materials pay for themselves within a season.",
    "Share what you learn; the questions you get back will teach you more.",
]
HEADINGS = [
    "Getting started",
    "What you need",
    "Step by step",
    "Common mistakes",
    "Going further",
    "What I would do differently",
]
BODY_TEMPLATES = 64


@dataclass(frozen=True)
class SeedResult:
    users: int
    articles: int


def _paragraph(rng: random.Random) -> str:
    return " ".join(rng.sample(SENTENCES, k=rng.randint(3, 6)))


def _body(rng: random.Random) -> str:
    sections = []
    for heading in rng.sample(HEADINGS, k=rng.randint(2, 4)):
        sections.append(f"## {heading}\n\n{_paragraph(rng)}\n\n{_paragraph(rng)}")
    tips = "\n".join(f"- {sentence}" for sentence in rng.sample(SENTENCES, k=3))
    return f"{_paragraph(rng)}\n\n" + "\n\n".join(sections) + f"\n\n**Quick tips:**\n\n{tips}\n"


def _title(rng: random.Random) -> str:
    return f"{rng.choice(OPENERS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}"


def _slugs(titles: Iterator[str], taken: set[str]) -> Iterator[str]:
    """A unique slug per title, numbered like the service does (``-2``, ``-3``…)."""
    # Remembering where each base's numbering stopped keeps this linear in the titles.
    next_number: dict[str, int] = {}
    for title in titles:
        base = slug_from_title(title)
        slug = first_free_slug(base, taken, start=next_number.get(base, 2))
        next_number[base] = int(slug.rsplit("-", 1)[1]) + 1 if slug != base else 2
        taken.add(slug)
        yield slug


def seed_demo(
    database: Database,
    *,
    users: int,
    articles: int,
    seed: int | None = None,
    progress: bulk.Progress | None = None,
    defer_indexes: bool | None = None,
) -> SeedResult:
    """Insert ``users`` demo authors and ``articles`` articles spread among all authors.

    About 85% are published in the past two years, 5% scheduled for the coming month,
    10% drafts. Demo authors get a random password nobody knows.

    Each batch of articles is one transaction with its tags, first revisions and the
    article and tag counts it moves, so an interrupted seed leaves consistent data behind.
    ``defer_indexes`` (``None``: when the load is large, see :func:`cms.bulk.should_defer`)
    builds the articles' secondary and full-text indexes once, after the rows.
    """
    progress = progress or bulk.Progress()
    rng = random.Random(seed)  # noqa: S311 (demo text, not secrets)
    now = utcnow()
    bodies = [_body(rng) for _ in range(BODY_TEMPLATES)]
    rendered = [(body, render_markdown(body)) for body in bodies]
    with database.transaction() as session:
        first_id = (session.scalar(select(func.max(User.id))) or 0) + 1
        if users:
            password_hash = hash_password(secrets.token_urlsafe(24))
            session.execute(
                insert(User),
                [
                    {
                        "email": f"demo.author.{first_id + n}@example.com",
                        "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                        "role": Role.AUTHOR,
                        "is_active": True,
                        "hashed_password": password_hash,
                        "session_version": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in range(users)
                ],
            )
        authors = {
            author_id: name or f"User {author_id}"
            for author_id, name in session.execute(
                select(User.id, User.name).where(User.is_active.is_(True)).order_by(User.id)
            )
        }
        author_ids = list(authors)
        taken = set(session.scalars(select(Article.slug)))
        present = sum(session.scalars(select(ArticleCount.articles)))
    if articles and not author_ids:
        raise ValueError("There are no active users to write the articles; add --users")
    if defer_indexes is None:
        defer_indexes = bulk.should_defer(articles, present)

    tag_ids = _demo_tags(database) if articles else []
    titles = [_title(rng) for _ in range(articles)]
    slugs = _slugs(iter(titles), taken)
    batches = _Batches(rng, now, titles, slugs, rendered, authors, tag_ids)
    deferred = bulk.indexes_deferred(database, progress) if defer_indexes else nullcontext()
    with deferred:
        progress.phase("loading", articles)
        while batches.done < articles:
            with database.transaction() as session:
                batches.insert_next(session.connection(), min(BATCH_SIZE, articles - batches.done))
            progress.advance(batches.last)
    if tag_ids:
        # As the services do: a tag no article carries is not kept.
        with database.transaction() as session:
            tag_counts.remove_unused(session, tag_ids)
    progress.finish()
    return SeedResult(users=users, articles=articles)


class _Batches:
    """The articles of one seed, inserted a batch at a time."""

    def __init__(
        self,
        rng: random.Random,
        now: datetime,
        titles: list[str],
        slugs: Iterator[str],
        rendered: list[tuple[str, str]],
        authors: dict[int, str],
        tag_ids: list[int],
    ) -> None:
        self.rng, self.now, self.titles, self.slugs = rng, now, titles, slugs
        self.rendered, self.authors, self.tag_ids = rendered, authors, tag_ids
        self.author_ids = list(authors)
        self.done = 0
        self.last = 0

    def insert_next(self, connection: Connection, count: int) -> None:
        """Insert the next ``count`` articles with their tags, first revisions and counts,
        on ``connection`` (in its transaction)."""
        rng = self.rng
        rows = [
            _article_row(
                rng,
                self.now,
                self.titles[self.done + n],
                next(self.slugs),
                self.rendered,
                self.author_ids,
            )
            for n in range(count)
        ]
        event.listen(connection, "before_cursor_execute", larger_multirow_inserts)
        try:
            connection.execute(insert(Article), rows)
            ids = {
                slug: article_id
                for slug, article_id in connection.execute(
                    select(Article.slug, Article.id).where(
                        Article.slug.in_([row["slug"] for row in rows])
                    )
                )
            }
            links = []
            tag_deltas: dict[int, tuple[int, int]] = {}
            article_deltas: Counter[counts.Counted] = Counter()
            for row in rows:
                row["id"] = ids[row["slug"]]
                published = row["status"] is ArticleStatus.PUBLISHED
                article_deltas[counts.Counted(row["author_id"], row["status"])] += 1
                for tag_id in rng.sample(self.tag_ids, rng.randint(0, 3)):
                    links.append({"article_id": row["id"], "tag_id": tag_id})
                    tagged, published_count = tag_deltas.get(tag_id, (0, 0))
                    tag_deltas[tag_id] = (tagged + 1, published_count + published)
            if links:
                connection.execute(insert(article_tags), links)
            # Every article has a history from its first save, as if written in the CMS.
            # The batch's ids are one range unless the site inserted meanwhile: then the
            # database copies the rows it just wrote (a range of the primary key; an IN
            # list of 2,000 ids cost two thirds of the load on MariaDB, which turns it
            # into a subquery); else they are sent again.
            first, last = min(ids.values()), max(ids.values())
            if last - first + 1 == len(rows):
                connection.execute(first_revisions(Article.id.between(first, last)))
            else:
                revisions = [self._first_revision(row) for row in rows]
                connection.execute(insert(ArticleRevision), revisions)
            tag_counts.add_many(connection, tag_deltas)
            counts.add_many(connection, article_deltas)
        finally:
            event.remove(connection, "before_cursor_execute", larger_multirow_inserts)
        self.done += count
        self.last = count

    def _first_revision(self, row: dict[str, Any]) -> dict[str, Any]:
        return {
            "article_id": row["id"],
            "number": 1,
            "version": row["version"],
            "title": row["title"],
            "slug": row["slug"],
            "body": row["body"],
            "status": row["status"],
            "published_at": row["published_at"],
            "tags": "[]",
            "saved_at": row["updated_at"],
            "saved_by_id": row["author_id"],
            "saved_by_name": self.authors[row["author_id"]],
        }


def _demo_tags(database: Database) -> list[int]:
    """The ids of the demo tags, created on first use."""
    with database.transaction() as session:
        existing = {tag.slug: tag.id for tag in session.scalars(select(Tag))}
        for name in DEMO_TAGS:
            if tag_slug(name) not in existing:
                tag = Tag(name=name, slug=tag_slug(name))
                session.add(tag)
                session.flush()
                existing[tag.slug] = tag.id
        return [existing[tag_slug(name)] for name in DEMO_TAGS]


def first_revisions(which: ColumnElement[bool]) -> Insert:
    """Revision 1 for the ``which`` articles, credited to their authors."""
    saver = func.coalesce(func.nullif(User.name, ""), literal("User ") + cast(User.id, String))
    return insert(ArticleRevision).from_select(
        [
            "article_id",
            "number",
            "version",
            "title",
            "slug",
            "body",
            "status",
            "published_at",
            "tags",
            "saved_at",
            "saved_by_id",
            "saved_by_name",
        ],
        select(
            Article.id,
            literal(1),
            Article.version,
            Article.title,
            Article.slug,
            Article.body,
            Article.status,
            Article.published_at,
            literal("[]"),
            Article.updated_at,
            Article.author_id,
            saver,
        )
        .join(User, User.id == Article.author_id)
        .where(which),
    )


def _article_row(
    rng: random.Random,
    now: datetime,
    title: str,
    slug: str,
    rendered: list[tuple[str, str]],
    author_ids: list[int],
) -> dict[str, Any]:
    body, body_html = rng.choice(rendered)
    roll = rng.random()
    published_at: datetime | None
    if roll < 0.85:
        status, published_at = (
            ArticleStatus.PUBLISHED,
            now - timedelta(seconds=rng.randint(60, 2 * 365 * 24 * 3600)),
        )
        created_at = published_at - timedelta(seconds=rng.randint(0, 7 * 24 * 3600))
    elif roll < 0.90:
        status, published_at = (
            ArticleStatus.PUBLISHED,
            now + timedelta(seconds=rng.randint(3600, 30 * 24 * 3600)),
        )
        created_at = now - timedelta(seconds=rng.randint(0, 7 * 24 * 3600))
    else:
        status, published_at = ArticleStatus.DRAFT, None
        created_at = now - timedelta(seconds=rng.randint(0, 60 * 24 * 3600))
    return {
        "title": title,
        "slug": slug,
        "body": body,
        "body_html": body_html,
        "rendered_with": RENDERER_VERSION,
        "status": status,
        "published_at": published_at,
        "created_at": created_at,
        "updated_at": created_at,
        "author_id": rng.choice(author_ids),
        "version": 1,
    }
