"""Ranked full-text search over articles: SQLite FTS5, or PostgreSQL's text search.

The index itself (an FTS5 table over the articles' text on SQLite, a weighted ``tsvector``
column on PostgreSQL) is built and kept in step by migration ``0002``. What a user types is
never query syntax: it is reduced to its words, each quoted (FTS5) or given as plain text
(``plainto_tsquery``), and every word must match.

Results come best first, then newest, then by id; cursors are keyset positions over
``(score, published_at, id)``, the score kept exactly. PostgreSQL's ``ts_rank`` depends on
the article alone, so a cursor keeps its place whatever is written meanwhile; SQLite's
``bm25`` also weighs the corpus (document count, average length, how many documents hold a
word), so a write between two pages can nudge scores and move a result across a cursor.

Bounded ranking. Neither index hands matches over best first, so ranking every match costs
O(matches): a common word in a million articles means scoring a hundred thousand of them
(on PostgreSQL, detoasting each one's ``tsvector``, about 3 KB). Instead only *candidates*
are scored: the union of the newest :data:`CANDIDATES` visible matches (that pass the
filter) and the newest :data:`TITLE_CANDIDATES` whose *title* holds every word, so that an
older title match, which would rank above every body-only match, is not crowded out by a
flood of recent body-only ones. "Newest" is by id (creation order, which follows
publication closely), because that is the order both indexes can walk and stop early in:
FTS5 streams a query's rowids newest first, each looked up by primary key until enough pass
the filter; on PostgreSQL a walk of the primary key backwards checking ``@@`` row by row,
which for a common query stops after a few thousand rows, or for a rarer one the GIN bitmap
with its few matches sorted. Which of the two is measured in the statement itself, not left
to the planner's estimate (see :func:`_pg_candidates`); migration 0003 stores the titles' vectors
apart, with their own GIN index. Within the candidates the ranking is exact, with the same
scores as before, and cursors are keyset positions in that ranking.

What differs from ranking every match, and when: nothing, for a search matching at most
:data:`CANDIDATES` visible articles (the candidates are then all of them). A search matching
more lists at most ``CANDIDATES + TITLE_CANDIDATES`` results, best first among its
candidates, and ``hasNextPage`` ends there; an article outside both recency lists is not
listed however well it would score (an old article with the words only in its body, or with
all of them in its title when more than :data:`TITLE_CANDIDATES` newer titles hold them too;
on SQLite bm25's idf still weighs every match). A title matching only some of the words does
not make a title candidate. A newer match written between two pages shifts the windows: the
oldest candidate may drop out of later pages, but no result repeats.

``totalCount`` counts visible matches exactly up to :data:`COUNT_LIMIT` and stops there:
a search matching more reports :data:`COUNT_LIMIT` (read it as "that many or more"), so
counting costs no more than that many row checks.

Highlights are marked by the database, with the same tokenizer and stemmer that matched, and
cut into short, escaped fragments here, the same way for both.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    CompoundSelect,
    DateTime,
    Double,
    Integer,
    MetaData,
    Select,
    SelectBase,
    Table,
    Text,
    and_,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    select,
    true,
    tuple_,
    union,
    union_all,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

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

__all__ = [
    "CANDIDATES",
    "COUNT_LIMIT",
    "MAX_QUERY_WORDS",
    "TITLE_CANDIDATES",
    "SearchHit",
    "SearchPage",
    "SearchText",
    "search_count",
    "search_highlights",
    "search_page",
]

MAX_QUERY_WORDS = 32
MAX_HIGHLIGHTS = 3
# Matches scored exactly (see the module docstring): the newest CANDIDATES matches, and the
# newest TITLE_CANDIDATES whose title holds every word. Big enough that a results page rarely
# reaches past them (title matches rank first, and five pages of them are kept), small
# enough that finding and scoring them costs a few milliseconds: on PostgreSQL each row
# walked costs reading its vector (1 to 2 microseconds at a million articles, the vectors in
# the row), so a word in one article in ten is 500 matches within some 5,000 rows.
CANDIDATES = 500
TITLE_CANDIDATES = 100
# Where totalCount stops counting: each article counted is checked row by row.
COUNT_LIMIT = 1_000
# PostgreSQL (see _pg_candidates): how many of the newest ids are sampled to measure a query's
# share, and how many a walk for candidates reads before it leaves them to the index.
PROBE_IDS = 1_000
WALK_ROWS = 100_000
# The walk reads its ids in slices this long, one after another (see _pg_candidates).
_WALK_SLICE = 5_000
# A walk is chosen only when the sample says it needs at most half of WALK_ROWS.
_WALK_MARGIN = 2
# A walk's cost per row read relative to the bitmap's per match visited, at a million
# articles with the vectors in the row (migration 0004): 1.3 to 1.9 us against 5.8 us.
_WALK_COST = 0.3

# Words as both tokenizers see them: runs of letters and digits (unicode61's default token
# characters; PostgreSQL's parser splits on the same punctuation for plain words).
_WORD = re.compile(r"[^\W_]+")
# Tags become spaces in the indexed text ("a <em>link</em>." reads "a link ."): for display,
# none before closing punctuation or after an opening bracket.
_LOOSE_PUNCTUATION = (*((f" {mark}", mark) for mark in ".,;:!?)]"), ("( ", "("), ("[ ", "["))

# SQLite: the FTS5 table of migration 0002; its hidden column of the same name takes MATCH.
_FTS = Table(
    "article_search",
    MetaData(),
    Column("rowid", Integer, primary_key=True),
    Column("article_search", Text),
)
# Column weights for bm25(): title, excerpt, body. bm25 saturates with repetition, so the
# title's weight must be large for one title match to beat several body matches.
_BM25_WEIGHTS = (10.0, 2.5, 1.0)

# PostgreSQL: the generated column and text search configuration of migration 0002.
_DOCUMENT = literal_column("articles.search_document", TSVECTOR)
_CONFIG: ColumnElement[str] = literal_column("'masthead_search'")
# ts_rank weights for D, C, B, A (body is C, excerpt B, title A). ts_rank saturates too: for
# one word, a title match (1.0) outranks any number of excerpt and body matches (0.4, 0.2).
_RANK_WEIGHTS: ColumnElement[str] = literal_column("'{0.1, 0.2, 0.4, 1.0}'")
# The titles' own vectors, a generated column of migration 0003.
_TITLE_VECTOR = literal_column("articles.search_title", TSVECTOR)
_MATERIALIZED = "MATERIALIZED"

# Markers the database puts around matched words; they cannot survive html.escape() as tags,
# so a stray one in the stored text at worst marks a wrong word, never injects markup.
_OPEN, _CLOSE = "\x02", "\x03"
_HEADLINE_OPTIONS = f'HighlightAll=true, StartSel="{_OPEN}", StopSel="{_CLOSE}"'
_MARKERS = re.compile(f"([{_OPEN}{_CLOSE}])")
_ELLIPSIS = "\u2026"
# Characters of context kept on each side of a match in an excerpt or body fragment.
_CONTEXT = 60

# Drafts may have no publication time: they sort after everything dated.
_UNDATED = datetime(1, 1, 1)


@dataclass(frozen=True)
class SearchText:
    """What the user typed, reduced to its words: operators and quotes are just text."""

    words: tuple[str, ...]

    @classmethod
    def parse(cls, query: str) -> SearchText:
        """BAD_USER_INPUT when empty or too long; punctuation alone gives no words."""
        if not query.strip():
            raise BadUserInput("`query` must not be empty.")
        seen: dict[str, str] = {}
        for word in _WORD.findall(query):
            seen.setdefault(word.casefold(), word)
        if len(seen) > MAX_QUERY_WORDS:
            raise BadUserInput(f"`query` has more than {MAX_QUERY_WORDS} different words.")
        return cls(tuple(seen.values()))

    @property
    def fts5(self) -> str:
        # Each word a quoted FTS5 string: within quotes AND, OR, NOT, NEAR, *, ^, : are text.
        return " ".join(f'"{word}"' for word in self.words)

    @property
    def plain(self) -> str:
        return " ".join(self.words)

    @property
    def fingerprint(self) -> str:
        """Ties a cursor to its search, so another search's cursor is refused, not misread."""
        key = "\x1f".join(word.casefold() for word in self.words)
        return hashlib.blake2b(key.encode(), digest_size=6).hexdigest()


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
    # All visible matches (every page), when the page's statement could tell: None for an
    # empty page after a cursor, where :func:`search_count` must count.
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


