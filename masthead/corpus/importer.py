"""Importing a content corpus (JSON Lines): streamed, written in batches, one transaction.

The format is the shared corpus format: ``author``, ``category``, ``tag`` and ``article``
records keyed ``a12``, ``c3``, ``t40``, ``p12345``. A key's number is the row's id, so an
import is idempotent by key: importing the same file twice changes nothing, and a changed
record updates its row (an article's ``version`` goes up only when something really changed).

Memory stays flat whatever the file's size: lines are read one at a time, rows are written a
batch at a time, and the keys seen so far are kept as bits. A bad line raises
:class:`CorpusError` with its line number and, since the whole import is one transaction,
leaves the database exactly as it was.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from db.models import (
    Article,
    ArticleSlug,
    ArticleStatus,
    ArticleTag,
    Author,
    Base,
    Category,
    RelatedPin,
    Tag,
)
from resolvers.articles.sanitize import sanitize_html
from resolvers.articles.text_metrics import word_count
from resolvers.slugs import is_url_safe

__all__ = ["MAX_BATCH_SIZE", "CorpusError", "ImportResult", "import_corpus"]

_TABLES = Base.metadata.tables
_AUTHORS = _TABLES[Author.__tablename__]
_CATEGORIES = _TABLES[Category.__tablename__]
_TAGS = _TABLES[Tag.__tablename__]
_ARTICLES = _TABLES[Article.__tablename__]
_ARTICLE_TAGS = _TABLES[ArticleTag.__tablename__]
_RELATED_PINS = _TABLES[RelatedPin.__tablename__]
_ARTICLE_SLUGS = _TABLES[ArticleSlug.__tablename__]

_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z")
_KEY_NUMBER = re.compile(r"[1-9][0-9]*")
# Ids are INTEGER columns on both databases.
_MAX_ID = 2**31 - 1
# Ids below this are kept as bits (8 MB at most); the rare larger ones in a set.
_DENSE_IDS = 2**26
# A category's ancestors are walked to refuse cycles; a deeper chain means one already exists.
_MAX_DEPTH = 10_000
# A batch's keys and slugs go into IN lists, and both databases cap bound parameters at 32767.
MAX_BATCH_SIZE = 10_000


class CorpusError(Exception):
    """A line of the corpus that cannot be imported; nothing of the import was written."""

    def __init__(self, line_number: int, message: str) -> None:
        super().__init__(f"line {line_number}: {message}")
        self.line_number = line_number
        self.message = message


@dataclass(frozen=True)
class ImportResult:
    """Records read per type, and how many of them inserted or changed something."""

    authors: int = 0
    categories: int = 0
    tags: int = 0
    articles: int = 0
    changed: int = 0

    @property
    def records(self) -> int:
        return self.authors + self.categories + self.tags + self.articles


@dataclass(frozen=True)
class _Kind:
    name: str
    prefix: str
    table: Table


_AUTHOR = _Kind("author", "a", _AUTHORS)
_CATEGORY = _Kind("category", "c", _CATEGORIES)
_TAG = _Kind("tag", "t", _TAGS)
_ARTICLE = _Kind("article", "p", _ARTICLES)
_KINDS = {kind.name: kind for kind in (_AUTHOR, _CATEGORY, _TAG, _ARTICLE)}

# Columns whose difference makes an existing row "changed"; the rest follow from these.
_ARTICLE_CONTENT = (
    "slug", "title", "excerpt", "body", "status", "published_at", "updated_at", "author_id",
    "category_id",
)  # fmt: skip


class _IdSet:
    """A set of positive ids kept as bits, so a million keys cost 125 KB."""

    def __init__(self) -> None:
        self._bits = bytearray()
        self._sparse: set[int] = set()

    def add(self, number: int) -> None:
        if number >= _DENSE_IDS:
            self._sparse.add(number)
            return
        index = number >> 3
        if index >= len(self._bits):
            self._bits.extend(bytes(max(index + 1 - len(self._bits), len(self._bits))))
        self._bits[index] |= 1 << (number & 7)

    def __contains__(self, number: int) -> bool:
        if number >= _DENSE_IDS:
            return number in self._sparse
        index = number >> 3
        return index < len(self._bits) and bool(self._bits[index] & (1 << (number & 7)))


@dataclass
class _Row:
    """One parsed record: the values of its row, and for articles its tags and pins."""

    line: int
    id: int
    values: dict[str, Any]
    tags: list[int] = field(default_factory=list)
    related: list[int] = field(default_factory=list)


@dataclass
class _DeferredPins:
    """Pins naming an article that is neither in the database nor earlier in the file yet."""

    line: int
    article_id: int
    related: list[int]
    unknown: list[int]
    existed: bool
    bumped: bool


def _key_text(kind: _Kind, number: int) -> str:
    return f"{kind.prefix}{number}"


def _max_length(table: Table, column: str) -> int | None:
    length: int | None = getattr(table.c[column].type, "length", None)
    return length


class _Fields:
    """Typed access to one record's fields, raising :class:`CorpusError` on a bad value."""

    def __init__(self, record: dict[str, Any], line: int, kind: _Kind) -> None:
        self.record = record
        self.line = line
        self.kind = kind

    def error(self, message: str) -> CorpusError:
        key = self.record.get("key")
        record = f"{self.kind.name} {key!r}" if isinstance(key, str) else f"{self.kind.name} record"
        return CorpusError(self.line, f"{record}: {message}")

    def get(self, name: str) -> Any:
        if name not in self.record:
            raise self.error(f"missing field {name!r}")
        return self.record[name]

    def optional_text(self, name: str) -> str | None:
        value = self.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(f"{name!r} must be a string or null")
        length = _max_length(self.kind.table, name)
        if length is not None and len(value) > length:
            raise self.error(f"{name!r} is longer than {length} characters")
        return value

    def text(self, name: str, *, required: bool = False) -> str:
        value = self.optional_text(name)
        if value is None:
            raise self.error(f"{name!r} must be a string")
        if required and not value.strip():
            raise self.error(f"{name!r} must not be empty")
        return value

    def slug(self) -> str:
        value = self.text("slug")
        if not is_url_safe(value):
            raise self.error(
                f"slug {value!r} is not lower-case letters and digits joined by single hyphens"
            )
        return value

    def key(self, value: Any, kind: _Kind, name: str) -> int:
        if isinstance(value, str) and value.startswith(kind.prefix):
            number = value[len(kind.prefix) :]
            if _KEY_NUMBER.fullmatch(number) and int(number) <= _MAX_ID:
                return int(number)
        raise self.error(
            f"{name} {value!r} should be {kind.prefix} and a number, like {kind.prefix}12"
        )

    def reference(self, name: str, kind: _Kind, known: _IdSet) -> int:
        value = self.get(name)
        number = self.key(value, kind, name)
        if number not in known:
            raise self.error(
                f"unknown {name} {value!r}: no such {kind.name} earlier in the file"
                " or in the database"
            )
        return number

    def key_list(self, name: str, kind: _Kind) -> list[int]:
        values = self.get(name)
        if not isinstance(values, list):
            raise self.error(f"{name!r} must be a list of {kind.name} keys")
        numbers = [self.key(value, kind, name) for value in values]
        if len(set(numbers)) != len(numbers):
            raise self.error(f"{name!r} names the same {kind.name} twice")
        return numbers

    def time(self, name: str, *, nullable: bool) -> datetime | None:
        value = self.get(name)
        if value is None and nullable:
            return None
        match = _TIME.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            raise self.error(f"{name!r} must be a time like 2024-05-01T09:30:00Z")
        try:
            year, month, day, hour, minute, second = (int(part) for part in match.groups())
            return datetime(year, month, day, hour, minute, second)
        except ValueError as error:
            raise self.error(f"{name!r} is not a valid time: {error}") from None


