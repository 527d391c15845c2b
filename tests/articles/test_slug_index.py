"""A slug made unique (``base-2``, ``base-3``) is found through the slug's index, whatever
the database's collation: the prefix search is one range in code point order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from resolvers.access.viewer import Role
from resolvers.global_ids import encode_global_id
from tests.support.auth import bearer
from tests.support.factories import make_article, make_author, make_category
from tests.support.graphql import graphql
from tests.support.plans import app_on_icu_database, plan, sent

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
    with sent(engine, "articles.slug >") as statements:
        assert await _create_budget(client, sessionmaker) == "budget-3"
    [(statement, parameters)] = statements
    return await plan(engine, dialect, statement, parameters)


def _assert_ranges_read_from_indexes(steps: str) -> None:
    """Both the current slugs and the former ones: the range is an index condition."""
    lines = steps.splitlines()
    ranges = [i for i, line in enumerate(lines) if "Index Cond" in line and "'budget-'" in line]
    assert len(ranges) == 2, steps
    scans = [lines[i - 1] for i in ranges]
    assert any("uq_articles_slug" in scan for scan in scans), steps
    assert any("pk_article_slugs" in scan for scan in scans), steps


async def test_a_numbered_slug_is_found_through_the_slug_index(
    client: httpx.AsyncClient, sessionmaker: Sessions, engine: AsyncEngine, dialect: str
) -> None:
    steps = await _plan_of_prefix_lookup(engine, dialect, client, sessionmaker)
    if dialect == "postgresql":
        _assert_ranges_read_from_indexes(steps)
    else:
        assert "USING INDEX" in steps or "USING COVERING INDEX" in steps, steps
        assert "SCAN articles" not in steps.replace("USING", ""), steps


@pytest.fixture
async def linguistic(dialect: str, tmp_path: Path) -> AsyncIterator[tuple[Any, ...]]:
    """The app on a PostgreSQL database whose default collation is ICU's English with
    punctuation ignored (as glibc's en_US does), under which "budget-2" sorts after
    "budget." and among "budget2": the range would miss it."""
    async with app_on_icu_database(dialect, tmp_path, "en-US-u-ka-shifted") as (http, app):
        yield http, app.state.sessionmaker, app.state.engine


async def test_the_collation_changes_neither_the_answer_nor_the_index(
    linguistic: tuple[Any, ...], dialect: str
) -> None:
    client, sessionmaker, engine = linguistic
    steps = await _plan_of_prefix_lookup(engine, dialect, client, sessionmaker)
    _assert_ranges_read_from_indexes(steps)
