"""Related posts ranked from scratch: the SPEC ranking, for a batch of articles in one statement.

Reads take the kept lists (``resolvers.articles.related_lists``); this ranking answers when
a kept list runs short, and is the reference the kept lists are tested against.

The SPEC's three steps (pins, then score ``2 x shared tags + same category``, then newest)
are one ordering over every public article other than the source:

    pinned first, by position; then score desc, published_at desc, id desc

since an unpinned article of score 0 is exactly a "newest" filler. The statement therefore
gathers a bounded set of candidates per source, computes each candidate's exact key from its
own row, ranks, and keeps the first ``first``. Candidates come from four tiers:

- pins: every pin of the source;
- tags: every article sharing a tag with the source (the O(posting lists) part);
- category: the newest ``first + 1`` public articles of the source's exact category;
- newest: the newest ``first + 1`` public articles overall (the same for every source).

Why ``first + 1`` is enough: keys never depend on the tier a candidate came through, so the
only risk is a missing candidate. Pins and tag sharers are all gathered. Suppose a score-1
article x belongs in the answer but is not among the category tier's newest ``first + 1``.
Then those ``first + 1`` are all newer than x, and each one is the source itself (at most
one) or ranks above x (pinned, scored higher, or same score and newer): at least ``first``
articles rank above x, so x is not in the answer. The same argument with the newest tier
covers score-0 fillers.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    DateTime,
    Integer,
    Row,
    Select,
    SQLColumnExpression,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    null,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import BindParameter, ColumnElement, UnaryExpression

from db.models import Article, ArticleTag, RelatedPin

__all__ = [
    "Related",
    "RelatedReason",
    "padded",
    "ranked_related_posts",
    "reason_for",
    "related_posts",
]

# A far past time for the category cutoff when a category holds no more than `first + 1`
# public articles: every one of them is then a candidate.
_BEFORE_ANY_ARTICLE = datetime(1, 1, 1)


def _literal_int(value: int) -> ColumnElement[int]:
    # LIMIT/OFFSET as literals, not bound parameters: PostgreSQL plans a statement with a
    # bound LIMIT afresh on each call, and `first` takes only 21 values.
    return literal_column(str(int(value)), Integer)


def padded(article_ids: Sequence[int]) -> list[int]:
    # The IN list renders one placeholder per id, and asyncpg caches prepared statements by
    # SQL text; padding the list to a power of two (repeating an id changes nothing) keeps
    # the number of distinct texts, and so of costly plannings of this statement, small.
    ids = sorted(set(article_ids))
    size = 1
    while size < len(ids):
        size *= 2
    return ids + [ids[-1]] * (size - len(ids))


def _ranking_order(
    pin_position: SQLColumnExpression[int | None],
    score: SQLColumnExpression[int],
    published_at: SQLColumnExpression[datetime | None],
    article_id: SQLColumnExpression[int],
) -> tuple[UnaryExpression[Any], ...]:
    return (
        pin_position.asc().nulls_last(),
        score.desc(),
        published_at.desc(),
        article_id.desc(),
    )


# Building this statement in Python costs several times what a whole request may spend
# beyond its SQL (bench/results/related_posts.md), so it is built once per shape, with the
# ids and `now` bound at execution.
@functools.lru_cache(maxsize=64)
def _ranking_statement(first: int, *, single_source: bool) -> Select[Article, int, int | None, int]:
    article_ids: BindParameter[list[int]] = bindparam("article_ids", expanding=True)
    # Article.is_public accepts any SQL expression for `now`, a bound parameter included.
    now = cast(datetime, bindparam("now", type_=DateTime()))
    public = Article.is_public(now)

    # Sources are read whatever their status: an editor looks at related posts of a draft.
    source = (
        select(Article.id.label("id"), Article.category_id.label("category_id"))
        .where(Article.id.in_(article_ids))
        .cte("source")
    )

    same_category = aliased(Article)
    category_cutoff = (
        select(same_category.published_at)
        .where(
            same_category.category_id == source.c.category_id,
            same_category.is_public(now),
        )
        .order_by(same_category.published_at.desc(), same_category.id.desc())
        .limit(_literal_int(1))
        .offset(_literal_int(first))
        .correlate(source)
        .scalar_subquery()
    )
    # Evaluated once per source (a handful of rows), so the correlated subquery costs one
    # short backward index walk each and the join below is a bounded range scan. (An
    # `id IN (correlated subquery ... LIMIT)` would instead run once per candidate row.)
    source_cutoff = select(
        source.c.id,
        source.c.category_id,
        func.coalesce(category_cutoff, _BEFORE_ANY_ARTICLE).label("cutoff"),
    ).cte("source_cutoff")

    newest = (
        select(Article.id)
        .where(public)
        .order_by(Article.published_at.desc(), Article.id.desc())
        .limit(_literal_int(first + 1))
        .cte("newest")
    )

    source_tag = aliased(ArticleTag)
    other_tag = aliased(ArticleTag)
    no_pin = null().label("pin_position")
    candidates = union_all(
        select(
            RelatedPin.article_id.label("source_id"),
            RelatedPin.related_id.label("candidate_id"),
            RelatedPin.position.label("pin_position"),
            _literal_int(0).label("tag_hit"),
        ).where(RelatedPin.article_id.in_(article_ids)),
        # One row per (shared tag, candidate): summed below into the number of shared tags.
        select(source_tag.article_id, other_tag.article_id, no_pin, _literal_int(1))
        .join(other_tag, other_tag.tag_id == source_tag.tag_id)
        .where(source_tag.article_id.in_(article_ids)),
        select(source_cutoff.c.id, Article.id, no_pin, _literal_int(0)).join(
            Article,
            and_(
                Article.category_id == source_cutoff.c.category_id,
                public,
                Article.published_at >= source_cutoff.c.cutoff,
            ),
        ),
        select(source.c.id, newest.c.id, no_pin, _literal_int(0)).join(newest, true()),
    ).subquery("candidates")

    # A candidate found by several tiers becomes one row; min() keeps its first pin.
    grouped = (
        select(
            candidates.c.source_id,
            candidates.c.candidate_id,
            func.min(candidates.c.pin_position).label("pin_position"),
            func.sum(candidates.c.tag_hit).label("shared_tags"),
        )
        .where(candidates.c.candidate_id != candidates.c.source_id)
        .group_by(candidates.c.source_id, candidates.c.candidate_id)
        .subquery("grouped")
    )

    candidate = aliased(Article)
    score = _literal_int(2) * grouped.c.shared_tags + case(
        (candidate.category_id == source.c.category_id, _literal_int(1)), else_=_literal_int(0)
    )
    order = _ranking_order(grouped.c.pin_position, score, candidate.published_at, candidate.id)
    public_candidates = (
        select(grouped.c.source_id, grouped.c.candidate_id)
        .join(candidate, and_(candidate.id == grouped.c.candidate_id, candidate.is_public(now)))
        .join(source, source.c.id == grouped.c.source_id)
    )

    if single_source:
        # One source needs no window: ORDER BY ... LIMIT lets both databases keep a top-n
        # heap instead of sorting every candidate.
        top = (
            public_candidates.add_columns(grouped.c.pin_position, score.label("score"))
            .order_by(*order)
            .limit(_literal_int(first))
            .subquery("top")
        )
        return (
            select(Article, top.c.source_id, top.c.pin_position, top.c.score)
            .join(top, top.c.candidate_id == Article.id)
            .order_by(
                *_ranking_order(top.c.pin_position, top.c.score, Article.published_at, Article.id)
            )
        )

    ranked = public_candidates.add_columns(
        grouped.c.pin_position,
        score.label("score"),
        func.row_number().over(partition_by=grouped.c.source_id, order_by=order).label("rank"),
    ).subquery("ranked")
    return (
        select(Article, ranked.c.source_id, ranked.c.pin_position, ranked.c.score)
        .join(ranked, ranked.c.candidate_id == Article.id)
        .where(ranked.c.rank <= _literal_int(first))
        .order_by(ranked.c.source_id, ranked.c.rank)
    )


class RelatedReason(enum.StrEnum):
    """Why an article is in a related list (SPEC ``relatedPostsExplained``)."""

    PINNED = "pinned"
    SHARED_TAGS = "shared_tags"
    SAME_CATEGORY = "same_category"
    NEWEST = "newest"


def reason_for(*, pinned: bool, score: int) -> RelatedReason:
    if pinned:
        return RelatedReason.PINNED
    if score >= 2:
        return RelatedReason.SHARED_TAGS
    return RelatedReason.SAME_CATEGORY if score == 1 else RelatedReason.NEWEST


@dataclass(frozen=True)
class Related:
    """One article of a related list, why it is there and its SPEC score (0 when pinned)."""

    article: Article | Row[Any]  # the ORM object, or the table's row (read alike)
    reason: RelatedReason
    score: int


async def ranked_related_posts(
    session: AsyncSession, *, article_ids: Sequence[int], first: int, now: datetime
) -> dict[int, list[Related]]:
    """Up to ``first`` public related articles for each id, ranked from scratch in one SQL
    statement, each with its reason and score.

    ``now`` is naive UTC, like the stored times. Unknown ids map to an empty list.
    """
    if first < 0:
        raise ValueError(f"first must be >= 0, not {first}")
    related: dict[int, list[Related]] = {article_id: [] for article_id in article_ids}
    if first == 0 or not related:
        return related
    ids = padded(article_ids)
    statement = _ranking_statement(first, single_source=len(ids) == 1)
    result = await session.execute(statement, {"article_ids": ids, "now": now})
    for article, source_id, pin_position, score in result:
        pinned = pin_position is not None
        related[source_id].append(
            Related(article, reason_for(pinned=pinned, score=score), 0 if pinned else score)
        )
    return related


async def related_posts(
    session: AsyncSession, *, article_ids: Sequence[int], first: int, now: datetime
) -> dict[int, list[Article | Row[Any]]]:
    """Up to ``first`` public related articles for each id, ranked from scratch in one SQL
    statement (``ranked_related_posts`` without the reasons)."""
    ranked = await ranked_related_posts(session, article_ids=article_ids, first=first, now=now)
    return {source_id: [r.article for r in rows] for source_id, rows in ranked.items()}
