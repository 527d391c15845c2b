"""Search on SQLite: the FTS5 table of migration 0002, ranked by ``bm25``.

``bm25`` weighs the corpus too (document count, average length, how many documents hold a
word), so a write between two pages can nudge scores and move a result across a cursor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    CTE,
    Column,
    ColumnElement,
    Double,
    Integer,
    MetaData,
    Select,
    SelectBase,
    Table,
    Text,
    func,
    literal_column,
    select,
)

from db.models import Article
from resolvers.pagination import literal_limit
from resolvers.search import bounds
from resolvers.search.backend import MATERIALIZED, SearchBackend, score
from resolvers.search.highlights import CLOSE, OPEN
from resolvers.search.text import SearchText

__all__ = ["Fts5Search"]

# The FTS5 table of migration 0002; its hidden column of the same name takes MATCH.
_FTS = Table(
    "article_search",
    MetaData(),
    Column("rowid", Integer, primary_key=True),
    Column("article_search", Text),
)
# Column weights for bm25(): title, excerpt, body. bm25 saturates with repetition, so the
# title's weight must be large for one title match to beat several body matches.
_BM25_WEIGHTS = (10.0, 2.5, 1.0)


def _match(text: SearchText) -> ColumnElement[bool]:
    return _FTS.c.article_search.match(text.fts5)


def _title_match(text: SearchText) -> ColumnElement[bool]:
    """Titles holding every word: a column filter on the same index."""
    return _FTS.c.article_search.match(f"{{title}} : ({text.fts5})")


def _newest(
    matching: ColumnElement[bool], conditions: Sequence[ColumnElement[bool]], limit: int
) -> Select[Any]:
    """Ids of the newest (highest id) ``limit`` articles that match and pass ``conditions``.

    FTS5 streams a query's rowids newest first, each looked up in ``articles`` by primary
    key, until ``limit`` pass.
    """
    statement = (
        select(Article.id)
        .select_from(_FTS)
        .join(Article, Article.id == _FTS.c.rowid)
        .where(matching, *conditions)
    )
    return statement.order_by(_FTS.c.rowid.desc()).limit(literal_limit(limit))


class Fts5Search(SearchBackend):
    def candidates(
        self, text: SearchText, conditions: Sequence[ColumnElement[bool]]
    ) -> tuple[SelectBase, SelectBase]:
        return (
            _newest(_match(text), conditions, bounds.CANDIDATES),
            _newest(_title_match(text), conditions, bounds.TITLE_CANDIDATES),
        )

    def scores(self, text: SearchText, candidates: CTE) -> Select[Any]:
        # Materialized: left to itself, the planner may walk an ``articles`` index and run
        # the full-text query once per article. bm25() is better when lower; negated, it
        # reads like ts_rank (negation is exact). Each query runs once, from the oldest
        # candidate up; "rowid + 0" keeps the IN list from becoming one query per candidate.
        weights = [literal_column(repr(weight), Double) for weight in _BM25_WEIGHTS]
        oldest = select(func.min(candidates.c.id)).scalar_subquery()

        def among_candidates(matching: ColumnElement[bool]) -> list[ColumnElement[bool]]:
            return [
                matching,
                _FTS.c.rowid >= oldest,
                (_FTS.c.rowid + 0).in_(select(candidates.c.id)),
            ]

        matched = (
            select(
                _FTS.c.rowid.label("id"),
                (-func.bm25(_FTS.c.article_search, *weights)).label("relevance"),
            )
            .where(*among_candidates(_match(text)))
            .cte("matched")
            .prefix_with(MATERIALIZED)
        )
        titled = (
            select(_FTS.c.rowid.label("id"))
            .where(*among_candidates(_title_match(text)))
            .cte("titled_matched")
            .prefix_with(MATERIALIZED)
        )
        value: ColumnElement[Any] = score(
            matched.c.relevance, matched.c.id.in_(select(titled.c.id))
        )
        return select(Article.id, value.label("score")).join(matched, matched.c.id == Article.id)

    def marked(self, text: SearchText, article_ids: Sequence[int]) -> Select[Any]:
        fields = [
            func.highlight(_FTS.c.article_search, literal_column(str(column)), OPEN, CLOSE)
            for column in range(3)
        ]
        return select(_FTS.c.rowid, *fields).where(_match(text), _FTS.c.rowid.in_(article_ids))
