"""Latency of createArticle and updateArticle (p50/p99) through the real app.

    python bench/mutation_latency.py --database-url sqlite+aiosqlite:///bench.db [--requests 300]

The database must be migrated (``masthead db upgrade``); it may be empty or hold a corpus.
Requests go through the real ASGI app in-process (no network), one at a time, with an
editor token and a body of about 800 words (so sanitizing and counting are measured too).
Updates carry ``expectedVersion`` and change title, body and tags. What the run creates
(its author, category, tags, token and articles) is deleted afterwards. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import delete, event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.latency import BENCH_RATE_LIMIT, percentile, served
from db.models import ApiToken, Article, Author, Category, Tag
from masthead.app import create_app
from masthead.settings import Settings
from resolvers.access.tokens import create_token
from resolvers.access.viewer import Role
from resolvers.global_ids import encode_global_id

CREATE = """
mutation Create($input: CreateArticleInput!) {
  createArticle(input: $input) { article { id version } errors { field code } }
}
"""
UPDATE = """
mutation Update($id: ID!, $input: UpdateArticleInput!, $expectedVersion: Int) {
  updateArticle(id: $id, input: $input, expectedVersion: $expectedVersion) {
    article { id version } errors { field code }
  }
}
"""

_PARAGRAPH = (
    "<p>Public buyers across the region published {n} new tenders this week, with "
    "<strong>framework agreements</strong> for IT services and <a href='https://example.org'>"
    "construction works</a> leading the list; suppliers have until the end of the month to "
    "submit their bids, and the contracting authorities expect strong competition.</p>"
)


def _body(n: int) -> str:
    return "".join(_PARAGRAPH.format(n=n + i) for i in range(20))  # ~800 words


async def _run(database_url: str, requests: int) -> list[dict[str, Any]]:
    # One client sends everything: the limiter's check runs, with a budget it never spends.
    settings = Settings(database_url=database_url, rate_limit=BENCH_RATE_LIMIT, _env_file=None)  # type: ignore[call-arg]  # pydantic-settings init kwarg
    app = create_app(settings)
    engine = app.state.engine
    sessionmaker = app.state.sessionmaker
    run = uuid.uuid4().hex[:8]
    async with sessionmaker.begin() as session:
        author = Author(slug=f"bench-author-{run}", name="Bench Author")
        category = Category(slug=f"bench-category-{run}", name="Bench Category")
        tags = [Tag(slug=f"bench-tag-{run}-{i}", name=f"Bench tag {i}") for i in range(3)]
        session.add_all([author, category, *tags])
        await session.flush()
        secret = await create_token(session, name=f"bench-{run}", role=Role.EDITOR)
    headers = {"Authorization": f"Bearer {secret}"}
    tag_ids = [encode_global_id("Tag", tag.id) for tag in tags]
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    async def send(
        client: httpx.AsyncClient, query: str, variables: dict[str, Any]
    ) -> tuple[float, dict[str, Any]]:
        start = time.perf_counter()
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        elapsed = (time.perf_counter() - start) * 1000
        body = response.json()
        assert "errors" not in body, body
        (payload,) = body["data"].values()
        assert payload["errors"] == [], payload
        return elapsed, payload["article"]

    results = []
    created: list[dict[str, Any]] = []
    try:
        async with served(app) as client:
            samples: list[float] = []
            statements.clear()
            for n in range(requests + 20):  # the first 20 warm caches and connections
                input = {
                    "title": f"Bench article {run} {n}",
                    "body": _body(n),
                    "authorId": encode_global_id("Author", author.id),
                    "categoryId": encode_global_id("Category", category.id),
                    "tagIds": tag_ids[: 1 + n % 3],
                }
                if n == 20:
                    samples.clear()
                    statements.clear()
                elapsed, article = await send(client, CREATE, {"input": input})
                samples.append(elapsed)
                created.append(article)
            results.append(_summary("createArticle", samples, statements, requests))

            samples = []
            statements.clear()
            for n, article in enumerate(created):
                if n == 20:
                    samples.clear()
                    statements.clear()
                changes = {
                    "title": f"Bench article {run} {n} (updated)",
                    "body": _body(n + 1),
                    "tagIds": tag_ids[n % 3 :],
                }
                variables = {
                    "id": article["id"],
                    "input": changes,
                    "expectedVersion": article["version"],
                }
                elapsed, _ = await send(client, UPDATE, variables)
                samples.append(elapsed)
            results.append(_summary("updateArticle", samples, statements, requests))
    finally:
        async with sessionmaker.begin() as session:
            await session.execute(delete(Article).where(Article.author_id == author.id))
            await session.execute(delete(ApiToken).where(ApiToken.name == f"bench-{run}"))
            await session.execute(delete(Tag).where(Tag.id.in_([tag.id for tag in tags])))
            await session.execute(delete(Category).where(Category.id == category.id))
            await session.execute(delete(Author).where(Author.id == author.id))
        await engine.dispose()
    return results


def _summary(
    name: str, samples: list[float], statements: list[str], requests: int
) -> dict[str, Any]:
    return {
        "operation": name,
        "p50_ms": statistics.median(samples),
        "p99_ms": percentile(samples, 0.99),
        "req_per_s": len(samples) / (sum(samples) / 1000),
        "statements": len(statements) / requests,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    database_url = Settings(database_url=args.database_url).database_url
    results = asyncio.run(_run(database_url, args.requests))
    print(f"| mutation | p50 ms | p99 ms | req/s (1 client) | statements |  ({args.database_url})")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['operation']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{r['req_per_s']:.0f} | {r['statements']:.1f} |"
        )


if __name__ == "__main__":
    main()
