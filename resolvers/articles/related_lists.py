"""Kept related lists: each article's ranking computed once, kept exact, read in one lookup.

Ranking from scratch (``resolvers.articles.related_posts``) reads every article sharing a
tag with the source, tens of thousands at a million articles. Only one of the SPEC's three
steps needs that: pins are an article's own few rows and the newest public articles are the
same for every source. So what is kept is the middle step, per source ``s``:

``C(s)``, the scored candidates: every article other than ``s`` that is *published* (status
published, whether its time has come or is still ahead) with score
``2 x shared tags + same category > 0``, ordered by the key ``(score, published_at, id)``
descending. Scheduled articles are kept too, so the kept order never depends on the time:
an instant coming due changes what a read shows (it filters ``published_at <= now``, and
skips articles past a scheduled ``unpublish_at``), never what is kept, and nothing has to
run at scheduled instants (the worker later makes an unpublished article a draft, a write
that keeps lists as any unpublish does).

A kept list is a ``related_lists`` row (the source's category and a *floor*, the key of the
last candidate kept) and its ``related_entries`` (candidates with their keys). Invariants:

1. every entry is a member of ``C(s)`` with its current key;
2. every member of ``C(s)`` whose key is at or above the floor is an entry.

A list computed when ``C(s)`` holds at most ``KEPT`` candidates keeps all of them, and its
floor is the lowest key there is (score 0): every candidate is at or above it. Otherwise
the first ``KEPT`` are kept and the floor is the last one's key.

Reading ``relatedPosts(first: n)`` of ``s``: its public pins in order; then its entries in
key order, skipping pins and articles not yet public, which by (1) and (2) is exactly the
start of the SPEC's second step; then, if still short and the list holds all of ``C(s)``,
the newest public articles (the ``first + 1`` newest cover the source and every article
already chosen). A list cut short that runs out before ``n`` (many entries scheduled or
pinned) is computed again, twice as long; ``KEPT`` leaves room for 20 shown beside pins
and scheduled articles, so that is rare. Every answer thus comes from a kept list, and
what a write changes in it is what the write reports (``refresh_candidate``). A source
without a list gets one on its first read, computed from scratch, one article at a time.

Computing a list costs what ranking from scratch costs, once per article: every article
sharing a tag is counted. An article with long posting lists is ranked in score tiers, each
walked newest first and stopped early, so that only the few candidates sharing two tags or
more are looked up one by one (``_tiered_statement``). Each list is computed and kept in a
transaction of its own: a batch of articles seen for the first time costs a few statements
per article, once (at a million articles a whole batch in one statement outlived the
statement timeout, and was then never kept); once kept, a batch costs the same statements
as one article.

Keeping the invariants on writes (``refresh_candidate``, ``drop_lists``), all in the
write's own transaction:

- an article changing its status, publication time, category or tags changes its key in
  other lists: its entries are deleted everywhere, then, if it is published, inserted in
  every kept list whose floor it reaches, by one set-based statement over its tags' posting
  lists and the kept lists of its category (score 1 reaches only floors of score 1 or less);
- an article changing its category or tags changes its own ``C(s)``: its list is dropped
  (recomputed on the next read), as are the lists of all articles of a tag deleted;
- deleting an article cascades to its list and to its entries in others; pins and text
  edits change nothing kept.

Inserting never lowers a floor, so lists only grow past ``KEPT`` as newer candidates arrive;
a list is never trimmed (recomputing it, by dropping it, is always allowed).

Concurrency: a list computed from a snapshot must not miss a write committing after it. On
PostgreSQL, writes that keep lists take a shared advisory lock first (before any row lock,
so no deadlock with the foreign keys the computation checks) and computing takes it
exclusively, so a computation sees every write before it and every later write sees its
list. On SQLite every write, computations included, holds the database's write lock.

Write cost: two statements, reading the posting lists of the article's tags and its
category's kept lists; a read costs one lookup of at most a few dozen rows per source, and
one more statement to load the articles chosen.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import cast as cast_type

from sqlalchemy import (
    CompoundSelect,
    DateTime,
    Integer,
    Row,
    Select,
    Table,
    and_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal_column,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute, aliased
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from db.dialects import Database, database_of
from db.models import Article, ArticleStatus, ArticleTag, RelatedEntry, RelatedList, RelatedPin
from resolvers.articles.related_posts import (
    Related,
    RelatedReason,
    padded,
    reason_for,
)

__all__ = [
    "KEPT",
    "drop_lists",
    "drop_lists_of_tag",
    "forget_all",
    "keeping_lists",
    "kept_related_posts",
    "refresh_candidate",
]

KEPT = 30
"""Candidates kept per list: 20 shown, with room for pins and scheduled articles."""

_LOCK = "related-lists"
# A far past time for the category cutoff when a category holds few published articles.
_BEFORE_ANY_ARTICLE = datetime(1, 1, 1)

_LISTS = cast_type(Table, RelatedList.__table__)
_ENTRIES = cast_type(Table, RelatedEntry.__table__)

# Kinds of rows of the lookup statement.
_LIST, _ENTRY, _PIN, _NEWEST, _UNPUBLISHED = 0, 1, 2, 3, 4


def _int(value: int) -> ColumnElement[int]:
    # LIMIT/OFFSET and constants as literals (see resolvers.articles.related_posts).
    return literal_column(str(int(value)), Integer)


def _published(article: Any) -> ColumnElement[bool]:
    """Members of the kept rankings: published, whether public yet or scheduled."""
    return and_(article.status == ArticleStatus.PUBLISHED.value, article.published_at.is_not(None))


@dataclass(frozen=True)
class _Entry:
    related_id: int
    score: int
    published_at: datetime

    @property
    def key(self) -> tuple[int, datetime, int]:
        return (self.score, self.published_at, self.related_id)


@dataclass
class _Kept:
    complete: bool
    entries: list[_Entry]


@dataclass(frozen=True)
class _Pick:
    article_id: int
    reason: RelatedReason
    score: int


async def keeping_lists(session: AsyncSession) -> None:
    """Called by a write that will keep lists (``refresh_candidate``, ``drop_lists``), at its
    start, before it locks any row."""
    await database_of(session).lock(session, _LOCK, shared=True)


# --- reading -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _lookup_statement(database: Database, first: int) -> CompoundSelect[Any]:
    def of_ids(column: InstrumentedAttribute[int]) -> ColumnElement[bool]:
        # PostgreSQL: one array parameter, which lets the statement go to the driver as is.
        return database.any_of_parameter(column, "article_ids")

    # Article.is_public accepts any SQL expression for `now`, a bound parameter included.
    now = cast_type(datetime, bindparam("now", type_=DateTime()))
    no_id = cast(null(), Integer)
    no_time = cast(null(), DateTime())
    lists = select(
        _int(_LIST), RelatedList.article_id, no_id, RelatedList.floor_score, no_time
    ).where(of_ids(RelatedList.article_id))
    entries = select(
        _int(_ENTRY),
        RelatedEntry.article_id,
        RelatedEntry.related_id,
        RelatedEntry.score,
        RelatedEntry.published_at,
    ).where(of_ids(RelatedEntry.article_id), RelatedEntry.published_at <= now)
    pins = (
        select(
            _int(_PIN), RelatedPin.article_id, RelatedPin.related_id, RelatedPin.position, no_time
        )
        .join(Article, Article.id == RelatedPin.related_id)
        .where(of_ids(RelatedPin.article_id), Article.is_public(now))
    )
    newest = (
        select(Article.id, Article.published_at)
        .where(Article.is_public(now))
        .order_by(Article.published_at.desc(), Article.id.desc())
        .limit(_int(first + 1))
        .subquery("newest")
    )
    newest_rows = select(_int(_NEWEST), no_id, newest.c.id, no_id, newest.c.published_at)
    # Entries are kept with their publication time only: those past a scheduled unpublish
    # (the few the worker has not made drafts yet) are named, to be skipped.
    unpublished = select(_int(_UNPUBLISHED), no_id, Article.id, no_id, no_time).where(
        Article.unpublish_at <= now
    )
    return union_all(lists, entries, pins, newest_rows, unpublished)


async def kept_related_posts(
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    article_ids: Sequence[int],
    first: int,
    now: datetime,
    keep: int = KEPT,
) -> dict[int, list[Related]]:
    """``related_posts.ranked_related_posts`` read from the kept lists, computing those not
    kept yet, each in a transaction of its own from ``sessionmaker``. ``keep`` is for tests."""
    if first < 0:
        raise ValueError(f"first must be >= 0, not {first}")
    related: dict[int, list[Related]] = {article_id: [] for article_id in article_ids}
    if first == 0 or not related:
        return related
    # Core rows on the session's connection: read only, they need none of the ORM's work.
    database = database_of(session)
    connection = await session.connection()
    rows = await database.kept_rows(
        connection,
        _lookup_statement(database, first),
        {"article_ids": padded(article_ids), "now": now},
    )
    kept: dict[int, _Kept] = {}
    pins: dict[int, list[tuple[int, int]]] = {}
    newest: list[tuple[datetime, int]] = []
    entries: dict[int, list[_Entry]] = {}
    unpublished: set[int] = set()
    for kind, source_id, related_id, number, published_at in rows:
        if kind == _LIST:
            kept[source_id] = _Kept(complete=number == 0, entries=[])
        elif kind == _ENTRY:
            entries.setdefault(source_id, []).append(_Entry(related_id, number, published_at))
        elif kind == _PIN:
            pins.setdefault(source_id, []).append((number, related_id))
        elif kind == _NEWEST:
            newest.append((published_at, related_id))
        else:
            unpublished.add(related_id)

    def visible(found: list[_Entry]) -> list[_Entry]:
        return [e for e in found if e.published_at <= now and e.related_id not in unpublished]

    for source_id, found in entries.items():
        kept[source_id].entries = visible(found)  # one statement: no entry without its list
    missing = [i for i in related if i not in kept]
    if missing:
        computed = await _compute(sessionmaker, missing, keep)
        for source_id, computed_list in computed.items():
            kept[source_id] = _Kept(computed_list.complete, visible(computed_list.entries))
    newest_ids = [i for _, i in sorted(newest, reverse=True)]

    picks: dict[int, list[_Pick]] = {}
    for source_id in related:
        if source_id not in kept:
            continue  # not an article (or deleted since): nothing related
        chosen = _pick(source_id, kept[source_id], pins.get(source_id, []), newest_ids, first)
        longer = keep
        while chosen is None:
            # Cut short, and run out before `first` (pins and scheduled articles took its
            # room): kept again, twice as long, so that the answer still comes from a kept
            # list, which writes keep exact and name when they change it.
            longer *= 2
            regrown = await _compute_one(sessionmaker, source_id, longer, replace=True)
            if source_id not in regrown:
                break  # deleted meanwhile
            again = _Kept(regrown[source_id].complete, visible(regrown[source_id].entries))
            chosen = _pick(source_id, again, pins.get(source_id, []), newest_ids, first)
        if chosen is not None:
            picks[source_id] = chosen
    wanted = {pick.article_id for chosen in picks.values() for pick in chosen}
    articles: dict[int, Row[Any]] = {}
    if wanted:
        found_articles = await database.kept_rows(
            connection,
            database.rows_by_id(Article.__table__),  # type: ignore[arg-type]  # a mapped table
            {"ids": sorted(wanted)},
        )
        articles = {article.id: article for article in found_articles}
    for source_id, chosen in picks.items():
        related[source_id] = [
            Related(articles[p.article_id], p.reason, p.score)
            for p in chosen
            if p.article_id in articles  # deleted between the statements
        ]
    return related


def _pick(
    source_id: int,
    kept: _Kept,
    pins: list[tuple[int, int]],
    newest_ids: list[int],
    first: int,
) -> list[_Pick] | None:
    """The SPEC's three steps from the kept list; None when the list cannot tell."""
    chosen = [_Pick(related_id, RelatedReason.PINNED, 0) for _, related_id in sorted(pins)]
    chosen = chosen[:first]
    taken = {pick.article_id for pick in chosen}
    for entry in sorted(kept.entries, key=lambda e: e.key, reverse=True):
        if len(chosen) == first:
            return chosen
        if entry.related_id in taken:
            continue
        reason = reason_for(pinned=False, score=entry.score)
        chosen.append(_Pick(entry.related_id, reason, entry.score))
        taken.add(entry.related_id)
    if len(chosen) == first:
        return chosen
    if not kept.complete:
        return None
    for article_id in newest_ids:
        if len(chosen) == first:
            break
        if article_id != source_id and article_id not in taken:
            chosen.append(_Pick(article_id, RelatedReason.NEWEST, 0))
            taken.add(article_id)
    return chosen


