"""Ranked search over articles: one page, its count and its highlights, on either database.

What a user types is never query syntax (:class:`SearchText`); every word must match.
Results come best first, then newest, then by id, among the bounded candidates
(:mod:`resolvers.search.bounds`); cursors are keyset positions over
``(score, published_at, id)``, the score kept exactly. The database's own part is a
:class:`SearchBackend` (``sqlite.py``, ``postgresql.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    DateTime,
    Select,
    func,
    literal,
    select,
    tuple_,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from db.dialects import DatabaseKind, database_of
from db.models import Article
from resolvers.access.viewer import Viewer
from resolvers.articles.reads import ArticleFilter, filter_conditions
from resolvers.errors import BadUserInput
from resolvers.global_ids import MAX_PK
from resolvers.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    decode_cursor,
    encode_cursor,
    literal_limit,
)
from resolvers.search.backend import MATERIALIZED, SearchBackend
from resolvers.search.highlights import fragments
from resolvers.search.postgresql import TsvectorSearch
from resolvers.search.sqlite import Fts5Search
from resolvers.search.text import SearchText

__all__ = ["SearchHit", "SearchPage", "search_count", "search_highlights", "search_page"]

_BACKENDS: dict[DatabaseKind, SearchBackend] = {
    DatabaseKind.SQLITE: Fts5Search(),
    DatabaseKind.POSTGRESQL: TsvectorSearch(),
}

# Drafts may have no publication time: they sort after everything dated.
_UNDATED = datetime(1, 1, 1)


def _backend(session: AsyncSession) -> SearchBackend:
    return _BACKENDS[database_of(session).kind]


@dataclass(frozen=True)
class SearchHit:
    article: Article
    score: float
    cursor: str


@dataclass(frozen=True)
class SearchPage:
    hits: list[SearchHit]
    has_next_page: bool
    has_previous_page: bool
    # How many results paging reaches (every page), when the page's statement could tell:
    # None for an empty page after a cursor, where :func:`search_count` must count.
    total: int | None


@dataclass(frozen=True)
class _Position:
    """Where a hit stands in the ranked list: a cursor's content."""

    score: float
    published_at: datetime
    article_id: int

    def encode(self, text: SearchText) -> str:
        payload = [
            "SEARCH",
            text.fingerprint,
            self.score.hex(),  # exact: a rounded score would skip or repeat ties
            self.published_at.isoformat(),
            self.article_id,
        ]
        return encode_cursor(payload)

    @classmethod
    def decode(cls, cursor: str, text: SearchText) -> _Position:
        payload = decode_cursor(cursor)
        if not (len(payload) == 5 and payload[0] == "SEARCH"):
            raise BadUserInput(f"Malformed cursor {cursor!r}.")
        _, fingerprint, score, published_at, article_id = payload
        if fingerprint != text.fingerprint:
            raise BadUserInput(f"Cursor {cursor!r} belongs to another search.")
        try:
            position = cls(float.fromhex(score), datetime.fromisoformat(published_at), article_id)
        except (TypeError, ValueError, OverflowError):
            raise BadUserInput(f"Malformed cursor {cursor!r}.") from None
        valid_id = type(article_id) is int and 0 <= article_id <= MAX_PK
        if not (
            valid_id and math.isfinite(position.score) and position.published_at.tzinfo is None
        ):
            raise BadUserInput(f"Malformed cursor {cursor!r}.")
        return position


def _candidates(
    backend: SearchBackend, text: SearchText, conditions: Sequence[ColumnElement[bool]]
) -> CTE:
    """The ids of the candidates (``resolvers.search.bounds``): every result paging reaches."""
    recent_ids, titled_ids = backend.candidates(text, conditions)
    recent, titled = recent_ids.subquery("recent"), titled_ids.subquery("titled")
    return (
        union(select(recent.c.id), select(titled.c.id)).cte("candidates").prefix_with(MATERIALIZED)
    )


def _counted(candidates: CTE) -> Select[Any]:
    """How many results paging reaches: the candidates, which already pass the filter.

    Counted through ``IN``: selected from directly, the CTE trips SQLAlchemy's
    cartesian-product linter over the filter's subqueries inside it.
    """
    return select(func.count()).select_from(Article).where(Article.id.in_(select(candidates.c.id)))


def _validated_first(first: int | None) -> int:
    size = DEFAULT_PAGE_SIZE if first is None else first
    if not 0 <= size <= MAX_PAGE_SIZE:
        raise BadUserInput(f"`first` must be between 0 and {MAX_PAGE_SIZE}, got {size}.")
    return size


async def search_page(
    session: AsyncSession,
    *,
    text: SearchText,
    article_filter: ArticleFilter | None,
    first: int | None,
    after: str | None,
    viewer: Viewer,
    now: datetime,
) -> SearchPage:
    """One page of visible articles matching every word, best first, then newest."""
    size = _validated_first(first)
    start = _Position.decode(after, text) if after is not None else None
    conditions = filter_conditions(article_filter, viewer, now)
    if not text.words:
        return SearchPage([], has_next_page=False, has_previous_page=start is not None, total=0)
    backend = _backend(session)
    published = func.coalesce(Article.published_at, literal(_UNDATED, DateTime))
    candidates = _candidates(backend, text, conditions)
    # The candidates already pass the filter and the visibility rule.
    visible = (
        backend.scores(text, candidates)
        .add_columns(published.label("published"))
        .subquery("visible")
    )
    key = (visible.c.score, visible.c.published, visible.c.id)
    # Ranked and cut on narrow rows; only the page's rows are then read whole.
    ranked = select(*key).order_by(*(column.desc() for column in key))
    ranked = ranked.limit(literal_limit(size + 1))
    if start is not None:
        position = (start.score, start.published_at, start.article_id)
        ranked = ranked.where(tuple_(*key) < tuple_(*position))
    page = ranked.subquery("ranked")
    article = aliased(Article)
    # The total rides along in the same statement (computed once, not per row).
    total = _counted(candidates).scalar_subquery().label("total")
    rows = (
        await session.execute(
            select(article, page.c.score, total)
            .join(page, page.c.id == article.id)
            .order_by(page.c.score.desc(), page.c.published.desc(), page.c.id.desc())
        )
    ).all()
    hits = [
        SearchHit(row, value, _Position(value, row.published_at or _UNDATED, row.id).encode(text))
        for row, value, _ in rows[:size]
    ]
    return SearchPage(
        hits,
        has_next_page=len(rows) > size,
        has_previous_page=start is not None,
        total=rows[0][2] if rows else (0 if start is None else None),
    )


async def search_count(
    session: AsyncSession,
    *,
    text: SearchText,
    article_filter: ArticleFilter | None,
    viewer: Viewer,
    now: datetime,
) -> int:
    """How many results paging reaches (all pages): every match, up to the bounds."""
    conditions = filter_conditions(article_filter, viewer, now)
    if not text.words:
        return 0
    candidates = _candidates(_backend(session), text, conditions)
    return await session.scalar(_counted(candidates)) or 0


async def search_highlights(
    session: AsyncSession, *, text: SearchText, article_ids: Sequence[int]
) -> dict[int, list[str]]:
    """Short fragments of each article around its matches, matched words in ``<mark>``."""
    if not text.words or not article_ids:
        return {}
    statement = _backend(session).marked(text, article_ids)
    return {
        article_id: fragments(title, excerpt, body)
        for article_id, title, excerpt, body in await session.execute(statement)
    }
