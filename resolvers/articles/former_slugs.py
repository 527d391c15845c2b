"""Former slugs: a published article's old URL keeps working after it is renamed.

One rule for every rename, whether a write or an import makes it: the old slug of an
article that was public resolves to it from then on, as its newest former slug, and an
article taking back a slug it had before makes that slug current again (leaving it again
later makes it the newest once more). An import also restores former slugs a corpus lists,
oldest first, after those the article holds. ``ArticleSlug.position`` keeps that order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Table, bindparam, delete, func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from db.dialects import database_of
from db.models import ArticleSlug, Base

__all__ = ["Rename", "add_former_slugs", "keep_former_slugs"]

_ARTICLE_SLUGS: Table = Base.metadata.tables[ArticleSlug.__tablename__]


@dataclass(frozen=True)
class Rename:
    article_id: int
    old: str
    new: str
    was_published: bool


def _appending(
    bind: AsyncSession | AsyncConnection, offset: int | None
) -> sqlite.Insert | postgresql.Insert:
    """An INSERT of the slug ``former`` for the article ``article``, placed after its newest.

    The place is computed in the statement, so appending costs no read: ``offset`` places
    past the article's greatest position (``offset`` itself a parameter when None). Rows of
    one statement for the same article take rising offsets, and so rise in that order
    whether the database evaluates each row's place before or after inserting the rows
    ahead of it (a place past the greatest seen is past those too). The subquery names the
    article again, as ``owner``: when SQLAlchemy batches rows into one multi-row INSERT for
    asyncpg, a parameter used twice in a row is miscounted.
    """
    held = _ARTICLE_SLUGS.alias("held")
    newest = (
        select(func.coalesce(func.max(held.c.position), 0))
        .where(held.c.article_id == bindparam("owner"))
        .scalar_subquery()
    )
    return (
        database_of(bind)
        .insert(_ARTICLE_SLUGS)
        .values(
            slug=bindparam("former"),
            article_id=bindparam("article"),
            position=newest + (bindparam("offset") if offset is None else offset),
        )
    )


def _parameters(slug: str, article_id: int) -> dict[str, str | int]:
    """The parameters of :func:`_appending` for one row, bar ``offset``."""
    return {"former": slug, "article": article_id, "owner": article_id}


async def keep_former_slugs(
    bind: AsyncSession | AsyncConnection, renames: Sequence[Rename]
) -> None:
    """Record ``renames``, one per article at most (those that keep their slug are ignored).

    Two statements at most.
    """
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
        _parameters(rename.old, rename.article_id) for rename in renames if rename.was_published
    ]
    if kept:
        # Another article's former slug may be reused by this one's old slug: it now names
        # this article (the newest owner of a URL wins), as the newest of its former slugs.
        statement = _appending(bind, 1)
        await bind.execute(
            statement.on_conflict_do_update(
                index_elements=[_ARTICLE_SLUGS.c.slug],
                set_={
                    "article_id": statement.excluded.article_id,
                    "position": statement.excluded.position,
                },
            ),
            kept,
        )


async def add_former_slugs(
    bind: AsyncSession | AsyncConnection, slugs: Mapping[int, Sequence[str]]
) -> set[int]:
    """Append each article's ``slugs`` (oldest first) after the former slugs it holds.

    A slug the article holds already keeps its place; one another article holds must have
    been refused before. One statement; the articles that gained a slug.
    """
    kept = [
        _parameters(slug, article_id) | {"offset": offset}
        for article_id, listed in slugs.items()
        for offset, slug in enumerate(listed, start=1)
    ]
    if not kept:
        return set()
    statement = (
        _appending(bind, None)
        .on_conflict_do_nothing(index_elements=[_ARTICLE_SLUGS.c.slug])
        .returning(_ARTICLE_SLUGS.c.article_id)
    )
    return {article_id for (article_id,) in await bind.execute(statement, kept)}
