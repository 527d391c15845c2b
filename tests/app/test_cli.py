"""The ``masthead`` command line, run as a user runs it (a subprocess)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect

from db.engine import create_engine
from masthead.settings import normalize_database_url
from tests.support.cli import ROOT, masthead
from tests.support.databases import admin_execute, postgres_admin_or_skip


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all (not migrated)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    admin = postgres_admin_or_skip()
    name = f"masthead_cli_{uuid.uuid4().hex[:12]}"
    asyncio.run(admin_execute(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(admin_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _tables(url: str) -> set[str]:
    engine = create_engine(normalize_database_url(url))
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    return names


async def test_db_upgrade_creates_the_schema(empty_database_url: str) -> None:
    result = masthead("db", "upgrade", database_url=empty_database_url)
    assert result.returncode == 0, result.stderr
    assert {"articles", "authors", "categories", "tags", "alembic_version"} <= await _tables(
        empty_database_url
    )
    again = masthead("db", "upgrade", database_url=empty_database_url)
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize(
    "command",
    [("import", "corpus.jsonl"), ("export", "out.jsonl"), ("demo",), ("token", "list"), ("serve",)],
    ids=["import", "export", "demo", "token", "serve"],
)
def test_commands_on_a_database_never_migrated_say_what_to_do(
    empty_database_url: str, command: tuple[str, ...]
) -> None:
    result = masthead(*command, database_url=empty_database_url)
    assert result.returncode == 2
    assert result.stderr == (
        "masthead: the database has no Masthead tables yet: run `masthead db upgrade` first.\n"
    )


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    result = masthead("demo", database_url="postgresql://nobody@127.0.0.1:9/none")
    assert result.returncode == 2
    assert result.stderr.startswith("masthead: cannot reach the database: ")
    assert len(result.stderr.splitlines()) == 1


def test_schema_prints_the_committed_sdl(tmp_path: Path) -> None:
    result = masthead("schema", database_url=f"sqlite:///{tmp_path / 'unused.db'}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / "schema.graphql").read_text()
