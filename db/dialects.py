"""Where SQLite and PostgreSQL differ: one object per database, found from any bind.

Everything above ``db/`` asks :func:`database_of` instead of comparing dialect names, so a
difference between the two databases is written down here once, next to its reason.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

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
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.pool import ConnectionPoolEntry

__all__ = [
    "POSTGRESQL",
    "SQLITE",
    "Database",
    "DatabaseKind",
    "Timeouts",
    "code_point_string",
    "database_for_url",
    "database_of",
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

    @abstractmethod
    def insert(self, table: Table) -> sqlite.Insert | postgresql.Insert:
        """An INSERT that can ``on_conflict_do_update``."""

    @abstractmethod
    async def advance_sequences(self, connection: AsyncConnection, tables: Iterable[Table]) -> None:
        """Move id generators past ids written explicitly (an import keeps its keys)."""


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


def _terminate_at_once(dbapi_connection: Any, _record: ConnectionPoolEntry, _error: Any) -> None:
    # SQLAlchemy closes an invalidated asyncpg connection politely, waiting up to two
    # seconds for a server that may have stopped answering (a partition): that wait came on
    # top of the timeout that found it. asyncpg's terminate() drops the socket at once.
    driver = getattr(dbapi_connection, "driver_connection", None)
    if driver is not None and not driver.is_closed():
        driver.terminate()


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
