"""Reading articles: lookups, filtered and ordered pages, counts, all within visibility."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    DateTime,
    Integer,
    Row,
    Select,
    String,
    and_,
    bindparam,
    exists,
    false,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from db.dialects import database_of
from db.models import Article, ArticleSlug, ArticleStatus, ArticleTag, Author, Category, Tag
from resolvers.access.viewer import Viewer
from resolvers.errors import BadUserInput, Unauthenticated
from resolvers.pagination import Page, PageRequest, SortKey, literal_limit
from resolvers.taxonomy.categories import in_subtree, subtree
from resolvers.taxonomy.lookups import could_be_slug

__all__ = [
    "ArticleFilter",
    "ArticleOrder",
    "ArticleScope",
    "article_by_id",
    "article_by_slug",
    "article_counts",
    "article_pages",
    "filter_conditions",
    "sort_key",
    "visibility",
]


class ArticleOrder(StrEnum):
    NEWEST = "NEWEST"
    OLDEST = "OLDEST"
    TITLE = "TITLE"
    UPDATED = "UPDATED"
    RELEVANCE = "RELEVANCE"


_SORTS = {
    ArticleOrder.NEWEST: SortKey(
        "NEWEST", (Article.published_at, Article.id), ("datetime", "int"), descending=True
    ),
    ArticleOrder.OLDEST: SortKey(
        "OLDEST", (Article.published_at, Article.id), ("datetime", "int"), descending=False
    ),
    ArticleOrder.UPDATED: SortKey(
        "UPDATED", (Article.updated_at, Article.id), ("datetime", "int"), descending=True
    ),
    ArticleOrder.TITLE: SortKey("TITLE", (Article.title, Article.id), ("str", "int"), False),
}


# Drafts have no publishedAt: where they may be listed, the time orders fall back to when
# the draft was created, so NULLs neither break keyset comparisons nor sort differently on
# the two databases.
_DRAFT_TIME = func.coalesce(Article.published_at, Article.created_at)


def _draft_time(row: Article) -> tuple[Any, ...]:
    return (row.published_at or row.created_at, row.id)


_DRAFT_SORTS = {
    order: SortKey(
        sort.name, (_DRAFT_TIME, Article.id), sort.kinds, sort.descending, row_values=_draft_time
    )
    for order, sort in _SORTS.items()
    if order in (ArticleOrder.NEWEST, ArticleOrder.OLDEST)
}


def sort_key(order: ArticleOrder, *, with_drafts: bool = False) -> SortKey:
    if order is ArticleOrder.RELEVANCE:
        raise BadUserInput("`RELEVANCE` order is only available in `search`.")
    if with_drafts and order in _DRAFT_SORTS:
        return _DRAFT_SORTS[order]
    return _SORTS[order]


class ArticleScope(StrEnum):
    """Whose articles a page lists: everyone's, or one author's, tag's or category's."""

    ALL = "all"
    AUTHOR = "author"
    TAG = "tag"
    CATEGORY = "category"
    CATEGORY_TREE = "category_tree"


@dataclass(frozen=True)
class ArticleFilter:
    """``ArticleFilter`` as given; hashable so it can be part of a loader key."""

    category_slug: str | None = None
    author_slug: str | None = None
    tag_slugs: tuple[str, ...] | None = None
    published_after: datetime | None = None
    published_before: datetime | None = None
    statuses: tuple[ArticleStatus, ...] | None = None


# The request's instant as a parameter given at execution (``{"visible_now": now}``), so
# that the visibility rule of lists is built once: building it anew cost a sixth of a
# short list's CPU (bench/results/per_request.md).
_NOW: BindParameter[datetime] = bindparam("visible_now", type_=DateTime())
_PUBLIC_NOW = Article.is_public(_NOW)


def visibility(
    viewer: Viewer,
    now: datetime | BindParameter[datetime],
    statuses: tuple[ArticleStatus, ...] | None = None,
) -> ColumnElement[bool]:
    """Public articles, unless a viewer allowed to see drafts asks for statuses explicitly."""
    if statuses is None:
        return _PUBLIC_NOW if now is _NOW else Article.is_public(now)
    if not viewer.authenticated:
        raise Unauthenticated("Filtering by `status` needs an API token.")
    chosen = Article.status.in_([status.value for status in statuses])
    if viewer.can_see_drafts:
        return chosen
    # A writer sees its own author's drafts and scheduled articles, and what is public.
    return and_(chosen, or_(Article.is_public(now), Article.author_id == viewer.author_id))


def _lists_drafts(article_filter: ArticleFilter | None, viewer: Viewer) -> bool:
    statuses = article_filter.statuses if article_filter is not None else None
    return viewer.authenticated and statuses is not None and ArticleStatus.DRAFT in statuses


def filter_conditions(
    article_filter: ArticleFilter | None, viewer: Viewer, now: datetime | BindParameter[datetime]
) -> list[ColumnElement[bool]]:
    """The visibility rule, then the filter's own conditions (:func:`_narrowing`)."""
    statuses = article_filter.statuses if article_filter is not None else None
    return [visibility(viewer, now, statuses), *_narrowing(article_filter)]