# --- computing -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _candidates_statement(keep: int) -> Select[int, int, int, datetime | None]:
    """The first ``keep + 1`` of ``C(s)`` for one source: one more tells a list cut short.

    Candidates: every article sharing a tag, and the newest ``keep + 2`` published articles
    of the source's category. Why that is enough: a candidate of score 1 among the first
    ``keep + 1`` is beaten only by at most ``keep`` others, while the ``keep + 2`` newest of
    its category (less the source) would all beat it. And if fewer than ``keep + 1``
    candidates come back, the category held fewer than ``keep + 2``, all of them gathered:
    the list is complete.
    """
    ids: BindParameter[list[int]] = bindparam("article_ids", expanding=True)
    source = (
        select(Article.id.label("id"), Article.category_id.label("category_id"))
        .where(Article.id.in_(ids))
        .cte("source")
    )
    same_category = aliased(Article)
    cutoff = (
        select(same_category.published_at)
        .where(same_category.category_id == source.c.category_id, _published(same_category))
        .order_by(same_category.published_at.desc(), same_category.id.desc())
        .limit(_int(1))
        .offset(_int(keep + 1))
        .correlate(source)
        .scalar_subquery()
    )
    source_cutoff = select(
        source.c.id,
        source.c.category_id,
        func.coalesce(cutoff, _BEFORE_ANY_ARTICLE).label("cutoff"),
    ).cte("source_cutoff")
    source_tag = aliased(ArticleTag)
    other_tag = aliased(ArticleTag)
    hits = union_all(
        select(
            source_tag.article_id.label("source_id"),
            other_tag.article_id.label("candidate_id"),
            _int(1).label("tag_hit"),
        )
        .join(other_tag, other_tag.tag_id == source_tag.tag_id)
        .where(source_tag.article_id.in_(ids)),
        select(source_cutoff.c.id, Article.id, _int(0)).join(
            Article,
            and_(
                Article.category_id == source_cutoff.c.category_id,
                _published(Article),
                Article.published_at >= source_cutoff.c.cutoff,
            ),
        ),
    ).subquery("hits")
    grouped = (
        select(
            hits.c.source_id,
            hits.c.candidate_id,
            func.sum(hits.c.tag_hit).label("shared_tags"),
        )
        .where(hits.c.candidate_id != hits.c.source_id)
        .group_by(hits.c.source_id, hits.c.candidate_id)
        .subquery("grouped")
    )
    candidate = aliased(Article)
    score = _int(2) * grouped.c.shared_tags + case(
        (candidate.category_id == source.c.category_id, _int(1)), else_=_int(0)
    )
    order = (score.desc(), candidate.published_at.desc(), candidate.id.desc())
    scored = (
        select(grouped.c.source_id, candidate.id, score.label("score"), candidate.published_at)
        .join(candidate, and_(candidate.id == grouped.c.candidate_id, _published(candidate)))
        .join(source, source.c.id == grouped.c.source_id)
    )
    # ORDER BY ... LIMIT: a top-n heap rather than a sort of every candidate.
    return scored.order_by(*order).limit(_int(keep + 1))


