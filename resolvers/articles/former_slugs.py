"""Former slugs: a published article's old URL keeps working after it is renamed.

One rule for every rename, whether a write or an import makes it: the old slug of an
article that was public resolves to it from then on, and an article taking back a slug it
had before makes that slug current again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Table, delete, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from db.dialects import database_of
from db.models import ArticleSlug, Base

__all__ = ["Rename", "keep_former_slugs"]

_ARTICLE_SLUGS: Table = Base.metadata.tables[ArticleSlug.__tablename__]


@dataclass(frozen=True)
class Rename:
    article_id: int
    old: str
    new: str
    was_published: bool


async def keep_former_slugs(
    bind: AsyncSession | AsyncConnection, renames: Sequence[Rename]
) -> None:
    """Record ``renames`` (those that keep their slug are ignored): two statements at most."""
    renames = [rename for rename in renames if rename.old != rename.new]
    if not renames:
        return
    taken_back = [(rename.new, rename.article_id) for rename in renames]
    await bind.execute(
        delete(_ARTICLE_SLUGS).where(
            tuple_(_ARTICLE_SLUGS.c.slug, _ARTICLE_SLUGS.c.article_id).in_(taken_back)
        )
    )
    kept = [
        {"slug": rename.old, "article_id": rename.article_id}
        for rename in renames
        if rename.was_published
    ]
    if kept:
        # Another article's former slug may be reused by this one's old slug: it now names
        # this article (the newest owner of a URL wins).
        statement = database_of(bind).insert(_ARTICLE_SLUGS)
        await bind.execute(
            statement.on_conflict_do_update(
                index_elements=[_ARTICLE_SLUGS.c.slug],
                set_={"article_id": statement.excluded.article_id},
            ),
            kept,
        )