def _narrowing(article_filter: ArticleFilter | None) -> list[ColumnElement[bool]]:
    """What the filter itself asks for (category subtree, author, tags, dates)."""
    if article_filter is None:
        return []
    f = article_filter
    slugs = [f.category_slug, f.author_slug, *(f.tag_slugs or ())]
    if not all(could_be_slug(slug) for slug in slugs if slug is not None):
        return [false()]
    conditions: list[ColumnElement[bool]] = []
    if f.category_slug is not None:
        root = select(Category.id).where(Category.slug == f.category_slug)
        conditions.append(in_subtree(Article.category_id, root))
    if f.author_slug is not None:
        author = select(Author.id).where(Author.slug == f.author_slug).scalar_subquery()
        conditions.append(Article.author_id == author)
    for slug in f.tag_slugs or ():
        conditions.append(
            exists().where(
                ArticleTag.article_id == Article.id, ArticleTag.tag_id == Tag.id, Tag.slug == slug
            )
        )
    if f.published_after is not None:
        conditions.append(Article.published_at > f.published_after)
    if f.published_before is not None:
        conditions.append(Article.published_at < f.published_before)
    return conditions


def _scoped(
    scope: ArticleScope, scope_ids: Sequence[int], statement: Select[Any]
) -> tuple[Select[Any], ColumnElement[Any] | InstrumentedAttribute[int] | None]:
    """Restrict ``statement`` to the scopes and name the column that tells them apart."""
    if scope is ArticleScope.ALL:
        return statement, None
    if scope is ArticleScope.AUTHOR:
        return statement.where(Article.author_id.in_(scope_ids)), Article.author_id
    if scope is ArticleScope.CATEGORY:
        return statement.where(Article.category_id.in_(scope_ids)), Article.category_id
    if scope is ArticleScope.TAG:
        statement = statement.join(ArticleTag, ArticleTag.article_id == Article.id)
        return statement.where(ArticleTag.tag_id.in_(scope_ids)), ArticleTag.tag_id
    tree = subtree(scope_ids)
    statement = statement.join(tree, tree.c.category_id == Article.category_id)
    return statement, tree.c.root_id


async def article_pages(
    session: AsyncSession,
    *,
    scope: ArticleScope,
    scope_ids: Sequence[int],
    article_filter: ArticleFilter | None,
    order: ArticleOrder,
    request: PageRequest,
    viewer: Viewer,
    now: datetime,
) -> dict[int, Page[Row[Any]]]:
    """One page per scope id, in one statement (key 0 for ``ArticleScope.ALL``).

    The pages hold the table's rows, read like ``Article`` objects: only read, they need no
    identity map nor a state each (a fifth of a page's CPU, ``bench/results/per_request.md``).
    """
    sort = sort_key(order, with_drafts=_lists_drafts(article_filter, viewer))
    window = request.window(sort)
    conditions = filter_conditions(article_filter, viewer, _NOW)
    at_now = {"visible_now": now}
    articles = Article.__table__
    connection = await session.connection()
    if scope is ArticleScope.ALL or len(scope_ids) == 1:
        key = scope_ids[0] if scope_ids else 0
        if article_filter is None and request.after is None and request.before is None:
            # A first page of public articles (Home's, a category's): the same statement
            # for every viewer, kept.
            first_page = _first_page(scope, tuple(scope_ids), order, request)
            found = await database_of(session).kept_rows(connection, first_page, at_now)
            return {key: window.page(found, sort)}
        statement, _ = _scoped(scope, scope_ids, select(articles).where(*conditions))
        rows = (await connection.execute(window.apply(statement, sort), at_now)).all()
        return {key: window.page(rows, sort)}
    statement, partition = _scoped(
        scope, scope_ids, select(articles).where(*conditions, *window.conditions(sort))
    )
    assert partition is not None
    rank = func.row_number().over(partition_by=partition, order_by=window.order_by(sort))
    ranked = statement.add_columns(partition.label("scope_id"), rank.label("rank")).subquery()
    query = (
        select(*(ranked.c[column.name] for column in articles.c), ranked.c.scope_id)
        .where(ranked.c.rank <= literal_limit(window.size + 1))
        .order_by(ranked.c.scope_id, ranked.c.rank)
    )
    grouped: dict[int, list[Row[Any]]] = {scope_id: [] for scope_id in scope_ids}
    for row in (await connection.execute(query, at_now)).all():
        grouped[row.scope_id].append(row)  # type: ignore[arg-type]  # any row of columns
    return {scope_id: window.page(rows, sort) for scope_id, rows in grouped.items()}


