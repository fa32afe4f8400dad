"""How much history an article keeps: revision storage that cannot grow without bound.

Every save records a revision with the whole body (up to 1 MiB). Kept for ever, thirty
saves of a large body are thirty megabytes, and nothing but patience limits how many
saves there are. So each save, in its own transaction, drops the revisions the policy
no longer keeps (the settings ``CMS_REVISIONS_*``, :class:`cms.config.WriteLimits`):

- the **first** revision is always kept (where the article came from);
- the **newest** ``revisions_newest`` are always kept (what an editor undoes);
- of the older ones, those saved **published** (what readers once saw), newest first,
  as long as there are at most ``revisions_published`` of them and their titles and
  bodies add up to at most ``revisions_older_bytes``;
- every other revision (an intermediate draft, a published one past the bounds) goes.

An article's history therefore holds at most ``2 + revisions_newest + revisions_published``
revisions and at most ``(1 + revisions_newest)`` bodies plus ``revisions_older_bytes``
whatever is saved, however often. Revisions keep their numbers: a dropped one leaves
a gap, and a new one is numbered after the newest, which is never dropped.
"""

from sqlalchemy import LargeBinary, cast, delete, func, select

from cms.articles.models import ArticleRevision, ArticleStatus
from cms.db import UnitOfWork


def apply_retention(uow: UnitOfWork, article_id: int) -> list[int]:
    """Drop the article's revisions the policy does not keep; the numbers dropped."""
    session, limits = uow.session, uow.limits
    revisions = session.execute(
        select(ArticleRevision.id, ArticleRevision.number, ArticleRevision.status)
        .where(ArticleRevision.article_id == article_id)
        .order_by(ArticleRevision.number.desc())
    ).all()
    if len(revisions) <= limits.revisions_newest + 1:
        return []
    first = revisions[-1]
    older = revisions[limits.revisions_newest : -1]
    published = [r for r in older if r.status == ArticleStatus.PUBLISHED]
    kept: set[int] = set()
    candidates = published[: limits.revisions_published]
    if candidates:
        size = func.length(cast(ArticleRevision.title, LargeBinary)) + func.length(
            cast(ArticleRevision.body, LargeBinary)
        )
        sizes: dict[int, int | None] = {
            revision_id: length
            for revision_id, length in session.execute(
                select(ArticleRevision.id, size).where(
                    ArticleRevision.id.in_([r.id for r in candidates])
                )
            )
        }
        used = 0
        for revision in candidates:
            used += int(sizes[revision.id] or 0)
            if used > limits.revisions_older_bytes:
                break
            kept.add(revision.id)
    dropped = [r for r in older if r.id not in kept and r.id != first.id]
    if dropped:
        session.execute(
            delete(ArticleRevision)
            .where(ArticleRevision.id.in_([r.id for r in dropped]))
            .execution_options(synchronize_session=False)
        )
    return sorted(r.number for r in dropped)
