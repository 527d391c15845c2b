"""Where SQLite and PostgreSQL differ: one object per database, found from any bind.

Everything above ``db/`` asks :func:`database_of` instead of comparing dialect names, so a
difference between the two databases is written down here once, next to its reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import sqlite3
from abc import ABC, abstractmethod
from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

import asyncpg
from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    Table,
    any_,
    bindparam,
    event,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql import CompoundSelect, Select

from db.failures import cancelled_by_server

logger = logging.getLogger("masthead.db")

# A read statement built once and kept (``Database.kept_rows``).
Kept = Select[Any] | CompoundSelect[Any]

__all__ = [
    "POSTGRESQL",
    "SQLITE",
    "BulkWriter",
    "Database",
    "DatabaseKind",
    "Listening",
    "ScalarReader",
    "Timeouts",
    "code_point_string",
    "database_for_url",
    "database_of",
    "search_text",
]


@dataclass(frozen=True)
class Timeouts:
    """Deadlines for serving requests, in seconds (the CLI's imports run without them)."""

    statement: float
    connect: float
    pool: float


# How much longer than the statement deadline the driver waits for an answer.
_COMMAND_GRACE = 0.25


class DatabaseKind(StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


class BulkWriter(ABC):
    """Inserts rows that are all new, many to a statement, in one transaction (an import's).

    Constraints and triggers hold as for any insert. The upkeep of tables that hold no rows
    yet can wait for the rows: :meth:`defer` drops what is faster built in bulk (in the
    transaction, so that one never committed leaves it all in place) and :meth:`finish`
    builds it again, in the same transaction.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self._rebuild: list[str] = []

    @abstractmethod
    async def insert(
        self, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Insert ``rows``, their values in ``columns`` order; none of them may exist yet."""

    @abstractmethod
    async def defer(self, tables: Sequence[Table]) -> None:
        """Leave the upkeep of ``tables``, which must be empty, to :meth:`finish`."""

    async def finish(self) -> None:
        """Build what :meth:`defer` left, once every row is in."""
        for statement in self._rebuild:
            await self.connection.execute(text(statement))
        self._rebuild = []

    async def _drop(self, drops: Iterable[str], rebuild: Iterable[str]) -> None:
        for statement in drops:
            await self.connection.execute(text(statement))
        self._rebuild += rebuild


class Listening(ABC):
    """Payloads being delivered from one channel (``Database.listen``)."""

    # Set when the delivery stopped by itself (the connection behind it was lost).
    lost: asyncio.Event

    @abstractmethod
    async def stop(self) -> None:
        """No more deliveries."""


class ScalarReader:
    """One value read by a statement, as cheaply as a connection of the pool allows: each
    read its own statement (autocommit), on a connection, with no session around it. For
    the reads done on every request (a cache hit's look at the invalidation log)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def scalar(self, statement: Select[Any]) -> Any:
        async with self._engine.connect() as connection:
            return await connection.scalar(statement)

    def close(self) -> None:
        """Release what it holds beside the engine's pool (nothing here; SQLite's is closed
        when the engine is disposed)."""


class _InlineSQLiteReader(ScalarReader):
    """SQLite's: the file read in the event loop's own thread, through a connection of the
    standard library's driver that only reads (``query_only``).

    Through aiosqlite each read hands work to the connection's thread and back (and the
    pool sets and resets the isolation level, a hand-off each): served cache hits spent
    about 45% of the worker's CPU on those hand-offs. A primary-key lookup in a local file
    takes microseconds, less than one hand-off, and in WAL mode a reader waits on no writer.
    Should SQLite still be busy (a checkpoint), the read waits at most 50 ms; then, or if the
    file cannot be opened, it goes through the pool instead, whose failures are the
    database failures everything else knows.
    """

    def __init__(self, engine: AsyncEngine, path: str) -> None:
        super().__init__(engine)
        self._dialect = engine.dialect
        self._events = engine.sync_engine.dispatch
        self._path = path
        self._connection: sqlite3.Connection | None = None
        # By the statement's identity, the statement held with its SQL so that its id cannot
        # be taken by another statement while the entry lives.
        self._compiled: dict[int, tuple[Select[Any], str, tuple[Any, ...]]] = {}
        self._warned = False

    def _sql(self, statement: Select[Any]) -> tuple[str, tuple[Any, ...]]:
        found = self._compiled.get(id(statement))
        if found is None:
            compiled = statement.compile(dialect=self._dialect)
            order = compiled.positiontup or []
            parameters = tuple(compiled.params[name] for name in order)
            found = self._compiled[id(statement)] = (statement, str(compiled), parameters)
        return found[1], found[2]

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(self._path, timeout=0.05, isolation_level=None)
            connection.execute("PRAGMA query_only=ON")
            self._connection = connection
        return self._connection

    async def scalar(self, statement: Select[Any]) -> Any:
        sql, parameters = self._sql(statement)
        # The engine's statement events see it as any other (statement counts, tracing).
        events = self._events
        try:
            cursor = self._connect().cursor()
            if events.before_cursor_execute:
                events.before_cursor_execute(None, cursor, sql, parameters, None, False)
            row = cursor.execute(sql, parameters).fetchone()
            if events.after_cursor_execute:
                events.after_cursor_execute(None, cursor, sql, parameters, None, False)
        except sqlite3.Error as error:
            if not self._warned:
                self._warned = True
                logger.warning("SQLite read in the event loop failed (%s): through the pool", error)
            return await super().scalar(statement)
        return None if row is None else row[0]

    def close(self) -> None:
        if self._connection is not None:
            # From another thread than the loop's (a dispose elsewhere): left to the collector.
            with contextlib.suppress(sqlite3.ProgrammingError):
                self._connection.close()
            self._connection = None


class Database(ABC):
    """What Masthead does differently on one database."""

    kind: ClassVar[DatabaseKind]
    # Alembic must rebuild a table to alter it (SQLite's ALTER TABLE is limited).
    alters_in_batches: ClassVar[bool]
    # Execution options that give a long read one snapshot of the whole database.
    snapshot_options: ClassVar[Mapping[str, Any]]
    # Only one process at a time delivers webhooks (``resolvers.events.worker``): SQLite has
    # no row locks to share the work with.
    one_delivering_process: ClassVar[bool]

    @abstractmethod
    def engine_options(self, *, pool_size: int, timeouts: Timeouts | None) -> dict[str, Any]:
        """Keyword arguments for ``create_async_engine``; ``timeouts`` when serving."""

    def prepare(self, engine: AsyncEngine) -> None:  # noqa: B027  # optional hook
        """Set up what every new connection needs (nothing by default)."""

    def scalar_reader(self, engine: AsyncEngine) -> ScalarReader:
        """The cheapest way to read one value on every request (:class:`ScalarReader`).
        Only for statements whose compiled form is fixed (constant parameters): it may be
        compiled once and kept."""
        return ScalarReader(engine)

    @abstractmethod
    async def begin_write(self, session: AsyncSession) -> None:
        """Start a write transaction that holds its write lock from its first read."""

    @abstractmethod
    async def lock(self, session: AsyncSession, key: str, *, shared: bool = False) -> None:
        """Make transactions taking the same ``key`` wait for each other until commit.

        Shared holders of a key wait only for its exclusive holders, and these for all.
        """

    def any_of(
        self, column: ColumnElement[int] | InstrumentedAttribute[int], ids: Sequence[int]
    ) -> ColumnElement[bool]:
        """``column IN (ids)``: one bound value per id, so a statement per list length."""
        return column.in_(ids)

    def any_of_parameter(
        self, column: ColumnElement[int] | InstrumentedAttribute[int], key: str
    ) -> ColumnElement[bool]:
        """:meth:`any_of` with the ids left to execution (``{key: ids}``), so that the
        statement is built once and kept."""
        return column.in_(bindparam(key, expanding=True))

    def rows_by_id(self, table: Table) -> Select[Any]:
        """``table``'s rows whose id is among ``{"ids": [...]}`` given at execution; built
        once per table and kept."""
        return _rows_by_id(self, table)

    async def kept_rows(
        self, connection: AsyncConnection, statement: Kept, parameters: Mapping[str, Any]
    ) -> Sequence[Any]:
        """The rows of a read, ``statement`` built once and kept (its compiled form is kept
        beside it), each read by attribute like SQLAlchemy's rows."""
        return (await connection.execute(statement, parameters)).all()

    @abstractmethod
    def insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        """An INSERT that can ``on_conflict_do_update``."""

    @abstractmethod
    async def advance_sequences(self, connection: AsyncConnection, tables: Iterable[Table]) -> None:
        """Move id generators past ids written explicitly (an import keeps its keys)."""

    @abstractmethod
    def bulk_writer(self, connection: AsyncConnection) -> BulkWriter:
        """A writer of new rows, many to a statement, in the connection's transaction."""

    @abstractmethod
    async def notify(self, session: AsyncSession, channel: str, payload: str) -> None:
        """Hand ``payload`` to the listeners of ``channel`` once the session's transaction
        commits, in commit order; never if it rolls back."""

    @abstractmethod
    async def listen(
        self, engine: AsyncEngine, channel: str, deliver: Callable[[str], None]
    ) -> Listening:
        """Call ``deliver`` with each payload notified on ``channel`` until stopped."""


