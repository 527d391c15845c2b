"""Latency of the three reference operations against a loaded database.

    python bench/reference_latency.py --database-url sqlite+aiosqlite:///bench.db [--requests 300]

Load a corpus first (``masthead db upgrade`` then ``masthead import FILE``, a JSON Lines corpus).
Requests go through the real ASGI app in-process (no network), one at a time, rotating
slugs drawn from the database so that no single row stays hot. A benchmark, not a test.

The kept related lists are forgotten first, so ArticlePage is measured twice over the same
slugs: each one's first view (its list computed and kept), then read again (kept).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.latency import BENCH_RATE_LIMIT, percentile, served
from db.models import Article, Category, utcnow
from masthead.app import create_app
from masthead.examples import ARTICLE_PAGE, CATEGORY_PAGE, HOME
from masthead.settings import Settings
from resolvers.articles import related_lists


async def _run(database_url: str, requests: int, seed: int) -> list[dict[str, Any]]:
    # One client sends everything: the limiter's check runs, with a budget it never spends.
    settings = Settings(database_url=database_url, rate_limit=BENCH_RATE_LIMIT, _env_file=None)  # type: ignore[call-arg]  # pydantic-settings init kwarg
    app = create_app(settings)
    engine = app.state.engine
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    rng = random.Random(seed)
    async with app.state.sessionmaker.begin() as session:
        await related_lists.forget_all(session)
    async with app.state.sessionmaker() as session:
        article_slugs = list(
            await session.scalars(
                select(Article.slug).where(Article.is_public(utcnow())).order_by(Article.id)
            )
        )
        category_slugs = list(await session.scalars(select(Category.slug)))
    sample = rng.sample(article_slugs, min(requests + 20, len(article_slugs)))
    pages = [{"slug": s} for s in sample[20:] or sample]
    categories = [{"slug": s} for s in category_slugs]
    # (name, query, warm-up variables, measured variables): warming up fills caches and
    # asyncpg's statement cache; ArticlePage warms up on 20 other slugs, so that each
    # measured page's first view is one.
    operations: list[tuple[str, str, list[dict[str, Any]], list[dict[str, Any]]]] = [
        ("ArticlePage (first view)", ARTICLE_PAGE, [{"slug": s} for s in sample[:20]], pages),
        ("ArticlePage (kept)", ARTICLE_PAGE, [], pages),
        ("Home", HOME, [{}] * 20, [{}]),
        ("CategoryPage", CATEGORY_PAGE, categories[:20], categories),
    ]
    results = []
    async with served(app) as client:
        for name, query, warm_up, variables in operations:
            for warm in warm_up:
                await client.post("/graphql", json={"query": query, "variables": warm})
            samples: list[float] = []
            statements.clear()
            for i in range(requests):
                payload = {"query": query, "variables": variables[i % len(variables)]}
                start = time.perf_counter()
                response = await client.post("/graphql", json=payload)
                samples.append((time.perf_counter() - start) * 1000)
                body = response.json()
                assert "errors" not in body, body
            results.append(
                {
                    "operation": name,
                    "p50_ms": statistics.median(samples),
                    "p99_ms": percentile(samples, 0.99),
                    "req_per_s": len(samples) / (sum(samples) / 1000),
                    "statements": len(statements) / requests,
                }
            )
    await engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    results = asyncio.run(
        _run(Settings(database_url=args.database_url).database_url, args.requests, args.seed)
    )
    print(f"| operation | p50 ms | p99 ms | req/s (1 client) | statements |  ({args.database_url})")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['operation']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{r['req_per_s']:.0f} | {r['statements']:.0f} |"
        )


if __name__ == "__main__":
    main()