@functools.lru_cache(maxsize=256)
def _first_page(
    scope: ArticleScope, scope_ids: tuple[int, ...], order: ArticleOrder, request: PageRequest
) -> Select[Any]:
    """:func:`article_pages`' statement for a first page of one scope and no filter: public
    articles only (:func:`visibility` without statuses), whoever asks."""
    sort = sort_key(order)
    statement, _ = _scoped(scope, scope_ids, select(Article.__table__).where(_PUBLIC_NOW))
    return request.window(sort).apply(statement, sort)


async def article_counts(
    session: AsyncSession,
    *,
    scope: ArticleScope,
    scope_ids: Sequence[int],
    article_filter: ArticleFilter | None,
    viewer: Viewer,
    now: datetime,
) -> dict[int, int]:
    """How many visible articles each scope holds (key 0 for ``ArticleScope.ALL``)."""
    conditions = filter_conditions(article_filter, viewer, now)
    if scope is ArticleScope.ALL:
        total = await session.scalar(select(func.count()).select_from(Article).where(*conditions))
        return {0: total or 0}
    statement, partition = _scoped(scope, scope_ids, select(Article.id).where(*conditions))
    assert partition is not None
    query = statement.with_only_columns(partition, func.count()).group_by(partition)
    counts = dict.fromkeys(scope_ids, 0)
    counts.update((key, count) for key, count in await session.execute(query))
    return counts


async def article_by_id(
    session: AsyncSession, article_id: int, *, viewer: Viewer, now: datetime
) -> Row[Any] | None:
    """The table's row (read like an ``Article``), if the viewer may see it."""
    return await _one_article(session, _Lookup.BY_ID, {"article_id": article_id}, viewer, now)


async def article_by_slug(
    session: AsyncSession, slug: str, *, viewer: Viewer, now: datetime
) -> Row[Any] | None:
    """By its slug, or by a slug it had before (links in the wild never break)."""
    if not could_be_slug(slug):
        return None
    return await _one_article(session, _Lookup.BY_SLUG, {"slug": slug}, viewer, now)


class _Lookup(StrEnum):
    BY_ID = "id"
    BY_SLUG = "slug"


class _Seeing(StrEnum):
    # Looking one article up by id or slug shows drafts to whoever may see them.
    EVERYTHING = "everything"
    PUBLIC_AND_OWN = "public and own"
    PUBLIC = "public"


async def _one_article(
    session: AsyncSession,
    lookup: _Lookup,
    parameters: dict[str, Any],
    viewer: Viewer,
    now: datetime,
) -> Row[Any] | None:
    if viewer.can_see_drafts:
        seeing = _Seeing.EVERYTHING
    elif viewer.authenticated and viewer.author_id is not None:
        seeing = _Seeing.PUBLIC_AND_OWN
        parameters["viewer_author_id"] = viewer.author_id
    else:
        seeing = _Seeing.PUBLIC
    # Core on the session's connection, a statement kept: a row only read needs none of
    # the ORM's work, and the statement need not be built again.
    database = database_of(session)
    connection = await session.connection()
    found = await database.kept_rows(
        connection, _one_article_statement(lookup, seeing), {**parameters, "visible_now": now}
    )
    return found[0] if found else None


@functools.cache
def _one_article_statement(lookup: _Lookup, seeing: _Seeing) -> Select[Any]:
    if lookup is _Lookup.BY_ID:
        which = Article.id == bindparam("article_id", type_=Integer())
    else:
        # Two indexed lookups folded into one id: given ``slug = :s OR id IN (...)``
        # instead, both databases scan the whole table.
        slug = bindparam("slug", type_=String())
        current = select(Article.id).where(Article.slug == slug).scalar_subquery()
        former = select(ArticleSlug.article_id).where(ArticleSlug.slug == slug).scalar_subquery()
        which = Article.id == func.coalesce(current, former)
    visible = {
        _Seeing.EVERYTHING: Article.id.is_not(None),
        _Seeing.PUBLIC_AND_OWN: or_(
            _PUBLIC_NOW, Article.author_id == bindparam("viewer_author_id", type_=Integer())
        ),
        _Seeing.PUBLIC: _PUBLIC_NOW,
    }[seeing]
    return select(Article.__table__).where(which, visible)