def _is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _tsquery(text: SearchText) -> ColumnElement[Any]:
    # The words are rendered into the SQL text (quoted by the dialect), not bound: a prepared
    # statement's generic plan cannot see how common they are, and the walk-or-bitmap choice
    # (see the module docstring) hangs on exactly that.
    words = bindparam("words", text.plain, type_=Text, literal_execute=True)
    return func.plainto_tsquery(_CONFIG, words)


def _fts5_match(text: SearchText) -> ColumnElement[bool]:
    return _FTS.c.article_search.match(text.fts5)


def _title_fts5(text: SearchText) -> str:
    """The FTS5 query for titles holding every word: a column filter on the same index."""
    return f"{{title}} : ({text.fts5})"


def _newest(
    matching: ColumnElement[bool], conditions: Sequence[ColumnElement[bool]], limit: int
) -> Select[Any]:
    """SQLite: ids of the newest (highest id) ``limit`` articles that match and pass ``conditions``.

    ``matching`` is an FTS5 MATCH: the index streams its rowids newest first, each looked up
    in ``articles`` by primary key, until ``limit`` pass. PostgreSQL's counterpart is
    :func:`_pg_candidates`.
    """
    statement = (
        select(Article.id)
        .select_from(_FTS)
        .join(Article, Article.id == _FTS.c.rowid)
        .where(matching, *conditions)
    )
    return statement.order_by(_FTS.c.rowid.desc()).limit(literal_limit(limit))


