"""The databases a served benchmark runs on: a corpus from the shared generator (or given),
imported into SQLite and PostgreSQL by Masthead's own ``masthead import`` (or given already
loaded, and then only read).

A database the benchmark loads is kept for the next run, with the corpus it holds written
beside it (a file next to the SQLite database, the comment of the PostgreSQL one): the next
run with the same corpus skips the load, the longest part at a million articles.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from db.migration import pending_migration
from masthead.settings import normalize_database_url

__all__ = [
    "Database",
    "DatabaseError",
    "articles_in",
    "corpus",
    "generator",
    "given",
    "loaded_postgresql",
    "loaded_sqlite",
]

_ROOT = Path(__file__).resolve().parent.parent
_SIZE = re.compile(r"(\d+)([km]?)")
# A database this benchmark made says so in its comment; it drops no other.
_MARK = "masthead bench: "


class DatabaseError(Exception):
    """A database the benchmark cannot use as it is."""


@dataclass(frozen=True)
class Database:
    kind: str  # "sqlite" or "postgresql"
    url: str  # SQLAlchemy's, with the async driver
    origin: str  # how it came to hold its corpus, for the report
    load_seconds: float | None  # when this run imported it


def articles_in(size: str) -> int:
    """``10k`` -> 10,000; ``1m`` -> 1,000,000; ``2500`` -> 2,500."""
    found = _SIZE.fullmatch(size.strip().lower())
    if found is None:
        raise ValueError(f"not a corpus size: {size!r} (e.g. 10k, 1m, 250000)")
    return int(found[1]) * {"": 1, "k": 1_000, "m": 1_000_000}[found[2]]


def generator() -> Path:
    """The shared corpus generator: in ``MASTHEAD_CORPUS_DIR``, or ``../shared/corpus``."""
    directory = os.environ.get("MASTHEAD_CORPUS_DIR") or _ROOT.parent / "shared" / "corpus"
    return Path(directory) / "generate.py"


def corpus(articles: int, *, seed: int, work: Path) -> Path:
    """The generator's corpus of ``articles`` articles, generated into ``work`` unless there."""
    path = work / f"corpus-{articles}-s{seed}.jsonl"
    if path.exists():
        return path
    script = generator()
    if not script.exists():
        raise DatabaseError(f"no corpus generator at {script} (set MASTHEAD_CORPUS_DIR)")
    partial = path.with_name(path.name + ".partial")
    print(f"generating {articles:,} articles (seed {seed}) into {path}", file=sys.stderr)
    subprocess.run(
        [sys.executable, str(script), "--articles", str(articles), "--seed", str(seed),
         "--out", str(partial)],
        check=True,
    )  # fmt: skip
    partial.replace(path)
    return path


def _identity(corpus_file: Path) -> str:
    return f"{corpus_file.name}, {corpus_file.stat().st_size} bytes"


def _masthead(url: str, *arguments: str) -> None:
    command = Path(sys.executable).parent / "masthead"
    environment = {**os.environ, "MASTHEAD_DATABASE_URL": url}
    subprocess.run([str(command), *arguments], env=environment, check=True)


def _import(url: str, corpus_file: Path) -> float:
    started = time.monotonic()
    _masthead(url, "db", "upgrade")
    _masthead(url, "import", str(corpus_file))
    return time.monotonic() - started


def given(kind: str, url: str) -> Database:
    """A database loaded beforehand: used as it is, so it must be at Masthead's migration."""
    url = normalize_database_url(url)
    pending = asyncio.run(pending_migration(url))
    if pending is not None:
        raise DatabaseError(
            f"{kind} database given: {pending}. The benchmark writes nothing to a database it "
            "is given: upgrade it (masthead db upgrade) or let the benchmark load its own."
        )
    return Database(kind, url, "given, already loaded", None)


def _reuse(url: str) -> None:
    # A database this benchmark loaded follows Masthead's migrations (nothing else writes it).
    if asyncio.run(pending_migration(url)) is not None:
        _masthead(url, "db", "upgrade")


def loaded_sqlite(corpus_file: Path, *, path: Path) -> Database:
    """An SQLite database at ``path`` holding ``corpus_file``, imported unless it already is."""
    url = normalize_database_url(f"sqlite:///{path}")
    marker = path.with_name(path.name + ".corpus")
    identity = _identity(corpus_file)
    if path.exists() and marker.exists() and marker.read_text() == identity:
        _reuse(url)
        return Database("sqlite", url, f"loaded by an earlier run ({identity})", None)
    marker.unlink(missing_ok=True)
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    seconds = _import(url, corpus_file)
    marker.write_text(identity)
    return Database("sqlite", url, f"loaded by this run ({identity})", seconds)


async def _comment(server: str, name: str) -> str | None:
    """None when there is no such database; its comment ('' when none) when there is."""
    connection = await asyncpg.connect(server)
    try:
        found = await connection.fetchrow(
            "SELECT coalesce(shobj_description(oid, 'pg_database'), '') AS comment"
            " FROM pg_database WHERE datname = $1",
            name,
        )
    finally:
        await connection.close()
    return None if found is None else str(found["comment"])


async def _execute(server: str, *statements: str) -> None:
    connection = await asyncpg.connect(server)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def loaded_postgresql(corpus_file: Path, *, server: str, name: str) -> Database:
    """Database ``name`` on the PostgreSQL ``server`` (a libpq URL of any database there)
    holding ``corpus_file``, created and imported unless it already is."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise DatabaseError(f"not a plain database name: {name!r}")
    server = make_url(server).set(drivername="postgresql").render_as_string(hide_password=False)
    url = normalize_database_url(
        make_url(server).set(database=name).render_as_string(hide_password=False)
    )
    identity = _identity(corpus_file)
    comment = asyncio.run(_comment(server, name))
    if comment == _MARK + identity:
        _reuse(url)
        return Database("postgresql", url, f"loaded by an earlier run ({identity})", None)
    if comment is not None:
        if not comment.startswith(_MARK):
            raise DatabaseError(f"database {name} exists and was not made by this benchmark")
        asyncio.run(_execute(server, f'DROP DATABASE "{name}"'))
    asyncio.run(
        _execute(
            server,
            f'CREATE DATABASE "{name}"',
            f"COMMENT ON DATABASE \"{name}\" IS '{_MARK}loading'",
        )
    )
    seconds = _import(url, corpus_file)
    quoted = (_MARK + identity).replace("'", "''")
    asyncio.run(_execute(server, f"COMMENT ON DATABASE \"{name}\" IS '{quoted}'"))
    return Database("postgresql", url, f"loaded by this run ({identity})", seconds)
