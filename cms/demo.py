"""Demo content: realistic-looking authors and articles, inserted in bulk.

Fast enough for load tests (100,000 articles in seconds, not minutes): rows are
inserted with Core ``executemany`` in batches, bodies are rendered once per template
instead of once per article, and one password hash serves every demo author.
"""

import random
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Insert, String, cast, event, func, insert, literal, select

from cms.articles import counts, tag_counts
from cms.articles.models import Article, ArticleRevision, ArticleStatus, Tag, article_tags
from cms.articles.rendering import RENDERER_VERSION, render_markdown
from cms.articles.slugs import first_free_slug, slug_from_title
from cms.articles.tags import tag_slug
from cms.db import Database, larger_multirow_inserts, utcnow
from cms.roles import Role
from cms.security import hash_password
from cms.users.models import User

BATCH_SIZE = 2_000

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
    on_progress: Callable[[int], None] = lambda _done: None,
) -> SeedResult:
    """Insert ``users`` demo authors and ``articles`` articles spread among all authors.

    About 85% are published in the past two years, 5% scheduled for the coming month,
    10% drafts. Demo authors get a random password nobody knows.
    """
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
        author_ids = list(session.scalars(select(User.id).where(User.is_active.is_(True))))
        taken = set(session.scalars(select(Article.slug)))
    if articles and not author_ids:
        raise ValueError("There are no active users to write the articles; add --users")

    tag_ids = _demo_tags(database) if articles else []
    titles = [_title(rng) for _ in range(articles)]
    slugs = _slugs(iter(titles), taken)
    done = 0
    while done < articles:
        count = min(BATCH_SIZE, articles - done)
        rows = [
            _article_row(rng, now, titles[done + n], next(slugs), rendered, author_ids)
            for n in range(count)
        ]
        with database.transaction() as session:
            connection = session.connection()
            event.listen(connection, "before_cursor_execute", larger_multirow_inserts)
            connection.execute(insert(Article), rows)
            ids = list(
                connection.execute(
                    select(Article.id).where(Article.slug.in_([row["slug"] for row in rows]))
                ).scalars()
            )
            links = [
                {"article_id": article_id, "tag_id": tag_id}
                for article_id in ids
                for tag_id in rng.sample(tag_ids, rng.randint(0, 3))
            ]
            if links:
                connection.execute(insert(article_tags), links)
            # Every article has a history from its first save, as if written in the CMS.
            connection.execute(first_revisions(Article.id.in_(ids)))
        done += count
        on_progress(count)
    if articles:
        # The rows went in by the batch, around the services: count them once, at the end.
        with database.transaction() as session:
            if tag_ids:
                tag_counts.recount(session, tag_ids)
            counts.recount(session, author_ids)
    return SeedResult(users=users, articles=articles)


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