# PostgreSQL: the vectors candidates are found in, by the name their columns take.
_PG_VECTORS: dict[str, ColumnElement[Any]] = {"document": _DOCUMENT, "title": _TITLE_VECTOR}


def _unindexed(conditions: Sequence[ColumnElement[bool]]) -> list[ColumnElement[bool]]:
    """PostgreSQL: ``conditions`` (as :func:`filter_conditions` gives them, the visibility
    rule first) with the rule kept off every index.

    Once a statement has run five times (a popular search), PostgreSQL may switch to a
    generic plan, which cannot see the time the rule compares with and guesses that a sixth
    of the articles are public. It then ANDed the GIN bitmap with a bitmap of the (status,
    published_at) index (at a million articles that index bitmap alone took 110 ms), and
    read the newest articles through that index and sorted them by id instead of walking
    the primary key (40 ms at 10k, where the walk takes 3). ``IS true`` leaves the rule
    unchanged in a WHERE but matches no index. The filter's own conditions stay indexable:
    a category's index narrows the bitmap usefully.
    """
    rule, *narrowing = conditions
    return [rule.is_(true()), *narrowing]


def _pg_candidates(
    text: SearchText, conditions: Sequence[ColumnElement[bool]]
) -> list[CompoundSelect[Any]]:
    """PostgreSQL: the ``recent`` and ``titled`` candidate ids, by a walk or by the index.

    The planner chooses between walking the primary key backwards (checking ``@@`` row by
    row until ``limit`` match: about ``limit / share`` rows) and reading the GIN bitmap
    (visiting every match, ``share * articles`` rows, then sorting). It estimates the share
    of a multi-word query by multiplying its words' shares, as if they were independent;
    in news they are not ("border checks", or all the words of a recurring headline), and
    the estimate can be a hundred times too low. It then reads the bitmap: at a million
    articles 60,000 heap visits, 300 ms, where the walk needed 7,000 rows (37 ms with the
    vectors out of line, some 12 ms since migration 0004). Nor does it count reading a
    vector per row walked, so for a rarer query it may walk far where the bitmap is cheap.

    So the statement measures the share itself: ``probe`` counts the articles among the
    newest :data:`PROBE_IDS` ids that match and pass the filter (a millisecond or two). The
    share is that count over the ids, so a narrow filter makes it small, as it makes a walk
    long. The candidates come from a walk where that is cheaper,
    ``share² * articles >= limit * cost`` (:data:`_WALK_COST`: the walk's cost per row read
    relative to the bitmap's per match visited), and sure to end well inside the newest
    :data:`WALK_ROWS` ids. The walk reads those ids in slices, newest first, with ``@@``
    checked above each slice, so the planner can neither reorder it nor, with a narrow
    filter, make it read the whole table. Otherwise, or if the walk finds fewer than
    ``limit`` (the sample misled), they come from the GIN bitmap, fenced so the planner
    cannot turn it back into a walk, then sorted. A one-time filter on each side skips the
    other, all in one statement.
    """
    query = _tsquery(text)
    articles = select(func.max(Article.id)).scalar_subquery()

    def newest(ids: int) -> Select[Any]:
        """The articles among the newest ``ids`` ids that pass the filter, with vectors."""
        vectors = (vector.label(name) for name, vector in _PG_VECTORS.items())
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
                for name in _PG_VECTORS
            ),
        )
        .cte("probe")
        .prefix_with(_MATERIALIZED)
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
    for name, limit in (("document", CANDIDATES), ("title", TITLE_CANDIDATES)):
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
            .prefix_with(_MATERIALIZED)
        )
        short = select(func.count()).select_from(walked).scalar_subquery() < limit
        # Every match from the GIN bitmap, then the newest: the fence (OFFSET 0) keeps the
        # planner from walking the primary key instead, which it costs too cheaply.
        matched = (
            select(Article.id)
            .where(_PG_VECTORS[name].op("@@")(query), *_unindexed(conditions), short)
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


def _matches(
    session: AsyncSession, text: SearchText, conditions: Sequence[ColumnElement[bool]]
) -> Select[Any]:
    """The candidates (see the module docstring): ``id`` and ``score`` (higher is better).

    On SQLite the candidates and their scores come from materialized CTEs: left to itself,
    the planner may walk an ``articles`` index and run the full-text query once per article,
    which is hundreds of times slower than running it once and looking the matches up by
    primary key.
    """
    recent_ids: SelectBase
    titled_ids: SelectBase
    if _is_postgresql(session):
        recent_ids, titled_ids = _pg_candidates(text, conditions)
    else:
        everywhere = _fts5_match(text)
        in_title = _FTS.c.article_search.match(_title_fts5(text))
        recent_ids = _newest(everywhere, conditions, CANDIDATES)
        titled_ids = _newest(in_title, conditions, TITLE_CANDIDATES)
    recent, titled = recent_ids.subquery("recent"), titled_ids.subquery("titled")
    candidates = (
        union(select(recent.c.id), select(titled.c.id)).cte("candidates").prefix_with(_MATERIALIZED)
    )
    if _is_postgresql(session):
        score = cast(func.ts_rank(_RANK_WEIGHTS, _DOCUMENT, _tsquery(text)), Double).label("score")
        return select(Article.id, score).where(Article.id.in_(select(candidates.c.id)))
    weights = [literal_column(repr(weight), Double) for weight in _BM25_WEIGHTS]
    # bm25() is better when lower; negated, it reads like ts_rank (negation is exact). The
    # full-text query runs once, from the oldest candidate up, and scores the candidates
    # only: "rowid + 0" keeps the IN list from becoming one FTS5 query per candidate.
    oldest = select(func.min(candidates.c.id)).scalar_subquery()
    matched = (
        select(
            _FTS.c.rowid.label("id"), (-func.bm25(_FTS.c.article_search, *weights)).label("score")
        )
        .where(
            _fts5_match(text),
            _FTS.c.rowid >= oldest,
            (_FTS.c.rowid + 0).in_(select(candidates.c.id)),
        )
        .cte("matched")
        .prefix_with(_MATERIALIZED)
    )
    return select(Article.id, matched.c.score).join(matched, matched.c.id == Article.id)


def _counted(
    session: AsyncSession, text: SearchText, conditions: Sequence[ColumnElement[bool]]
) -> Select[Any]:
    """How many visible articles match, counting no further than :data:`COUNT_LIMIT`.

    Any matches do, not the newest: without an order to keep, the planner reads the GIN
    bitmap, or for a common word scans and stops at the limit. (That scan was slow while the
    vectors were stored out of line: 18,000 rows at 5 us for a word in one article in
    twenty; migration 0004 made it 1 to 2 us a row.)
    """
    if _is_postgresql(session):
        matching = _DOCUMENT.op("@@")(_tsquery(text))
        found = (
            select(Article.id)
            .where(matching, *_unindexed(conditions))
            .limit(literal_limit(COUNT_LIMIT))
        )
    else:
        found = _newest(_fts5_match(text), conditions, COUNT_LIMIT)
    return select(func.count()).select_from(found.subquery("found"))


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
    published = func.coalesce(Article.published_at, literal(_UNDATED, DateTime))
    visible = (
        _matches(session, text, conditions)
        .add_columns(published.label("published"))
        .where(*conditions)
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
    total = _counted(session, text, conditions).scalar_subquery().label("total")
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
    """How many visible articles match (all pages), up to :data:`COUNT_LIMIT`."""
    conditions = filter_conditions(article_filter, viewer, now)
    if not text.words:
        return 0
    return await session.scalar(_counted(session, text, conditions)) or 0


async def search_highlights(
    session: AsyncSession, *, text: SearchText, article_ids: Sequence[int]
) -> dict[int, list[str]]:
    """Short fragments of each article around its matches, matched words in ``<mark>``.

    The fragments are HTML: everything but the ``<mark>`` tags is escaped.
    """
    if not text.words or not article_ids:
        return {}
    if _is_postgresql(session):
        query = _tsquery(text)
        options = literal(_HEADLINE_OPTIONS)
        fields = [
            func.ts_headline(_CONFIG, field, query, options)
            for field in (Article.title, Article.excerpt, func.masthead_html_text(Article.body))
        ]
        statement = select(Article.id, *fields).where(Article.id.in_(article_ids))
    else:
        fields = [
            func.highlight(_FTS.c.article_search, literal_column(str(column)), _OPEN, _CLOSE)
            for column in range(3)
        ]
        statement = select(_FTS.c.rowid, *fields).where(
            _fts5_match(text), _FTS.c.rowid.in_(article_ids)
        )
    return {
        article_id: _fragments(title, excerpt, body)
        for article_id, title, excerpt, body in await session.execute(statement)
    }


@dataclass(frozen=True)
class _Marked:
    """A field's text (whitespace collapsed) and the spans the database marked in it."""

    text: str
    spans: list[tuple[int, int]]

    @classmethod
    def parse(cls, marked: str | None) -> _Marked:
        pieces: list[str] = []
        spans: list[tuple[int, int]] = []
        length = 0
        opened: int | None = None
        tidy = " ".join((marked or "").split())
        for loose, tight in _LOOSE_PUNCTUATION:
            tidy = tidy.replace(loose, tight)
        for piece in _MARKERS.split(tidy):
            if piece == _OPEN:
                opened = length if opened is None else opened
            elif piece == _CLOSE:
                if opened is not None and length > opened:
                    spans.append((opened, length))
                opened = None
            else:
                pieces.append(piece)
                length += len(piece)
        return cls("".join(pieces), spans)

    def without_prefix(self, prefix: str) -> _Marked:
        """Drop the matches inside a leading ``prefix`` (an excerpt repeating the body)."""
        if not prefix or not self.text.startswith(prefix):
            return self
        return _Marked(self.text, [span for span in self.spans if span[0] >= len(prefix)])

    def fragments(self, context: int, limit: int) -> list[str]:
        windows: list[tuple[int, int]] = []
        for start, end in self.spans:
            low, high = self._widen(start, end, context)
            if windows and low <= windows[-1][1]:
                windows[-1] = (windows[-1][0], high)
            else:
                windows.append((low, high))
        return [self._render(low, high) for low, high in windows[:limit]]

    def _widen(self, start: int, end: int, context: int) -> tuple[int, int]:
        """``context`` characters each side of a match, cut back to whole words."""
        low, high = max(0, start - context), min(len(self.text), end + context)
        if low > 0:
            space = self.text.find(" ", low, start)
            low = space + 1 if space >= 0 else start
        if high < len(self.text):
            space = self.text.rfind(" ", end, high)
            high = space if space >= 0 else end
        return low, high

    def _render(self, low: int, high: int) -> str:
        parts = [_ELLIPSIS] if low > 0 else []
        position = low
        for start, end in self.spans:
            if start < low or end > high:
                continue
            parts += [html.escape(self.text[position:start]), "<mark>"]
            parts += [html.escape(self.text[start:end]), "</mark>"]
            position = end
        parts.append(html.escape(self.text[position:high]))
        if high < len(self.text):
            parts.append(_ELLIPSIS)
        return "".join(parts)


def _fragments(title: str | None, excerpt: str | None, body: str | None) -> list[str]:
    """Title first (whole), then the excerpt, then the body, at most MAX_HIGHLIGHTS in all."""
    marked_title, marked_excerpt = _Marked.parse(title), _Marked.parse(excerpt)
    marked_body = _Marked.parse(body).without_prefix(marked_excerpt.text)
    found = marked_title.fragments(len(marked_title.text), 1)
    found += marked_excerpt.fragments(_CONTEXT, MAX_HIGHLIGHTS)
    found += marked_body.fragments(_CONTEXT, MAX_HIGHLIGHTS)
    return found[:MAX_HIGHLIGHTS]
