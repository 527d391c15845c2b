"""A slug made unique (``base-2``, ``base-3``) is found through the slug's index, whatever
the database's collation: the prefix search is one range in code point order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.migration import upgrade
from masthead.app import close, create_app
from masthead.settings import Settings
from resolvers.access.viewer import Role
from resolvers.global_ids import encode_global_id
from tests.support.auth import bearer
from tests.support.databases import scratch_database
from tests.support.factories import make_article, make_author, make_category
from tests.support.graphql import graphql

Sessions = async_sessionmaker[AsyncSession]

CREATE = """
mutation($input: CreateArticleInput!) {
  createArticle(input: $input) { article { slug } errors { code } }
}
"""
# Slugs "budget-" starts, and neighbours in any order that a range could let in by mistake.
TAKEN = ["budget", "budget-2", "budget-10", "budget-x", "budgets", "budget2", "budgetary", "b"]


async def _create_budget(client: httpx.AsyncClient, sessionmaker: Sessions) -> str:
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    for taken in TAKEN:
        await make_article(sessionmaker, author=author, category=category, slug=taken)
    headers = await bearer(sessionmaker, Role.EDITOR)
    fields = {
        "title": "Budget",
        "body": "<p>Numbers.</p>",
        "authorId": encode_global_id("Author", author.id),
        "categoryId": encode_global_id("Category", category.id),
    }
    body = await graphql(client, CREATE, {"input": fields}, headers=headers)
    payload = body["data"]["createArticle"]
    assert payload["errors"] == [], payload
    slug: str = payload["article"]["slug"]
    return slug


async def _plan_of_prefix_lookup(
    engine: AsyncEngine, dialect: str, client: httpx.AsyncClient, sessionmaker: Sessions
) -> str:
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "articles.slug >" in statement:
            sent.append((statement, parameters))

    listener = (engine.sync_engine, "before_cursor_execute", record)
    event.listen(*listener)
    try:
        assert await _create_budget(client, sessionmaker) == "budget-3"
    finally:
        event.remove(*listener)
    [(statement, parameters)] = sent
    async with engine.connect() as connection:
        if dialect == "postgresql":
            # The table is tiny: without this the planner would rightly read it whole.
            await connection.exec_driver_sql("SET enable_seqscan = off")
            plan = await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
        else:
            plan = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        return "\n".join(str(row[-1]) for row in plan)


def _assert_ranges_read_from_indexes(plan: str) -> None:
    """Both the current slugs and the former ones: the range is an index condition."""
    lines = plan.splitlines()
    ranges = [i for i, line in enumerate(lines) if "Index Cond" in line and "'budget-'" in line]
    assert len(ranges) == 2, plan
    scans = [lines[i - 1] for i in ranges]
    assert any("uq_articles_slug" in scan for scan in scans), plan
    assert any("pk_article_slugs" in scan for scan in scans), plan


async def test_a_numbered_slug_is_found_through_the_slug_index(
    client: httpx.AsyncClient, sessionmaker: Sessions, engine: AsyncEngine, dialect: str
) -> None:
    plan = await _plan_of_prefix_lookup(engine, dialect, client, sessionmaker)
    if dialect == "postgresql":
        _assert_ranges_read_from_indexes(plan)
    else:
        assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, plan
        assert "SCAN articles" not in plan.replace("USING", ""), plan


@pytest.fixture
async def linguistic(dialect: str, tmp_path: Path) -> AsyncIterator[tuple[Any, ...]]:
    """The app on a PostgreSQL database whose default collation is ICU's English with
    punctuation ignored (as glibc's en_US does), under which "budget-2" sorts after
    "budget." and among "budget2": the range would miss it."""
    if dialect != "postgresql":
        pytest.skip("SQLite has no database-wide collation")
    icu = "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US-u-ka-shifted' LOCALE 'C.UTF-8'"
    async with scratch_database(dialect, tmp_path, options=icu) as url:
        await asyncio.to_thread(upgrade, url)  # Alembic runs an event loop of its own
        app = create_app(Settings(database_url=url, _env_file=None))  # type: ignore[call-arg]  # pydantic-settings init kwarg
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                yield http, app.state.sessionmaker, app.state.engine
        finally:
            await close(app)


async def test_the_collation_changes_neither_the_answer_nor_the_index(
    linguistic: tuple[Any, ...], dialect: str
) -> None:
    client, sessionmaker, engine = linguistic
    plan = await _plan_of_prefix_lookup(engine, dialect, client, sessionmaker)
    _assert_ranges_read_from_indexes(plan)