TIERED_FROM = 3_000
"""Posting-list rows (summed over a source's tags) from which one source's list is computed
in tiers (``_tiered_statement``) rather than by looking at every candidate."""


@functools.lru_cache(maxsize=4)
def _posting_rows_statement() -> Select[int]:
    own = aliased(ArticleTag)
    return (
        select(func.count())
        .select_from(ArticleTag)
        .join(own, own.tag_id == ArticleTag.tag_id)
        .where(own.article_id == bindparam("article_id", type_=Integer))
    )


@functools.lru_cache(maxsize=4)
def _tiered_statement(keep: int) -> Select[int, int, int, datetime | None]:
    """``_candidates_statement`` for one source with long posting lists, without looking
    up every candidate: the first ``keep + 1`` of each score tier, each found on its own.

    The articles sharing a tag are counted from the posting lists alone. Those sharing two
    or more (score 4 and up) are few and all looked up. Those sharing one score 3 (same
    category) or 2: each tier is the newest ``keep + 1`` of its kind, found by walking the
    articles newest first and stopping there; the score-1 tier (same category, no tag
    shared) likewise. With long posting lists a walk meets a candidate every few hundred
    articles at worst (``TIERED_FROM``), where looking every candidate up costs a probe
    each. Every tier that is not cut short is whole, so fewer than ``keep + 1`` results
    means the list is complete, as with the other statement.
    """
    article_id = bindparam("article_id", type_=Integer)
    limit = _int(keep + 1)
    own_tag = aliased(ArticleTag)
    other_tag = aliased(ArticleTag)
    shared = (
        select(other_tag.article_id.label("candidate_id"), func.count().label("shared_tags"))
        .join(own_tag, own_tag.tag_id == other_tag.tag_id)
        .where(own_tag.article_id == article_id, other_tag.article_id != article_id)
        .group_by(other_tag.article_id)
        .cte("shared")
        .prefix_with("MATERIALIZED")  # read by every tier: counted once
    )
    category_id = select(Article.category_id).where(Article.id == article_id).scalar_subquery()
    strong = select(
        Article.id,
        (
            _int(2) * shared.c.shared_tags
            + case((Article.category_id == category_id, _int(1)), else_=_int(0))
        ).label("score"),
        Article.published_at,
    ).join(
        shared,
        and_(
            shared.c.candidate_id == Article.id,
            shared.c.shared_tags >= _int(2),
            _published(Article),
        ),
    )
    one_tag = select(shared.c.candidate_id).where(shared.c.shared_tags == _int(1))
    # A membership test on each article walked, in the candidates hashed once: `id + 0`,
    # or both planners would look up every candidate instead of walking; `IS TRUE`, or
    # PostgreSQL would make a semi-join of it, scanning the candidates per article walked.
    walked = Article.id + _int(0)

    def among(candidates: Select[int]) -> ColumnElement[bool]:
        return walked.in_(candidates).is_(true())

    newest = (Article.published_at.desc(), Article.id.desc())

    def tier(score: int, *conditions: ColumnElement[bool]) -> Select[int, int, datetime | None]:
        walk = (
            select(Article.id, _int(score).label("score"), Article.published_at)
            .where(_published(Article), *conditions)
            .order_by(*newest)
            .limit(limit)
            .subquery(f"tier_{score}")
        )
        # A subquery of its own: SQLite takes no LIMIT on a member of a compound SELECT.
        return select(walk.c.id, walk.c.score, walk.c.published_at)

    tiers = union_all(
        strong,
        tier(3, Article.category_id == category_id, among(one_tag)),
        tier(2, Article.category_id != category_id, among(one_tag)),
        tier(
            1,
            Article.category_id == category_id,
            Article.id != article_id,
            walked.not_in(select(shared.c.candidate_id)),
        ),
    ).subquery("tiers")
    return (
        select(article_id.label("source_id"), tiers.c.id, tiers.c.score, tiers.c.published_at)
        .order_by(tiers.c.score.desc(), tiers.c.published_at.desc(), tiers.c.id.desc())
        .limit(limit)
    )


