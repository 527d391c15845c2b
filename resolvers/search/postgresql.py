"""Search on PostgreSQL: the weighted ``tsvector`` columns of migrations 0002 to 0004.

``ts_rank`` depends on the article alone, so a cursor keeps its place whatever is written
meanwhile. Candidates are found by a walk of the newest ids or by the GIN index, whichever
the statement measures to be cheaper (:func:`_candidates`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    CompoundSelect,
    Double,
    Select,
    SelectBase,
    Text,
    and_,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import TSVECTOR

from db.models import Article
from resolvers.pagination import literal_limit
from resolvers.search import bounds
from resolvers.search.backend import MATERIALIZED, SearchBackend, score
from resolvers.search.highlights import CLOSE, OPEN
from resolvers.search.text import SearchText

__all__ = ["PROBE_IDS", "WALK_ROWS", "TsvectorSearch"]

# How many of the newest ids are sampled to measure a query's share, and how many a walk
# for candidates reads before it leaves them to the index.
PROBE_IDS = 1_000
WALK_ROWS = 100_000
# The walk reads its ids in slices this long, one after another.
_WALK_SLICE = 5_000
# A walk is chosen only when the sample says it needs at most half of WALK_ROWS.
_WALK_MARGIN = 2
# A walk's cost per row read relative to the bitmap's per match visited, measured at a
# million articles with the vectors in the row (bench/results/search.md).
_WALK_COST = 0.3

# The generated column and text search configuration of migration 0002.
_DOCUMENT = literal_column("articles.search_document", TSVECTOR)
_CONFIG: ColumnElement[str] = literal_column("'masthead_search'")
# ts_rank weights for D, C, B, A (body is C, excerpt B, title A). ts_rank saturates: for
# one word, a title match (1.0) outranks any number of excerpt and body matches (0.4, 0.2).
_RANK_WEIGHTS: ColumnElement[str] = literal_column("'{0.1, 0.2, 0.4, 1.0}'")
# The titles' own vectors, a generated column of migration 0003.
_TITLE_VECTOR = literal_column("articles.search_title", TSVECTOR)
# The vectors candidates are found in, by the name their columns take.
_VECTORS: dict[str, ColumnElement[Any]] = {"document": _DOCUMENT, "title": _TITLE_VECTOR}
_HEADLINE_OPTIONS = f'HighlightAll=true, StartSel="{OPEN}", StopSel="{CLOSE}"'


def _tsquery(text: SearchText) -> ColumnElement[Any]:
    # The words are rendered into the SQL text (quoted by the dialect), not bound: a prepared
    # statement's generic plan cannot see how common they are, and the walk-or-bitmap choice
    # (see the module docstring) hangs on exactly that.
    words = bindparam("words", text.plain, type_=Text, literal_execute=True)
    return func.plainto_tsquery(_CONFIG, words)


def _unindexed(conditions: Sequence[ColumnElement[bool]]) -> list[ColumnElement[bool]]:
    """``conditions`` (the visibility rule first) with the rule kept off every index.

    Once a statement has run five times PostgreSQL may switch to a generic plan, which
    cannot see the time the rule compares with and guesses that a sixth of the articles
    are public: it then ANDed the GIN bitmap with the (status, published_at) index, or read
    the newest articles through it and sorted them, instead of walking the primary key.
    ``IS true`` leaves the rule unchanged in a WHERE but matches no index; the filter's own
    conditions stay indexable (a category's index narrows the bitmap usefully).
    """
    rule, *narrowing = conditions
    return [rule.is_(true()), *narrowing]


def _candidates(
    text: SearchText, conditions: Sequence[ColumnElement[bool]]
) -> list[CompoundSelect[Any]]:
    """The ``recent`` and ``titled`` candidate ids, by a walk or by the index.

    Walking the primary key backwards checks ``@@`` row by row until ``limit`` match
    (about ``limit / share`` rows); the GIN bitmap visits every match (``share * articles``)
    and sorts them. The planner guesses a multi-word query's share as if its words were
    independent, which in news they are not, and can be a hundred times off; so the
    statement measures it: ``probe`` counts the matches among the newest
    :data:`PROBE_IDS` ids that pass the filter. A walk is taken where it is cheaper,
    ``share² * articles >= limit * cost``, and sure to end well inside the newest
    :data:`WALK_ROWS` ids, read in slices so the planner can neither reorder nor widen it.
    Otherwise, or if the walk finds fewer than ``limit`` (the sample misled), the fenced
    bitmap gives them. One-time filters make each side skip the other, in one statement.
    """
    query = _tsquery(text)
    articles = select(func.max(Article.id)).scalar_subquery()

    def newest(ids: int) -> Select[Any]:
        """The articles among the newest ``ids`` ids that pass the filter, with vectors."""
        vectors = (vector.label(name) for name, vector in _VECTORS.items())
        return select(Article.id, *vectors).where(
            *_unindexed(conditions), Article.id > articles - ids
        )

    # The newest PROBE_IDS ids, and which of them match and pass the filter. The order and
    # limit change nothing but the plan: told how few rows it reads (the bound on ids is
    # a parameter to it), the planner walks the primary key instead of starting workers.
    sample = (
        newest(PROBE_IDS)
        .order_by(Article.id.desc())
        .limit(literal_limit(PROBE_IDS))
        .subquery("sample")
    )
    probe = (
        select(
            cast(articles, Double).label("articles"),
            *(
                cast(func.count().filter(sample.c[name].op("@@")(query)), Double).label(name)
                for name in _VECTORS
            ),
        )
        .cte("probe")
        .prefix_with(MATERIALIZED)
    )
    # The newest WALK_ROWS ids, whatever share of them the filter passes, newest first: in
    # slices of _WALK_SLICE ids taken in turn (a nested loop over a series, so the order is
    # the plan's own), because asked for all of them ordered at once the planner may read
    # them through a bitmap and sort them, which costs the whole span before the first row.
    slices = func.generate_series(0, WALK_ROWS // _WALK_SLICE - 1)
    offsets = slices.table_valued("n").render_derived(name="slice")
    top = articles - offsets.c.n * _WALK_SLICE
    span = (
        newest(WALK_ROWS)
        .where(Article.id <= top, Article.id > top - _WALK_SLICE)
        .order_by(Article.id.desc())
        .offset(0)  # a fence: @@ pushed into a slice would be a GIN bitmap per slice
        .lateral("span")
    )
    found: list[CompoundSelect[Any]] = []
    for name, limit in (("document", bounds.CANDIDATES), ("title", bounds.TITLE_CANDIDATES)):
        # The share of all articles (by id) that match and pass the filter.
        share = probe.c[name] / PROBE_IDS
        # Cheaper than the bitmap, and sure to end well inside the span.
        cheaper = share * share * probe.c.articles >= limit * _WALK_COST
        ends_early = share * WALK_ROWS >= _WALK_MARGIN * limit
        worth_walking = select(and_(cheaper, ends_early)).scalar_subquery()
        walked = (
            select(span.c.id)
            .select_from(offsets)
            .join(span, true())
            .where(span.c[name].op("@@")(query), worth_walking)
            .limit(literal_limit(limit))
            .cte(f"walked_{name}")
            .prefix_with(MATERIALIZED)
        )
        short = select(func.count()).select_from(walked).scalar_subquery() < limit
        # Every match from the GIN bitmap, then the newest: the fence (OFFSET 0) keeps the
        # planner from walking the primary key instead, which it costs too cheaply.
        matched = (
            select(Article.id)
            .where(_VECTORS[name].op("@@")(query), *_unindexed(conditions), short)
            .offset(0)
            .subquery(f"matched_{name}")
        )
        indexed = (
            select(matched.c.id)
            .order_by(matched.c.id.desc())
            .limit(literal_limit(limit))
            .subquery(f"indexed_{name}")
        )
        found.append(union_all(select(walked.c.id), select(indexed.c.id)))
    return found


class TsvectorSearch(SearchBackend):
    def candidates(
        self, text: SearchText, conditions: Sequence[ColumnElement[bool]]
    ) -> tuple[SelectBase, SelectBase]:
        recent, titled = _candidates(text, conditions)
        return recent, titled

    def scores(self, text: SearchText, candidates: CTE) -> Select[Any]:
        query = _tsquery(text)
        relevance = cast(func.ts_rank(_RANK_WEIGHTS, _DOCUMENT, query), Double)
        value: ColumnElement[Any] = score(relevance, _TITLE_VECTOR.op("@@")(query))
        return select(Article.id, value.label("score")).where(
            Article.id.in_(select(candidates.c.id))
        )

    def marked(self, text: SearchText, article_ids: Sequence[int]) -> Select[Any]:
        query = _tsquery(text)
        options = literal(_HEADLINE_OPTIONS)
        fields = [
            func.ts_headline(_CONFIG, field, query, options)
            for field in (Article.title, Article.excerpt, func.masthead_html_text(Article.body))
        ]
        return select(Article.id, *fields).where(Article.id.in_(article_ids))