class _SQLite(Database):
    kind = DatabaseKind.SQLITE
    alters_in_batches = True
    one_delivering_process = True
    # A read transaction in WAL mode already sees one snapshot.
    snapshot_options: ClassVar[Mapping[str, Any]] = {}

    def engine_options(self, *, pool_size: int, timeouts: Timeouts | None) -> dict[str, Any]:
        # A file: nothing to connect to or partition; busy_timeout bounds waiting for locks.
        return {} if timeouts is None else {"pool_timeout": timeouts.pool}

    def prepare(self, engine: AsyncEngine) -> None:
        sync_engine: Engine = engine.sync_engine
        event.listen(sync_engine, "connect", _sqlite_pragmas)

    def scalar_reader(self, engine: AsyncEngine) -> ScalarReader:
        path = engine.url.database
        if not path or path == ":memory:" or path.startswith("file:"):
            return ScalarReader(engine)  # no file another connection can open as it is
        reader = _InlineSQLiteReader(engine, path)
        # Closed with the engine's connections.
        event.listen(engine.sync_engine, "engine_disposed", lambda _engine: reader.close())
        return reader

    async def begin_write(self, session: AsyncSession) -> None:
        # pysqlite would BEGIN (DEFERRED) only at the first INSERT/UPDATE, after the
        # checks had read outside any transaction.
        await session.execute(text("BEGIN IMMEDIATE"))

    async def lock(self, session: AsyncSession, key: str, *, shared: bool = False) -> None:
        # Nothing to do: a writer holds the database's write lock (BEGIN IMMEDIATE).
        return

    def insert(self, table: Table) -> sqlite.Insert:
        return sqlite.insert(table)

    async def advance_sequences(self, connection: AsyncConnection, tables: Iterable[Table]) -> None:
        # INTEGER PRIMARY KEY takes max(id) + 1 by itself.
        return

    def bulk_writer(self, connection: AsyncConnection) -> BulkWriter:
        return _SQLiteBulkWriter(connection)

    async def notify(self, session: AsyncSession, channel: str, payload: str) -> None:
        # No server to carry it: kept on the session until its commit, then handed to the
        # listeners in this process (_deliver_committed); other processes need Redis.
        session.info.setdefault(_NOTIFIED, []).append((channel, payload))

    async def listen(
        self, engine: AsyncEngine, channel: str, deliver: Callable[[str], None]
    ) -> Listening:
        return _LocalListening((_database_key(engine.sync_engine), channel), deliver)