async def _compute(
    sessionmaker: async_sessionmaker[AsyncSession], source_ids: Sequence[int], keep: int
) -> dict[int, _Kept]:
    """Kept lists for these articles, each computed and stored in a transaction of its own
    unless another read just did (then read back)."""
    found: dict[int, _Kept] = {}
    for source_id in source_ids:
        found.update(await _compute_one(sessionmaker, source_id, keep))
    return found


async def _compute_one(
    sessionmaker: async_sessionmaker[AsyncSession],
    source_id: int,
    keep: int,
    *,
    replace: bool = False,
) -> dict[int, _Kept]:
    # One article at a time: at a million articles one list costs up to a few hundred
    # milliseconds, so a batch of them in one statement would outlive the statement timeout
    # and never be kept; each list kept is kept even if the request fails later; and the
    # exclusive lock, which writers wait for, is held for one list only.
    async with sessionmaker.begin() as session:
        database = database_of(session)
        await database.begin_write(session)
        await database.lock(session, _LOCK)
        source = (
            await session.execute(
                select(Article.category_id, RelatedList.article_id)
                .outerjoin(RelatedList, RelatedList.article_id == Article.id)
                .where(Article.id == source_id)
            )
        ).first()
        if source is None:
            return {}  # not an article (any more)
        category_id, kept_id = source
        if kept_id is not None and not replace:
            return await _stored(session, [source_id])
        if kept_id is not None:
            await drop_lists(session, [source_id])
        return {source_id: await _computed(session, source_id, category_id, keep)}


