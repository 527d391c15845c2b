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
Ranking reads every match (neither index can hand matches over best first), so a query's
cost grows with how many articles it matches.

Highlights are marked by the database, with the same tokenizer and stemmer that matched, and
cut into short, escaped fragments here, the same way for both.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    DateTime,
    Double,
    Integer,
    MetaData,
    Select,
    Table,
    Text,
    cast,
    func,
    literal,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from db.models import Article
from resolvers.articles import ArticleFilter, filter_conditions
from resolvers.errors import BadUserInput
from resolvers.global_ids import MAX_PK
from resolvers.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, literal_limit
from resolvers.viewer import Viewer

__all__ = [
    "MAX_QUERY_WORDS",
    "SearchHit",
    "SearchPage",
    "SearchText",
    "search_count",
    "search_highlights",
    "search_page",
]

MAX_QUERY_WORDS = 32
MAX_HIGHLIGHTS = 3

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
        raw = json.dumps(payload, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str, text: SearchText) -> _Position:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            payload = json.loads(raw)
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise BadUserInput(f"Malformed cursor {cursor!r}.") from None
        if not (isinstance(payload, list) and len(payload) == 5 and payload[0] == "SEARCH"):
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
    return func.plainto_tsquery(_CONFIG, text.plain)


def _fts5_match(text: SearchText) -> ColumnElement[bool]:
    return _FTS.c.article_search.match(text.fts5)


def _matches(session: AsyncSession, text: SearchText) -> Select[Any]:
    """Matching articles: ``id`` and ``score`` (higher is better), before any filter.

    On SQLite the matches come from a materialized CTE: left to itself, the planner may walk
    an ``articles`` index and run the full-text query once per article, which is hundreds of
    times slower than running it once and looking the matches up by primary key.
    """
    if _is_postgresql(session):
        score = cast(func.ts_rank(_RANK_WEIGHTS, _DOCUMENT, _tsquery(text)), Double).label("score")
        return select(Article.id, score).where(_DOCUMENT.op("@@")(_tsquery(text)))
    weights = [literal_column(repr(weight), Double) for weight in _BM25_WEIGHTS]
    # bm25() is better when lower; negated, it reads like ts_rank (negation is exact).
    matched = (
        select(
            _FTS.c.rowid.label("id"), (-func.bm25(_FTS.c.article_search, *weights)).label("score")
        )
        .where(_fts5_match(text))
        .cte("matched")
        .prefix_with("MATERIALIZED")
    )
    return select(Article.id, matched.c.score).join(matched, matched.c.id == Article.id)


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
    # Every visible match, counted on the way: ranking reads them all anyway, so the total
    # costs next to nothing here, and a second pass over the matches is saved.
    visible = (
        _matches(session, text)
        .add_columns(published.label("published"), func.count().over().label("total"))
        .where(*conditions)
        .subquery("visible")
    )
    key = (visible.c.score, visible.c.published, visible.c.id)
    # Ranked and cut on narrow rows; only the page's rows are then read whole.
    ranked = (
        select(*key, visible.c.total)
        .order_by(*(column.desc() for column in key))
        .limit(literal_limit(size + 1))
    )
    if start is not None:
        position = (start.score, start.published_at, start.article_id)
        ranked = ranked.where(tuple_(*key) < tuple_(*position))
    page = ranked.subquery("ranked")
    article = aliased(Article)
    rows = (
        await session.execute(
            select(article, page.c.score, page.c.total)
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
    """How many visible articles match (all pages)."""
    conditions = filter_conditions(article_filter, viewer, now)
    if not text.words:
        return 0
    if _is_postgresql(session):
        matching = _DOCUMENT.op("@@")(_tsquery(text))
    else:
        # The matches as a list the planner probes: the full-text query runs once.
        matching = Article.id.in_(select(_FTS.c.rowid).where(_fts5_match(text)))
    statement = select(func.count()).select_from(Article).where(matching, *conditions)
    return await session.scalar(statement) or 0


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