class _Importer:
    """The state of one import: keys seen, the batch being collected, pins waiting."""

    def __init__(
        self,
        connection: AsyncConnection,
        *,
        batch_size: int,
        on_progress: Callable[[int], None] | None,
    ) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name
        self.batch_size = batch_size
        self.on_progress = on_progress
        # Keys that appeared in this file, to refuse a key given twice.
        self.seen: dict[str, _IdSet] = {name: _IdSet() for name in _KINDS}
        # Keys a reference may name: rows in the database plus records seen in this file.
        # Articles are looked up in the database per batch instead: there can be millions.
        self.known: dict[str, _IdSet] = {kind.name: _IdSet() for kind in (_AUTHOR, _CATEGORY, _TAG)}
        self.parents: dict[int, int | None] = {}
        self.batch: list[_Row] = []
        self.batch_kind: _Kind | None = None
        # Article references not resolved at parse time: checked in the database at flush.
        self.unresolved: set[int] = set()
        self.deferred: list[_DeferredPins] = []
        self.counts: dict[str, int] = defaultdict(int)
        self.changed = 0
        self.written = 0

    async def load_existing(self) -> None:
        for kind in (_AUTHOR, _TAG):
            rows = await self.connection.execute(select(kind.table.c.id))
            for (row_id,) in rows:
                self.known[kind.name].add(row_id)
        rows = await self.connection.execute(select(_CATEGORIES.c.id, _CATEGORIES.c.parent_id))
        for row_id, parent_id in rows:
            self.known[_CATEGORY.name].add(row_id)
            self.parents[row_id] = parent_id

    async def add(self, line: int, source: str) -> None:
        try:
            record = json.loads(source)
        except json.JSONDecodeError as error:
            raise CorpusError(line, f"invalid JSON: {error.msg} at column {error.colno}") from None
        if not isinstance(record, dict):
            raise CorpusError(line, "a record must be a JSON object")
        type_name = record.get("type")
        kind = _KINDS.get(type_name) if isinstance(type_name, str) else None
        if kind is None:
            raise CorpusError(
                line, f"unknown record type {type_name!r} (expected {', '.join(_KINDS)})"
            )
        # The batch so far is written first: its lines come earlier, so their errors do too.
        if self.batch_kind is not kind or len(self.batch) >= self.batch_size:
            await self.flush()
            self.batch_kind = kind
        fields = _Fields(record, line, kind)
        number = fields.key(fields.get("key"), kind, "key")
        if number in self.seen[kind.name]:
            raise fields.error("the key appears twice in the file")
        row = self._parse(kind, fields, number)
        self.seen[kind.name].add(number)
        if kind is not _ARTICLE:
            self.known[kind.name].add(number)
        self.batch.append(row)
        self.counts[kind.name] += 1

    def _parse(self, kind: _Kind, fields: _Fields, number: int) -> _Row:
        line = fields.line
        if kind is _AUTHOR:
            values: dict[str, Any] = {
                "id": number,
                "slug": fields.slug(),
                "name": fields.text("name", required=True),
                "bio": fields.optional_text("bio"),
                "avatar_url": fields.optional_text("avatar_url"),
            }
            return _Row(line, number, values)
        if kind is _CATEGORY:
            values = {
                "id": number,
                "slug": fields.slug(),
                "name": fields.text("name", required=True),
                "description": fields.optional_text("description"),
                "parent_id": self._parent(fields, number),
            }
            self.parents[number] = values["parent_id"]
            return _Row(line, number, values)
        if kind is _TAG:
            values = {
                "id": number,
                "slug": fields.slug(),
                "name": fields.text("name", required=True),
            }
            return _Row(line, number, values)
        return self._parse_article(fields, number)

    def _parent(self, fields: _Fields, number: int) -> int | None:
        if fields.get("parent") is None:
            return None
        parent = fields.reference("parent", _CATEGORY, self.known[_CATEGORY.name])
        ancestor: int | None = parent
        for _ in range(_MAX_DEPTH):
            if ancestor is None:
                return parent
            if ancestor == number:
                break
            ancestor = self.parents.get(ancestor)
        raise fields.error(f"parent {fields.record['parent']!r} would make a cycle of categories")

    def _parse_article(self, fields: _Fields, number: int) -> _Row:
        # Sanitized like every other write (SPEC "Writing"); clean bodies come through unchanged.
        body = sanitize_html(fields.text("body"))
        status = fields.text("status").lower()
        if status not in (ArticleStatus.DRAFT.value, ArticleStatus.PUBLISHED.value):
            raise fields.error(f"status {fields.record['status']!r} is not published or draft")
        published_at = fields.time("published_at", nullable=True)
        updated_at = fields.time("updated_at", nullable=False)
        values = {
            "id": number,
            "slug": fields.slug(),
            "title": fields.text("title", required=True),
            "excerpt": fields.text("excerpt"),
            "body": body,
            "status": status,
            "published_at": published_at,
            "updated_at": updated_at,
            "created_at": published_at or updated_at,
            "version": 1,
            "word_count": word_count(body),
            "author_id": fields.reference("author", _AUTHOR, self.known[_AUTHOR.name]),
            "category_id": fields.reference("category", _CATEGORY, self.known[_CATEGORY.name]),
        }
        tags = fields.key_list("tags", _TAG)
        known_tags = self.known[_TAG.name]
        for tag in tags:
            if tag not in known_tags:
                raise fields.error(
                    f"unknown tag {_key_text(_TAG, tag)!r}: no such tag earlier in the file"
                    " or in the database"
                )
        related = fields.key_list("related", _ARTICLE)
        if number in related:
            raise fields.error("an article cannot pin itself as related")
        seen = self.seen[_ARTICLE.name]
        self.unresolved.update(pin for pin in related if pin not in seen)
        return _Row(fields.line, number, values, tags, related)

    async def flush(self) -> None:
        rows, kind = self.batch, self.batch_kind
        self.batch = []
        if not rows or kind is None:
            return
        await self._check_slugs(kind, rows)
        if kind is _ARTICLE:
            changed = await self._write_articles(rows)
        else:
            changed = len(await self._upsert(kind.table, [row.values for row in rows]))
        self.changed += changed
        self.written += len(rows)
        if self.on_progress is not None:
            self.on_progress(self.written)

    async def _check_slugs(self, kind: _Kind, rows: Sequence[_Row]) -> None:
        """Refuse a slug held by another row, naming the line (the unique index would not)."""
        claimed: dict[str, int] = {}
        for row in rows:
            slug = row.values["slug"]
            holder = claimed.setdefault(slug, row.id)
            if holder != row.id:
                raise self._slug_taken(kind, row, holder)
        table = kind.table
        holders = await self.connection.execute(
            select(table.c.slug, table.c.id).where(table.c.slug.in_(list(claimed)))
        )
        for slug, holder in holders:
            if holder != claimed[slug]:
                row = next(row for row in rows if row.values["slug"] == slug)
                raise self._slug_taken(kind, row, holder)

    @staticmethod
    def _slug_taken(kind: _Kind, row: _Row, holder: int) -> CorpusError:
        return CorpusError(
            row.line,
            f"{kind.name} {_key_text(kind, row.id)!r}: slug {row.values['slug']!r} is already"
            f" used by {kind.name} {_key_text(kind, holder)!r}",
        )

    def _insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    async def _upsert(
        self,
        table: Table,
        rows: list[dict[str, Any]],
        *,
        compare: Sequence[str] | None = None,
        keep: Sequence[str] = (),
    ) -> set[int]:
        """Insert or update rows by id, touching only rows that differ; the ids written."""
        statement = self._insert(table)
        columns = [name for name in rows[0] if name != "id" and name not in keep]
        compared = compare if compare is not None else columns
        assignments: dict[str, Any] = {name: statement.excluded[name] for name in columns}
        if "version" in keep:
            assignments["version"] = table.c.version + 1
        differs: list[ColumnElement[bool]] = [
            table.c[name].is_distinct_from(statement.excluded[name]) for name in compared
        ]
        upsert = statement.on_conflict_do_update(
            index_elements=[table.c.id], set_=assignments, where=or_(*differs)
        ).returning(table.c.id)
        result = await self.connection.execute(upsert, rows)
        return {row_id for (row_id,) in result}

    async def _write_articles(self, rows: list[_Row]) -> int:
        content = [_ARTICLES.c[name] for name in _ARTICLE_CONTENT]
        before: dict[int, dict[str, Any]] = {
            row.id: dict(row._mapping)
            for row in await self.connection.execute(
                select(_ARTICLES.c.id, *content).where(_ARTICLES.c.id.in_([r.id for r in rows]))
            )
        }
        missing = await self._missing_articles()
        # Unchanged rows are not even offered to the upsert: PostgreSQL would compute the
        # row's generated search vector before finding the conflict.
        differing = [
            row.values
            for row in rows
            if row.id not in before
            or any(row.values[name] != before[row.id][name] for name in _ARTICLE_CONTENT)
        ]
        written: set[int] = set()
        if differing:
            written = await self._upsert(
                _ARTICLES, differing, compare=_ARTICLE_CONTENT, keep=("created_at", "version")
            )
        await self._keep_old_slugs(rows, before)

        tags = {row.id: row.tags for row in rows}
        pins: dict[int, list[int]] = {}
        for row in rows:
            if missing.isdisjoint(row.related):
                pins[row.id] = row.related
            else:
                self.deferred.append(
                    _DeferredPins(
                        line=row.line,
                        article_id=row.id,
                        related=row.related,
                        unknown=[related for related in row.related if related in missing],
                        existed=row.id in before,
                        bumped=row.id in written,
                    )
                )
        existing = set(before)
        relinked = await self._replace_tags(tags, existing) | await self._replace_pins(
            pins, existing
        )
        bumped = relinked - written
        await self._bump_versions(bumped)
        return len(written | relinked)

    async def _missing_articles(self) -> set[int]:
        """Articles named as related that are neither earlier in the file nor in the database."""
        wanted, self.unresolved = self.unresolved, set()
        if not wanted:
            return set()
        found = await self.connection.execute(
            select(_ARTICLES.c.id).where(_ARTICLES.c.id.in_(list(wanted)))
        )
        return wanted - {row_id for (row_id,) in found}

    async def _keep_old_slugs(
        self, rows: Sequence[_Row], before: dict[int, dict[str, Any]]
    ) -> None:
        """A published article's old slug keeps resolving after the import renames it."""
        moved = [
            {"slug": before[row.id]["slug"], "article_id": row.id}
            for row in rows
            if row.id in before
            and before[row.id]["status"] == ArticleStatus.PUBLISHED.value
            and before[row.id]["slug"] != row.values["slug"]
        ]
        if not moved:
            return
        statement = self._insert(_ARTICLE_SLUGS)
        await self.connection.execute(
            statement.on_conflict_do_update(
                index_elements=[_ARTICLE_SLUGS.c.slug],
                set_={"article_id": statement.excluded.article_id},
            ),
            moved,
        )

    async def _replace_tags(self, tags: dict[int, list[int]], existing: set[int]) -> set[int]:
        """Make each article's tags exactly ``tags``; the articles whose tags changed."""
        current: dict[int, set[int]] = defaultdict(set)
        ids = [article_id for article_id in tags if article_id in existing]
        if ids:
            links = await self.connection.execute(
                select(_ARTICLE_TAGS.c.article_id, _ARTICLE_TAGS.c.tag_id).where(
                    _ARTICLE_TAGS.c.article_id.in_(ids)
                )
            )
            for article_id, tag_id in links:
                current[article_id].add(tag_id)
        added: list[dict[str, int]] = []
        removed: list[dict[str, int]] = []
        changed: set[int] = set()
        for article_id, wanted in tags.items():
            have = current.get(article_id, set())
            if have == set(wanted):
                continue
            added += ({"article_id": article_id, "tag_id": t} for t in wanted if t not in have)
            removed += ({"a": article_id, "t": t} for t in have.difference(wanted))
            if article_id in existing:
                changed.add(article_id)
        if removed:
            await self.connection.execute(
                delete(_ARTICLE_TAGS).where(
                    _ARTICLE_TAGS.c.article_id == bindparam("a"),
                    _ARTICLE_TAGS.c.tag_id == bindparam("t"),
                ),
                removed,
            )
        if added:
            await self.connection.execute(_ARTICLE_TAGS.insert(), added)
        return changed

    async def _replace_pins(self, pins: dict[int, list[int]], existing: set[int]) -> set[int]:
        """Make each article's pinned related articles ``pins``; the articles that changed."""
        current: dict[int, list[int]] = defaultdict(list)
        ids = [article_id for article_id in pins if article_id in existing]
        if ids:
            links = await self.connection.execute(
                select(_RELATED_PINS.c.article_id, _RELATED_PINS.c.related_id)
                .where(_RELATED_PINS.c.article_id.in_(ids))
                .order_by(_RELATED_PINS.c.article_id, _RELATED_PINS.c.position)
            )
            for article_id, related_id in links:
                current[article_id].append(related_id)
        changed = [
            article_id
            for article_id, wanted in pins.items()
            if current.get(article_id, []) != wanted
        ]
        stale = [article_id for article_id in changed if article_id in current]
        if stale:
            await self.connection.execute(
                delete(_RELATED_PINS).where(_RELATED_PINS.c.article_id.in_(stale))
            )
        added = [
            {"article_id": article_id, "position": position, "related_id": related_id}
            for article_id in changed
            for position, related_id in enumerate(pins[article_id])
        ]
        if added:
            await self.connection.execute(_RELATED_PINS.insert(), added)
        return {article_id for article_id in changed if article_id in existing}

    async def _bump_versions(self, ids: set[int]) -> None:
        if ids:
            await self.connection.execute(
                update(_ARTICLES)
                .where(_ARTICLES.c.id.in_(sorted(ids)))
                .values(version=_ARTICLES.c.version + 1)
            )

    async def finish(self) -> None:
        await self.flush()
        await self._write_deferred_pins()
        if self.dialect == "postgresql":
            await self._advance_sequences()

    async def _write_deferred_pins(self) -> None:
        seen = self.seen[_ARTICLE.name]
        for pending in self.deferred:
            for related in pending.unknown:
                if related not in seen:
                    key = _key_text(_ARTICLE, pending.article_id)
                    raise CorpusError(
                        pending.line,
                        f"article {key!r}: unknown related {_key_text(_ARTICLE, related)!r}:"
                        " no such article in the file or in the database",
                    )
        for start in range(0, len(self.deferred), self.batch_size):
            batch = self.deferred[start : start + self.batch_size]
            changed = await self._replace_pins(
                {pending.article_id: pending.related for pending in batch},
                {pending.article_id for pending in batch if pending.existed},
            )
            bumped = changed - {pending.article_id for pending in batch if pending.bumped}
            await self._bump_versions(bumped)
            self.changed += len(bumped)

    async def _advance_sequences(self) -> None:
        """Move each id sequence past the imported ids, so inserts without an id don't collide."""
        for table in (_AUTHORS, _CATEGORIES, _TAGS, _ARTICLES):
            await self.connection.execute(
                text(
                    "SELECT setval(seq, top) FROM ("
                    f" SELECT pg_get_serial_sequence('{table.name}', 'id')::regclass AS seq,"
                    f" max(id) AS top FROM {table.name}"
                    ") AS s WHERE top > coalesce(pg_sequence_last_value(seq), 0)"
                )
            )

    def result(self) -> ImportResult:
        return ImportResult(
            authors=self.counts[_AUTHOR.name],
            categories=self.counts[_CATEGORY.name],
            tags=self.counts[_TAG.name],
            articles=self.counts[_ARTICLE.name],
            changed=self.changed,
        )


async def import_corpus(
    sessionmaker: async_sessionmaker[AsyncSession],
    lines: Iterable[str],
    *,
    batch_size: int = 1000,
    on_progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import corpus ``lines`` in one transaction; ``on_progress`` gets the records written.

    Blank lines are skipped. Raises :class:`CorpusError` (the database unchanged) on the first
    line that is not a valid record or names an unknown key or a slug another row holds.
    """
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_SIZE}")
    async with sessionmaker.begin() as session:
        connection = await session.connection()
        importer = _Importer(connection, batch_size=batch_size, on_progress=on_progress)
        await importer.load_existing()
        for number, line in enumerate(lines, start=1):
            if line.strip():
                await importer.add(number, line)
        await importer.finish()
    result = importer.result()
    if result.changed:
        # Fresh statistics: without them SQLite's planner skips the covering index for
        # search and related posts (twice as slow on a newly imported database).
        async with sessionmaker.begin() as session:
            await session.execute(text("ANALYZE"))
    return result