async def _stored(session: AsyncSession, source_ids: Sequence[int]) -> dict[int, _Kept]:
    database = database_of(session)
    found = {
        article_id: _Kept(complete=floor == 0, entries=[])
        for article_id, floor in await session.execute(
            select(RelatedList.article_id, RelatedList.floor_score).where(
                database.any_of(RelatedList.article_id, source_ids)
            )
        )
    }
    for article_id, related_id, score, published_at in await session.execute(
        select(
            RelatedEntry.article_id,
            RelatedEntry.related_id,
            RelatedEntry.score,
            RelatedEntry.published_at,
        ).where(database.any_of(RelatedEntry.article_id, source_ids))
    ):
        found[article_id].entries.append(_Entry(related_id, score, published_at))
    return found


async def _computed(session: AsyncSession, source_id: int, category_id: int, keep: int) -> _Kept:
    """The list of this article (of this category), computed and stored."""
    parameters: dict[str, Any] = {"article_id": source_id, "article_ids": [source_id]}
    posting_rows = await session.scalar(_posting_rows_statement(), parameters) or 0
    statement = (
        _tiered_statement(keep) if posting_rows >= TIERED_FROM else _candidates_statement(keep)
    )
    candidates: list[_Entry] = []
    for _, related_id, score, published_at in await session.execute(statement, parameters):
        assert published_at is not None  # every candidate is published
        candidates.append(_Entry(related_id, score, published_at))
    complete = len(candidates) <= keep
    entries = candidates[:keep]
    floor = None if complete else entries[-1]
    await session.execute(
        insert(_LISTS),
        {
            "article_id": source_id,
            "category_id": category_id,
            "floor_score": floor.score if floor else 0,
            "floor_published_at": floor.published_at if floor else None,
            "floor_id": floor.related_id if floor else None,
        },
    )
    if entries:
        # A Core INSERT, one executemany (the ORM's bulk INSERT splits rows by their nulls).
        await session.execute(
            insert(_ENTRIES),
            [
                {
                    "article_id": source_id,
                    "related_id": e.related_id,
                    "score": e.score,
                    "published_at": e.published_at,
                }
                for e in entries
            ],
        )
    return _Kept(complete, entries)


