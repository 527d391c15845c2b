"""Exporting the content as a corpus (JSON Lines) that :mod:`masthead.corpus.importer` reads back.

Records come in dependency order (authors, categories parents first, tags, articles) with the
keys in the order of the corpus format. Nothing is lost: every article also carries its
``previous_slugs`` (the old slugs that still resolve to it), ``created_at`` and ``version``,
so an export imported into an empty database and exported again gives the same bytes. Rows
are read in id-keyset batches: memory stays flat however many there are. ``previous_slugs``
come oldest first, in the order ``ArticleSlug.position`` records.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TextIO, TypeVar, TypeVarTuple

from sqlalchemy import Row, Select, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from db.dialects import database_of
from db.models import Article, ArticleSlug, ArticleTag, Author, Category, RelatedPin, Tag
from masthead.corpus.format import ARTICLE, AUTHOR, CATEGORY, TAG, RecordKind, format_time

__all__ = ["export_corpus"]

_BATCH = 1000
_Columns = TypeVarTuple("_Columns")
_Linked = TypeVar("_Linked")
_Category = Row[int, str, str, str | None, int | None]
_encode: Callable[[Any], str] = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


async def _batches(
    connection: AsyncConnection, statement: Select[*_Columns], id_column: InstrumentedAttribute[int]
) -> AsyncIterator[Sequence[Row[*_Columns]]]:
    """The rows of ``statement`` in id order, a batch at a time, each batch one query."""
    last: int | None = None
    while True:
        page = statement.order_by(id_column).limit(_BATCH)
        if last is not None:
            page = page.where(id_column > last)
        rows = (await connection.execute(page)).all()
        if not rows:
            return
        yield rows
        last = rows[-1].id


def _parents_first(categories: Sequence[_Category]) -> list[_Category]:
    """Categories level by level from the roots, each level in id order, so parents come first."""
    children: dict[int | None, list[_Category]] = defaultdict(list)
    for category in categories:
        children[category.parent_id].append(category)
    ordered: list[_Category] = []
    level = children[None]
    while level:
        level.sort(key=lambda category: category.id)
        ordered += level
        level = [child for category in level for child in children[category.id]]
    # A cycle (which writes refuse) would leave rows unreached: export them rather than lose them.
    reached = {category.id for category in ordered}
    ordered += sorted(
        (category for category in categories if category.id not in reached),
        key=lambda category: category.id,
    )
    return ordered


async def _article_links(
    connection: AsyncConnection,
    linked: InstrumentedAttribute[_Linked],
    order: InstrumentedAttribute[int],
    first: int,
    last: int,
) -> dict[int, list[_Linked]]:
    """The ``linked`` values of the articles ``first`` to ``last``, per article (in ``order``)."""
    article_id = linked.class_.article_id
    rows = await connection.execute(
        select(article_id, linked)
        .where(article_id.between(first, last))
        .order_by(article_id, order)
    )
    links: dict[int, list[_Linked]] = defaultdict(list)
    for owner, target in rows:
        links[owner].append(target)
    return links


def _keys(kind: RecordKind, numbers: list[int] | None) -> list[str]:
    return [kind.key(number) for number in numbers or ()]


_Write = Callable[[dict[str, Any]], None]


async def _export_authors(connection: AsyncConnection, write: _Write) -> None:
    authors = select(Author.id, Author.slug, Author.name, Author.bio, Author.avatar_url)
    async for rows in _batches(connection, authors, Author.id):
        for row in rows:
            write(
                AUTHOR.record(
                    row.id, slug=row.slug, name=row.name, bio=row.bio, avatar_url=row.avatar_url
                )
            )


async def _export_categories(connection: AsyncConnection, write: _Write) -> None:
    # Categories are few (a site's sections): read at once to put parents first.
    categories = select(
        Category.id, Category.slug, Category.name, Category.description, Category.parent_id
    )
    for row in _parents_first((await connection.execute(categories)).all()):
        write(
            CATEGORY.record(
                row.id,
                slug=row.slug,
                name=row.name,
                description=row.description,
                parent=None if row.parent_id is None else CATEGORY.key(row.parent_id),
            )
        )


async def _export_tags(connection: AsyncConnection, write: _Write) -> None:
    async for rows in _batches(connection, select(Tag.id, Tag.slug, Tag.name), Tag.id):
        for row in rows:
            write(TAG.record(row.id, slug=row.slug, name=row.name))


async def _export_articles(connection: AsyncConnection, write: _Write) -> None:
    articles = select(
        Article.id,
        Article.slug,
        Article.title,
        Article.excerpt,
        Article.body,
        Article.status,
        Article.published_at,
        Article.unpublish_at,
        Article.updated_at,
        Article.author_id,
        Article.category_id,
        Article.created_at,
        Article.version,
    )
    async for rows in _batches(connection, articles, Article.id):
        first, last = rows[0].id, rows[-1].id
        # The corpus lists tags by key number, related articles in display order.
        tags = await _article_links(connection, ArticleTag.tag_id, ArticleTag.tag_id, first, last)
        pins = await _article_links(
            connection, RelatedPin.related_id, RelatedPin.position, first, last
        )
        former = await _article_links(
            connection, ArticleSlug.slug, ArticleSlug.position, first, last
        )
        for row in rows:
            write(
                ARTICLE.record(
                    row.id,
                    slug=row.slug,
                    title=row.title,
                    excerpt=row.excerpt,
                    body=row.body,
                    status=row.status,
                    published_at=format_time(row.published_at),
                    updated_at=format_time(row.updated_at),
                    author=AUTHOR.key(row.author_id),
                    category=CATEGORY.key(row.category_id),
                    tags=_keys(TAG, tags.get(row.id)),
                    related=_keys(ARTICLE, pins.get(row.id)),
                    previous_slugs=former.get(row.id, []),
                    created_at=format_time(row.created_at),
                    version=row.version,
                    # Given only when one is scheduled, as the format allows.
                    **(
                        {"unpublish_at": format_time(row.unpublish_at)}
                        if row.unpublish_at is not None
                        else {}
                    ),
                )
            )


async def export_corpus(sessionmaker: async_sessionmaker[AsyncSession], out: TextIO) -> int:
    """Write every author, category, tag and article to ``out``; the number of records."""
    count = 0

    def write(record: dict[str, Any]) -> None:
        nonlocal count
        out.write(_encode(record) + "\n")
        count += 1

    async with sessionmaker() as session:
        # One snapshot for the whole export, whatever is written meanwhile.
        options = dict(database_of(session).snapshot_options)
        connection = await session.connection(execution_options=options)
        # Dependency order: an importer reading line by line finds every key it needs.
        for export in (_export_authors, _export_categories, _export_tags, _export_articles):
            await export(connection, write)
    return count