# Notifications an SQLite session holds until it commits, and who listens in this process:
# keyed by the database's file (its URL) and the channel.
_NOTIFIED = "masthead.notified"
_LOCAL_LISTENERS: dict[tuple[str, str], set[Callable[[str], None]]] = {}


def _database_key(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


class _LocalListening(Listening):
    def __init__(self, key: tuple[str, str], deliver: Callable[[str], None]) -> None:
        self.lost = asyncio.Event()  # a process does not lose itself
        self._key, self._deliver = key, deliver
        _LOCAL_LISTENERS.setdefault(key, set()).add(deliver)

    async def stop(self) -> None:
        listeners = _LOCAL_LISTENERS.get(self._key, set())
        listeners.discard(self._deliver)
        if not listeners:
            _LOCAL_LISTENERS.pop(self._key, None)


@event.listens_for(Session, "after_commit")
def _deliver_committed(session: Session) -> None:
    notified = session.info.pop(_NOTIFIED, None)
    if not notified:
        return
    database = _database_key(session.get_bind().engine)
    for channel, payload in notified:
        for deliver in list(_LOCAL_LISTENERS.get((database, channel), ())):
            deliver(payload)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_NOTIFIED, None)


class _SQLiteBulkWriter(BulkWriter):
    def __init__(self, connection: AsyncConnection) -> None:
        super().__init__(connection)
        # Whether new articles go into the search index here, its insert trigger dropped.
        self._indexing_search = False

    async def insert(
        self, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        if not rows:
            return
        dialect = self.connection.dialect
        processors = [
            (index, processor)
            for index, name in enumerate(columns)
            if (processor := table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
        ]
        # Values as SQLAlchemy would bind them (times as its text), to be stored alike.
        stored: Sequence[Sequence[Any]] = rows
        if processors:
            converted = [list(row) for row in rows]
            for values in converted:
                for index, process in processors:
                    if values[index] is not None:
                        values[index] = process(values[index])
            stored = converted
        await self._insert(table.name, columns, stored)
        if self._indexing_search and table.name == _SEARCHED:
            at = {name: columns.index(name) for name in ("id", "title", "excerpt", "body")}
            await self._insert(
                _SEARCH_INDEX,
                ("rowid", "title", "excerpt", "body"),
                [
                    (
                        row[at["id"]],
                        row[at["title"]],
                        row[at["excerpt"]],
                        search_text(row[at["body"]]),
                    )
                    for row in rows
                ],
            )

    async def _insert(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        names = ", ".join(columns)
        if any(isinstance(value, str) and "\x00" in value for row in rows for value in row):
            # SQLite's JSON functions end a string at an escaped NUL: rows holding one are
            # bound one by one, as any other insert binds them.
            places = ", ".join("?" * len(columns))
            await self.connection.exec_driver_sql(
                f"INSERT INTO {table} ({names}) VALUES ({places})", [tuple(row) for row in rows]
            )
            return
        # One statement reading every row from one JSON text, rather than one execution per
        # row: the driver's thread then takes Python's GIL back once per batch, not once per
        # row, each time waiting for the import reading the next batch to let go of it.
        picked = ", ".join(f"value ->> {index}" for index in range(len(columns)))
        await self.connection.execute(
            text(f"INSERT INTO {table} ({names}) SELECT {picked} FROM json_each(:rows)"),
            {"rows": _JSON(rows)},
        )

    async def defer(self, tables: Sequence[Table]) -> None:
        names = [table.name for table in tables]
        # Indexes of CREATE INDEX alone: those of UNIQUE and PRIMARY KEY are constraints.
        indexes = await self.connection.execute(
            text(
                "SELECT m.name, m.sql FROM sqlite_master AS m, pragma_index_list(m.tbl_name) AS i"
                " WHERE m.type = 'index' AND i.name = m.name AND i.origin = 'c'"
                ' AND NOT i."unique" AND m.tbl_name IN (SELECT value FROM json_each(:tables))'
            ),
            {"tables": _JSON(names)},
        )
        dropped = indexes.all()
        await self._drop(
            (f'DROP INDEX "{name}"' for name, _ in dropped), (sql for _, sql in dropped)
        )
        if _SEARCHED in names:
            # The trigger reads each new row back through the view that strips its HTML:
            # the rows' own text, stripped here alike, costs a fraction of that.
            trigger = await self.connection.scalar(
                text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :name"),
                {"name": _SEARCH_INSERT_TRIGGER},
            )
            if trigger is not None:
                await self._drop([f'DROP TRIGGER "{_SEARCH_INSERT_TRIGGER}"'], [trigger])
                self._indexing_search = True


# The full-text index of migration 0002, the table it indexes and its trigger on inserts.
_SEARCH_INDEX = "article_search"
_SEARCHED = "articles"
_SEARCH_INSERT_TRIGGER = "article_search_insert"
# Entities the view decodes, in its order ("&amp;" last, so "&amp;lt;" stays "&lt;").
_SEARCH_ENTITIES = (
    ("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#39;", "'"), ("&nbsp;", " "), ("&amp;", "&")
)  # fmt: skip
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def search_text(html: str) -> str:
    """A body's text as migration 0002's view ``article_search_text`` gives it to SQLite's
    full-text index: what lies outside ``<...>`` tags, each piece after a space (the first
    too, empty), an unclosed tag cutting the rest, then the entities decoded.

    The index must be given exactly what the view gives, since removing a row later reads
    the view to know what to take out (a test holds the two together).
    """
    pieces = [""]
    position, end = 0, len(html)
    while position < end:
        opening = html.find("<", position)
        if opening < 0:
            pieces.append(html[position:])
            break
        pieces.append(html[position:opening])
        closing = html.find(">", opening)
        if closing < 0:
            break
        position = closing + 1
    stripped = " ".join(pieces)
    for entity, character in _SEARCH_ENTITIES:
        stripped = stripped.replace(entity, character)
    return stripped


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # WAL lets readers run while a writer holds the database; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class _PostgreSQL(Database):
    kind = DatabaseKind.POSTGRESQL
    alters_in_batches = False
    one_delivering_process = False  # deliveries are claimed FOR UPDATE SKIP LOCKED
    snapshot_options: ClassVar[Mapping[str, Any]] = {"isolation_level": "REPEATABLE READ"}

    def engine_options(self, *, pool_size: int, timeouts: Timeouts | None) -> dict[str, Any]:
        # No JIT: it pays off for long analytic queries, and it starts wherever the
        # planner's estimate passes jit_above_cost, which the search statement's does on a
        # large corpus (for branches that never run): compiling costs more than running.
        server_settings = {"jit": "off"}
        options: dict[str, Any] = {
            # Every connection opened is kept: an overflow connection is closed as soon as
            # it goes back, so a busy worker kept opening (TLS probe, handshake) and closing
            # them, with statements prepared again on each (a twentieth of its CPU).
            "pool_size": pool_size,
            "max_overflow": 0,
            # No ping per checkout (a round trip each time): a connection the server closed
            # fails its first statement, the pool is renewed and the read is run again.
            "pool_pre_ping": False,
        }
        connect_args: dict[str, Any] = {"server_settings": server_settings}
        if timeouts is not None:
            # The server ends a statement at the deadline; the driver gives up a little
            # later on a connection that stopped answering (a partition), and on connecting.
            server_settings["statement_timeout"] = str(int(timeouts.statement * 1000))
            connect_args["command_timeout"] = timeouts.statement + _COMMAND_GRACE
            connect_args["timeout"] = timeouts.connect
            options["pool_timeout"] = timeouts.pool
        options["connect_args"] = connect_args
        return options

    def prepare(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, "invalidate", _terminate_at_once)

    async def begin_write(self, session: AsyncSession) -> None:
        # READ COMMITTED with row locks and advisory locks where writes could race.
        return

    async def lock(self, session: AsyncSession, key: str, *, shared: bool = False) -> None:
        lock_id = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        take = func.pg_advisory_xact_lock_shared if shared else func.pg_advisory_xact_lock
        await session.execute(select(take(lock_id)))

    def any_of(
        self, column: ColumnElement[int] | InstrumentedAttribute[int], ids: Sequence[int]
    ) -> ColumnElement[bool]:
        """``column = ANY($1)``, the ids bound as one array: the statement's text is the
        same for every list, so it is prepared once per connection, not once per length,
        and SQLAlchemy has no expanding parameter to render on each call."""
        return column == any_(bindparam(None, list(ids), type_=postgresql.ARRAY(Integer)))

    def any_of_parameter(
        self, column: ColumnElement[int] | InstrumentedAttribute[int], key: str
    ) -> ColumnElement[bool]:
        return column == any_(bindparam(key, type_=postgresql.ARRAY(Integer)))

    async def kept_rows(
        self, connection: AsyncConnection, statement: Kept, parameters: Mapping[str, Any]
    ) -> Sequence[Any]:
        """Straight on asyncpg when the statement allows it (``_DriverStatement``) and the
        connection is in no transaction SQLAlchemy tracks (a read session's autocommit):
        SQLAlchemy's execution, result and greenlet hand-offs cost 0.23 ms of CPU a
        statement where asyncpg's own ``fetch`` costs 0.11 (``bench/results/per_request.md``).
        Any failure but a timeout is run again through SQLAlchemy, which tells a dead
        connection apart (and drops it from the pool) and wraps the error as everywhere
        else; a statement the server cancelled for its deadline is not run twice, and a
        connection that did not answer in time is dropped."""
        driven = _DriverStatement.of(statement, connection.dialect)
        raw = await connection.get_raw_connection()
        adapted = raw.dbapi_connection
        if driven is None or adapted is None or not getattr(adapted, "autocommit", False):
            return (await connection.execute(statement, parameters)).all()
        values = driven.values(parameters)
        events = connection.sync_engine.dispatch
        if events.before_cursor_execute:
            events.before_cursor_execute(
                connection.sync_connection, None, driven.sql, values, None, False
            )
        try:
            records = await adapted.driver_connection.fetch(driven.sql, *values)
        except Exception as error:
            if cancelled_by_server(error):
                raise
            if isinstance(error, TimeoutError):
                await connection.invalidate(error)
                raise
            return (await connection.execute(statement, parameters)).all()
        if events.after_cursor_execute:
            events.after_cursor_execute(
                connection.sync_connection, None, driven.sql, values, None, False
            )
        make = driven.row
        return [make(*record) for record in records]

    def insert(self, table: Table) -> postgresql.Insert:
        return postgresql.insert(table)

    async def advance_sequences(self, connection: AsyncConnection, tables: Iterable[Table]) -> None:
        for table in tables:
            await connection.execute(
                text(
                    "SELECT setval(seq, top) FROM ("
                    f" SELECT pg_get_serial_sequence('{table.name}', 'id')::regclass AS seq,"
                    f" max(id) AS top FROM {table.name}"
                    ") AS s WHERE top > coalesce(pg_sequence_last_value(seq), 0)"
                )
            )

    def bulk_writer(self, connection: AsyncConnection) -> BulkWriter:
        return _PostgreSQLBulkWriter(connection)

    async def notify(self, session: AsyncSession, channel: str, payload: str) -> None:
        # NOTIFY is transactional: the server delivers it at commit, to every listening
        # process, in commit order, and drops it on rollback.
        await session.execute(select(func.pg_notify(channel, payload)))

    async def listen(
        self, engine: AsyncEngine, channel: str, deliver: Callable[[str], None]
    ) -> Listening:
        # A connection of its own, outside the pool: LISTEN holds it for as long as it runs.
        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        connection = await asyncpg.connect(url, timeout=10)
        listening = _PostgreSQLListening(connection)
        await connection.add_listener(channel, lambda *received: deliver(received[-1]))
        return listening


class _PostgreSQLListening(Listening):
    def __init__(self, connection: asyncpg.Connection) -> None:
        self.lost = asyncio.Event()
        self._connection = connection
        connection.add_termination_listener(lambda _connection: self.lost.set())

    async def stop(self) -> None:
        if not self._connection.is_closed():
            await self._connection.close(timeout=5)


class _PostgreSQLBulkWriter(BulkWriter):
    async def insert(
        self, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        if not rows:
            return
        # COPY, through the driver's connection under the SQLAlchemy one: binary rows in one
        # stream, the fastest way into PostgreSQL.
        raw = await self.connection.get_raw_connection()
        driver = raw.driver_connection
        if driver is not None and not driver.is_in_transaction():
            # The adapter begins the transaction at its first statement: a COPY before any
            # would commit by itself.
            await self.connection.execute(text("SELECT 1"))
        if driver is None or not driver.is_in_transaction():
            raise RuntimeError("a bulk insert belongs to a transaction, not to autocommit")
        await driver.copy_records_to_table(table.name, records=rows, columns=list(columns))

    async def defer(self, tables: Sequence[Table]) -> None:
        names = {"tables": [table.name for table in tables]}
        indexes = (await self.connection.execute(text(_SECONDARY_INDEXES), names)).all()
        keys = (await self.connection.execute(text(_FOREIGN_KEYS), names)).all()
        await self._drop(
            [
                *(f'DROP INDEX "{name}"' for name, _ in indexes),
                *(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"' for table, name, _ in keys),
            ],
            [
                f"SET LOCAL maintenance_work_mem = '{_BUILD_MEMORY}'",
                *(definition for _, definition in indexes),
                *(
                    f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}'
                    for table, name, definition in keys
                ),
            ],
        )


# Secondary indexes of the tables named: one sort each (workers in parallel for B-trees),
# and the GIN indexes of search built from all the vectors at once rather than merged in.
_SECONDARY_INDEXES = (
    "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index AS x"
    " JOIN pg_class AS i ON i.oid = x.indexrelid JOIN pg_class AS t ON t.oid = x.indrelid"
    " WHERE t.relname = ANY(:tables) AND t.relnamespace = current_schema()::regnamespace"
    " AND NOT x.indisunique AND NOT x.indisprimary ORDER BY i.relname"
)
# Their foreign keys: checked row by row, each a lookup by its own trigger; added back, each
# is one join over all the rows.
_FOREIGN_KEYS = (
    "SELECT t.relname, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint AS c"
    " JOIN pg_class AS t ON t.oid = c.conrelid WHERE c.contype = 'f'"
    " AND t.relname = ANY(:tables) AND t.relnamespace = current_schema()::regnamespace"
    " ORDER BY c.conname"
)
# Memory for building the deferred indexes (the server's default is 64 MB): the GIN
# indexes of search build in one pass under it instead of spilling and merging.
_BUILD_MEMORY = "256MB"


def _terminate_at_once(dbapi_connection: Any, _record: ConnectionPoolEntry, _error: Any) -> None:
    # SQLAlchemy closes an invalidated asyncpg connection politely, waiting up to two
    # seconds for a server that may have stopped answering (a partition): that wait came on
    # top of the timeout that found it. asyncpg's terminate() drops the socket at once.
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and not driver.is_closed():
        driver.terminate()


@functools.cache
def _rows_by_id(database: Database, table: Table) -> Select[Any]:
    return select(table).where(database.any_of_parameter(table.c.id, "ids"))


@dataclass(frozen=True)
class _DriverStatement:
    """A kept statement compiled once for the driver: its SQL, its parameters in order with
    their defaults, and a row type reading its columns by name. Only for statements whose
    parameters and columns SQLAlchemy would hand over and take back unconverted."""

    sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]
    row: type[tuple[Any, ...]]

    # By the statement's identity, the statement held with it so that its id cannot be
    # taken by another while the entry lives; None: SQLAlchemy must run it.
    _known: ClassVar[dict[int, tuple[Kept, _DriverStatement | None]]] = {}

    @classmethod
    def of(cls, statement: Kept, dialect: Dialect) -> _DriverStatement | None:
        found = cls._known.get(id(statement))
        if found is None or found[0] is not statement:
            # Kept statements are a few dozen, and first pages at most 256
            # (reads._first_page): bounded all the same, with room above both.
            if len(cls._known) >= 1024:
                cls._known.clear()
            found = cls._known[id(statement)] = (statement, cls._compiled(statement, dialect))
        return found[1]

    @classmethod
    def _compiled(cls, statement: Kept, dialect: Dialect) -> _DriverStatement | None:
        compiled = statement.compile(dialect=dialect)
        if compiled.post_compile_params or compiled.literal_execute_params:
            return None
        names = tuple(compiled.positiontup or ())
        for name in names:
            bind = compiled.binds[name]
            # An array of plain items is what asyncpg takes as given (a list, as here).
            bound = bind.type.item_type if isinstance(bind.type, postgresql.ARRAY) else bind.type
            if bind.callable is not None or bound.dialect_impl(dialect).bind_processor(dialect):
                return None
        columns = statement.selected_columns
        for column in columns:
            if column.type.dialect_impl(dialect).result_processor(dialect, None) is not None:
                return None
        # Names that are no identifiers (or twice the same) are renamed by position (`_0`).
        row = namedtuple("Row", list(columns.keys()), rename=True)  # type: ignore[misc]  # named at run time
        return cls(str(compiled), names, dict(compiled.params), row)

    def values(self, parameters: Mapping[str, Any]) -> list[Any]:
        return [
            parameters[name] if name in parameters else self.defaults[name] for name in self.names
        ]


SQLITE: Database = _SQLite()
POSTGRESQL: Database = _PostgreSQL()
_BY_DIALECT = {database.kind.value: database for database in (SQLITE, POSTGRESQL)}


def _named(name: str) -> Database:
    try:
        return _BY_DIALECT[name]
    except KeyError:
        raise ValueError(f"Masthead runs on SQLite or PostgreSQL, not {name!r}") from None


def database_of(
    bind: AsyncSession | AsyncConnection | AsyncEngine | Connection | Engine,
) -> Database:
    """The database behind a session, connection or engine."""
    dialect: Dialect = bind.get_bind().dialect if isinstance(bind, AsyncSession) else bind.dialect
    return _named(dialect.name)


def database_for_url(url: str) -> Database:
    """The database a URL names (``sqlite+aiosqlite://...``, ``postgresql+asyncpg://...``)."""
    return _named(url.partition(":")[0].partition("+")[0])


def code_point_string(length: int) -> String:
    """A string column that compares by code point on both databases, whatever
    PostgreSQL's own collation: SQLite's ``BINARY`` already does; PostgreSQL needs ``C``
    (migration 0007). Its index then serves prefix ranges (``resolvers.slugs``)."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")