# --- keeping -------------------------------------------------------------------------------


def _reaches_floor(
    score: ColumnElement[int], published_at: Any, article_id: Any
) -> ColumnElement[bool]:
    """The key ``(score, published_at, article_id)`` at or above the list's floor."""
    return or_(
        score > RelatedList.floor_score,
        and_(
            score == RelatedList.floor_score,
            or_(
                published_at > RelatedList.floor_published_at,
                and_(
                    published_at == RelatedList.floor_published_at,
                    article_id >= RelatedList.floor_id,
                ),
            ),
        ),
    )


@functools.lru_cache(maxsize=1)
def _entering_statement() -> Select[int, int, int, datetime | None]:
    """The entries one published article makes: every kept list whose floor it reaches."""
    article_id = bindparam("article_id", type_=Integer)
    changed = aliased(Article)
    own_tag = aliased(ArticleTag)
    source_tag = aliased(ArticleTag)
    category_id = select(Article.category_id).where(Article.id == article_id).scalar_subquery()
    hits = union_all(
        select(source_tag.article_id.label("source_id"), _int(1).label("tag_hit"))
        .join(own_tag, own_tag.tag_id == source_tag.tag_id)
        .where(own_tag.article_id == article_id, source_tag.article_id != article_id),
        # Lists of its category that a score of 1 can reach (floors of score 0 or 1).
        select(RelatedList.article_id, _int(0)).where(
            RelatedList.category_id == category_id,
            RelatedList.floor_score <= _int(1),
            RelatedList.article_id != article_id,
        ),
    ).subquery("hits")
    grouped = (
        select(hits.c.source_id, func.sum(hits.c.tag_hit).label("shared_tags"))
        .group_by(hits.c.source_id)
        .subquery("grouped")
    )
    score = _int(2) * grouped.c.shared_tags + case(
        (RelatedList.category_id == changed.category_id, _int(1)), else_=_int(0)
    )
    return (
        select(RelatedList.article_id, changed.id, score, changed.published_at)
        .select_from(grouped)
        .join(RelatedList, RelatedList.article_id == grouped.c.source_id)
        .join(changed, and_(changed.id == article_id, _published(changed)))
        .where(_reaches_floor(score, changed.published_at, changed.id))
    )


