"""Importing a corpus (``masthead.corpus.format``): streamed, written in batches, one transaction.

A key's number is the row's id, so an import is idempotent by key: importing the same file
twice changes nothing, and a changed record updates its row (an article's ``version`` goes
up only when something really changed). What an export adds to an article is restored:
its ``previous_slugs`` keep resolving to it (an import adds former slugs, oldest first
after those the article holds, and never drops one, so no link in the wild breaks), its
``created_at`` replaces the stored one, and its ``version`` is the least the article ends
with: it never goes back, or an editor holding an older version could overwrite newer text.
Imported into an empty database, an export thus recreates every article exactly.

Memory stays flat whatever the file's size: lines are read one at a time
(``masthead.corpus.records``) and rows written a batch at a time, the next batch read while
one is written. A bad line raises :class:`CorpusError` with its line number and, since the
whole import is one transaction, leaves the database exactly as it was; so does an import
interrupted in any way (an exception, Ctrl-C, a killed process, a lost connection).

Articles the database does not hold yet (the whole file, into a new site) skip the upsert:
they and their tags, pins and former slugs go in through the database's bulk writer
(``db.dialects.BulkWriter``: COPY on PostgreSQL, one statement per batch on SQLite). Into a
database without articles, what those tables keep up row by row and a bulk build makes
faster (secondary indexes; PostgreSQL's foreign keys) is dropped at the start and built at
the end, inside the same transaction. The rows, search results and export are those of an
upsert one record at a time.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from db.dialects import database_of
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
from db.name_keys import name_key
from masthead.corpus.format import ARTICLE, AUTHOR, CATEGORY, TAG, RecordKind
from masthead.corpus.records import TABLE_OF, CorpusError, RecordReader, Row, decode
from resolvers.articles import related_lists
from resolvers.articles.former_slugs import Rename, add_former_slugs, keep_former_slugs

__all__ = ["MAX_BATCH_SIZE", "CorpusError", "ImportResult", "import_corpus"]

_TABLES = Base.metadata.tables
_AUTHORS = _TABLES[Author.__tablename__]
_CATEGORIES = _TABLES[Category.__tablename__]
_TAGS = _TABLES[Tag.__tablename__]
_ARTICLES = _TABLES[Article.__tablename__]
_ARTICLE_TAGS = _TABLES[ArticleTag.__tablename__]
_RELATED_PINS = _TABLES[RelatedPin.__tablename__]
_ARTICLE_SLUGS = _TABLES[ArticleSlug.__tablename__]

# A batch's keys and slugs go into IN lists, and both databases cap bound parameters at 32767.
MAX_BATCH_SIZE = 10_000
# The tables whose upkeep an import into no articles leaves to the end (db.dialects).
_BULK_TABLES = (_ARTICLES, _ARTICLE_TAGS, _RELATED_PINS, _ARTICLE_SLUGS)
# How often reading gives the event loop a turn, for the batch being written meanwhile.
_LINES_BETWEEN_TURNS = 16


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


# Columns whose difference makes an existing row "changed"; the rest follow from these.
_ARTICLE_CONTENT = (
    "slug", "title", "excerpt", "body", "status", "published_at", "unpublish_at", "updated_at",
    "author_id", "category_id",
)  # fmt: skip
# ... and with the creation time, for a record that gives one.
_ARTICLE_CONTENT_CREATED = (*_ARTICLE_CONTENT, "created_at")


@dataclass
class _DeferredPins:
    """Pins naming an article that is neither in the database nor earlier in the file yet.

    ``counted`` says whether the article changed in its own batch already, ``version`` what
    its version was then, ``floor`` the version the file gives (applied once pins are set).
    """

    line: int
    article_id: int
    related: list[int]
    unknown: list[int]
    existed: bool
    counted: bool
    version: int
    floor: int | None


def _waiting_pins(
    row: Row, missing: set[int], *, existed: bool, counted: bool, version: int
) -> _DeferredPins:
    """The pins of ``row``, which names an article not read yet, to be written at the end."""
    return _DeferredPins(
        line=row.line,
        article_id=row.id,
        related=row.related,
        unknown=[related for related in row.related if related in missing],
        existed=existed,
        counted=counted,
        version=version,
        floor=row.version,
    )


@dataclass
class _Batch:
    """Rows of one kind to write together, and the article references they left unresolved."""

    kind: RecordKind
    rows: list[Row] = field(default_factory=list)
    unresolved: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class _SlugConflict:
    """A slug a row claims (as its own or, ``former``, as a previous one) held by another."""

    row: Row
    slug: str
    former: bool
    holder: int
    held_former: bool

    def error(self, kind: RecordKind) -> CorpusError:
        claimed = "previous slug" if self.former else "slug"
        held = " as a former slug, which still resolves to it" if self.held_former else ""
        return CorpusError(
            self.row.line,
            f"{kind.name} {kind.key(self.row.id)!r}: {claimed} {self.slug!r} is already"
            f" used by {kind.name} {kind.key(self.holder)!r}{held}",
        )


def _slugs_of(row: Row) -> list[tuple[str, bool]]:
    """Each slug ``row`` claims, and whether as a former one."""
    return [(row.values["slug"], False), *((slug, True) for slug in row.previous_slugs)]


def _compared(row: Row) -> Sequence[str]:
    """The columns whose difference makes this existing article changed."""
    return _ARTICLE_CONTENT_CREATED if row.created_at_given else _ARTICLE_CONTENT


def _differs(row: Row, stored: dict[str, Any]) -> bool:
    """Whether ``row`` changes the ``stored`` article, its times compared to the second.

    The format keeps times to the second and the API stores microseconds: without this, an
    export read back into the database it came from would change every article written since.
    """
    for name in _compared(row):
        value = stored[name]
        if isinstance(value, datetime):
            value = value.replace(microsecond=0)
        if row.values[name] != value:
            return True
    return False


class _Importer:
    """The state of one import: keys seen, the batch being written, pins waiting."""

    def __init__(
        self,
        connection: AsyncConnection,
        *,
        batch_size: int,
        on_progress: Callable[[int], None] | None,
    ) -> None:
        self.connection = connection
        self.database = database_of(connection)
        self.batch_size = batch_size
        self.on_progress = on_progress
        self.reader = RecordReader()
        self.deferred: list[_DeferredPins] = []
        # Articles up to this id may be in the database; any above it is new to it.
        self.last_stored = 0
        # New articles go in through it, many to a statement.
        self.writer = self.database.bulk_writer(connection)
        self.changed = 0
        self.written = 0
        self.articles_written = 0

    async def start(self) -> None:
        await self.reader.load_existing(self.connection)
        last = await self.connection.scalar(select(func.max(_ARTICLES.c.id)))
        self.last_stored = last or 0
        if last is None:
            # Nothing to keep up yet: indexes built once from sorted rows at the end cost
            # a fraction of inserting every row into each of them.
            await self.writer.defer(_BULK_TABLES)

    async def run(self, lines: Iterable[str]) -> None:
        """Read and write ``lines``: a batch is written while the next one is read.

        Reading is Python's work and writing the database's (its own process, or SQLite's
        thread outside the GIL), so the two overlap. Batches are written in file order,
        each after the one before, so an error is still the first a line-by-line import
        would meet: a bad line waits for the batches before it to be written.
        """
        writing: asyncio.Task[None] | None = None
        try:
            async for batch in self._batches(lines):
                if writing is not None:
                    # Shielded: an import interrupted here lets the batch end between two
                    # statements, where rolling back finds the connection usable.
                    await asyncio.shield(writing)
                writing = asyncio.create_task(self._write(batch))
        except BaseException:
            # The batch being written ends first: its lines come earlier, so its error does.
            if writing is not None:
                await writing
            raise
        if writing is not None:
            await writing

    async def _batches(self, lines: Iterable[str]) -> AsyncIterator[_Batch]:
        batch: _Batch | None = None
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            kind, record = decode(number, line)
            # The batch so far is handed over first: its lines come earlier, so their
            # errors do too.
            if batch is not None and (batch.kind is not kind or len(batch.rows) >= self.batch_size):
                batch.unresolved = self.reader.take_unresolved()
                yield batch
                batch = None
            if batch is None:
                batch = _Batch(kind)
            batch.rows.append(self.reader.read(kind, record, number))
            if number % _LINES_BETWEEN_TURNS == 0:
                # The writer's statements go on only when the event loop gets a turn.
                await asyncio.sleep(0)
        if batch is not None:
            batch.unresolved = self.reader.take_unresolved()
            yield batch

    async def _write(self, batch: _Batch) -> None:
        rows, kind = batch.rows, batch.kind
        await self._check_slugs(kind, rows)
        if kind is ARTICLE:
            changed = await self._write_articles(batch)
        else:
            # Core, not the ORM, writes these rows: their names are keyed here (db.name_keys).
            keyed = [row.values | {"name_key": name_key(row.values["name"])} for row in rows]
            changed = len(await self._upsert(TABLE_OF[kind], keyed))
        self.changed += changed
        self.written += len(rows)
        if kind is ARTICLE:
            self.articles_written += len(rows)
            if self.on_progress is not None:
                self.on_progress(self.articles_written)

    async def _check_slugs(self, kind: RecordKind, rows: Sequence[Row]) -> None:
        """Refuse a slug another row holds, naming the first line that claims one.

        The unique indexes would refuse most of these, but without a line. An article's
        current and former slugs all resolve to it, so each belongs to one article only.
        Earlier batches are written already: checking the database covers them.
        """
        claims: dict[str, tuple[Row, bool]] = {}
        conflicts: list[_SlugConflict] = []
        for row in rows:
            for slug, former in _slugs_of(row):
                holder, held_former = claims.setdefault(slug, (row, former))
                if holder.id != row.id:
                    conflicts.append(_SlugConflict(row, slug, former, holder.id, held_former))
        table = TABLE_OF[kind]
        sources = [(table.c.slug, table.c.id, False)]
        if kind is ARTICLE:
            sources.append((_ARTICLE_SLUGS.c.slug, _ARTICLE_SLUGS.c.article_id, True))
        slugs = list(claims)
        for slug_column, holder_column, held_former in sources:
            # Previous slugs can make more slugs than rows: IN lists stay under the cap.
            for start in range(0, len(slugs), MAX_BATCH_SIZE):
                chunk = slugs[start : start + MAX_BATCH_SIZE]
                found = await self.connection.execute(
                    select(slug_column, holder_column).where(slug_column.in_(chunk))
                )
                for slug, holder in found:
                    row, former = claims[slug]
                    if holder != row.id:
                        conflicts.append(_SlugConflict(row, slug, former, holder, held_former))
        if conflicts:
            raise min(conflicts, key=lambda conflict: conflict.row.line).error(kind)

    async def _upsert(
        self,
        table: Table,
        rows: list[dict[str, Any]],
        *,
        compare: Sequence[str] | None = None,
        keep: Sequence[str] = (),
    ) -> set[int]:
        """Insert or update rows by id, touching only rows that differ; the ids written."""
        statement = self.database.insert(table)
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

    async def _write_articles(self, batch: _Batch) -> int:
        rows = batch.rows
        stored = [row.id for row in rows if row.id <= self.last_stored]
        before: dict[int, dict[str, Any]] = {}
        if stored:
            columns = [_ARTICLES.c[name] for name in (*_ARTICLE_CONTENT, "created_at", "version")]
            found = await self.connection.execute(
                select(_ARTICLES.c.id, *columns).where(_ARTICLES.c.id.in_(stored))
            )
            before = {row.id: dict(row._mapping) for row in found}
        missing = await self._missing_articles(batch.unresolved)
        waiting = {row.id for row in rows if not missing.isdisjoint(row.related)}
        new = [row for row in rows if row.id not in before]
        # The new rows first: an article already there may come to pin one of them.
        await self._insert_articles(new, waiting)
        changed = len(new)
        if before:
            changed += await self._update_articles(
                [row for row in rows if row.id in before], before, missing, waiting
            )
        self.deferred += (
            _waiting_pins(row, missing, existed=False, counted=True, version=row.values["version"])
            for row in new
            if row.id in waiting
        )
        return changed

    async def _insert_articles(self, rows: list[Row], waiting: set[int]) -> None:
        """Write articles the database does not hold, with their tags, pins (unless they
        wait for a later article) and former slugs, as they would be upserted one by one:
        the version the file gives or 1, pins from position 0, former slugs from 1."""
        if not rows:
            return
        insert = self.writer.insert
        columns = list(rows[0].values)
        await insert(
            _ARTICLES,
            columns,
            [tuple(row.values[name] for name in columns) for row in rows],
        )
        await insert(
            _ARTICLE_TAGS,
            ("article_id", "tag_id"),
            [(row.id, tag) for row in rows for tag in row.tags],
        )
        await insert(
            _RELATED_PINS,
            ("article_id", "position", "related_id"),
            [
                (row.id, position, related)
                for row in rows
                if row.id not in waiting
                for position, related in enumerate(row.related)
            ],
        )
        await insert(
            _ARTICLE_SLUGS,
            ("slug", "article_id", "position"),
            [
                (slug, row.id, position)
                for row in rows
                for position, slug in enumerate(row.previous_slugs, start=1)
            ],
        )

    async def _update_articles(
        self,
        rows: list[Row],
        before: dict[int, dict[str, Any]],
        missing: set[int],
        waiting: set[int],
    ) -> int:
        """Bring articles the database holds (``before``) to ``rows``; how many changed."""
        # Unchanged rows are not even offered to the upsert: PostgreSQL would compute the
        # row's generated search vector before finding the conflict.
        differing = [row for row in rows if _differs(row, before[row.id])]
        written: set[int] = set()
        # A creation time the file gives replaces the stored one; without one it stays.
        for restoring in (False, True):
            group = [row.values for row in differing if row.created_at_given is restoring]
            if group:
                written |= await self._upsert(
                    _ARTICLES,
                    group,
                    compare=_ARTICLE_CONTENT_CREATED if restoring else _ARTICLE_CONTENT,
                    keep=("version",) if restoring else ("created_at", "version"),
                )
        await keep_former_slugs(
            self.connection,
            [
                Rename(
                    row.id,
                    before[row.id]["slug"],
                    row.values["slug"],
                    before[row.id]["status"] == ArticleStatus.PUBLISHED.value,
                )
                for row in rows
            ],
        )
        existing = set(before)
        # After the renames: the slug an article leaves here then comes before the slugs
        # the line lists that it lacks, as in an export made after further renames.
        # ``_check_slugs`` refused any slug another article holds.
        gained = await add_former_slugs(
            self.connection, {row.id: row.previous_slugs for row in rows}
        )
        tags = {row.id: row.tags for row in rows}
        pins = {row.id: row.related for row in rows if row.id not in waiting}
        relinked = await self._replace_tags(tags, existing) | await self._replace_pins(
            pins, existing
        )
        await self._bump_versions((relinked | gained) - written)
        changed = written | relinked | gained

        def version_now(row: Row) -> int:
            stored: int = before[row.id]["version"]
            return stored + (row.id in changed)

        floors = {
            row.id: row.version
            for row in rows
            if row.id not in waiting and row.version is not None and row.version > version_now(row)
        }
        await self._raise_versions(floors)
        self.deferred += (
            _waiting_pins(
                row, missing, existed=True, counted=row.id in changed, version=version_now(row)
            )
            for row in rows
            if row.id in waiting
        )
        return len(changed | set(floors))

    async def _missing_articles(self, wanted: set[int]) -> set[int]:
        """Of ``wanted`` (named as related, not earlier in the file), those the database
        does not hold either."""
        stored = [article_id for article_id in wanted if article_id <= self.last_stored]
        if not stored:
            return wanted
        found = await self.connection.execute(
            select(_ARTICLES.c.id).where(_ARTICLES.c.id.in_(stored))
        )
        return wanted - {row_id for (row_id,) in found}

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

    async def _raise_versions(self, floors: dict[int, int]) -> None:
        """Lift articles to the greater versions the file gives them."""
        if floors:
            await self.connection.execute(
                update(_ARTICLES)
                .where(_ARTICLES.c.id == bindparam("article"))
                .values(version=bindparam("floor")),
                [{"article": article_id, "floor": floor} for article_id, floor in floors.items()],
            )

    async def finish(self) -> None:
        await self._write_deferred_pins()
        await self.writer.finish()
        await self.database.advance_sequences(
            self.connection, (_AUTHORS, _CATEGORIES, _TAGS, _ARTICLES)
        )

    async def _write_deferred_pins(self) -> None:
        seen = self.reader.seen[ARTICLE.name]
        for pending in self.deferred:
            for related in pending.unknown:
                if related not in seen:
                    key = ARTICLE.key(pending.article_id)
                    raise CorpusError(
                        pending.line,
                        f"article {key!r}: unknown related {ARTICLE.key(related)!r}:"
                        " no such article in the file or in the database",
                    )
        for start in range(0, len(self.deferred), self.batch_size):
            batch = self.deferred[start : start + self.batch_size]
            changed = await self._replace_pins(
                {pending.article_id: pending.related for pending in batch},
                {pending.article_id for pending in batch if pending.existed},
            )
            counted = {pending.article_id for pending in batch if pending.counted}
            bumped = changed - counted
            await self._bump_versions(bumped)
            floors = {
                pending.article_id: pending.floor
                for pending in batch
                if pending.floor is not None
                and pending.floor > pending.version + (pending.article_id in bumped)
            }
            await self._raise_versions(floors)
            self.changed += len((bumped | set(floors)) - counted)

    def result(self) -> ImportResult:
        return ImportResult(
            authors=self.reader.counts[AUTHOR.name],
            categories=self.reader.counts[CATEGORY.name],
            tags=self.reader.counts[TAG.name],
            articles=self.reader.counts[ARTICLE.name],
            changed=self.changed,
        )


async def import_corpus(
    sessionmaker: async_sessionmaker[AsyncSession],
    lines: Iterable[str],
    *,
    batch_size: int = 1000,
    on_progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import corpus ``lines`` in one transaction; ``on_progress`` gets the number of
    articles written so far, after each batch of them.

    Blank lines are skipped. Raises :class:`CorpusError` (the database unchanged) on the first
    line that is not a valid record or names an unknown key or a slug another row holds.
    """
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_SIZE}")
    async with sessionmaker.begin() as session:
        # From the first statement on: the keys read first and the indexes dropped for the
        # bulk build (SQLite runs DDL outside a transaction otherwise) are the import's.
        await database_of(session).begin_write(session)
        connection = await session.connection()
        importer = _Importer(connection, batch_size=batch_size, on_progress=on_progress)
        await importer.start()
        await importer.run(lines)
        await importer.finish()
        # Kept related lists are not kept up by bulk writes: they are computed again. At the
        # end, so that reads computing lists wait only for the commit.
        await related_lists.forget_all(session)
    result = importer.result()
    if result.changed:
        # Fresh statistics: without them SQLite's planner skips the covering index for
        # search and related posts (twice as slow on a newly imported database).
        async with sessionmaker.begin() as session:
            await session.execute(text("ANALYZE"))
    return result