async def refresh_candidate(session: AsyncSession, article_id: int) -> set[int]:
    """After the article's status, publication time, category or tags changed (in the
    write's transaction, after ``keeping_lists``): its entries in other lists follow.

    Returns the articles whose kept lists it left or entered (or moved in).
    """
    left = await session.scalars(
        delete(RelatedEntry)
        .where(RelatedEntry.related_id == article_id)
        .returning(RelatedEntry.article_id)
    )
    changed = set(left)
    # The table's INSERT: the model's would take the bound id for a row of a bulk INSERT.
    entered = await session.scalars(
        insert(_ENTRIES)
        .from_select(["article_id", "related_id", "score", "published_at"], _entering_statement())
        .returning(_ENTRIES.c.article_id),
        {"article_id": article_id},
    )
    return changed | set(entered)


async def drop_lists(session: AsyncSession, article_ids: Sequence[int]) -> None:
    """Forget these articles' own lists (their category or tags changed); their entries go
    with them (the foreign key cascades)."""
    await session.execute(delete(RelatedList).where(RelatedList.article_id.in_(article_ids)))


async def drop_lists_of_tag(session: AsyncSession, tag_id: int) -> None:
    """Forget the lists of every article carrying the tag (before the tag leaves them)."""
    tagged = select(ArticleTag.article_id).where(ArticleTag.tag_id == tag_id)
    await session.execute(delete(RelatedList).where(RelatedList.article_id.in_(tagged)))


async def forget_all(session: AsyncSession) -> None:
    """Forget every kept list (after a bulk load that bypasses the writes above)."""
    await database_of(session).lock(session, _LOCK)
    await session.execute(delete(RelatedList))
