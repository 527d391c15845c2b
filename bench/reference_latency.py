"""Latency of the three reference operations against a loaded database.

    python bench/reference_latency.py --database-url sqlite+aiosqlite:///bench.db [--requests 300]

Load a corpus first (``masthead db upgrade`` then ``masthead import FILE``, a JSON Lines corpus).
Requests go through the real ASGI app in-process (no network), one at a time, rotating
slugs drawn from the database so that no single row stays hot. A benchmark, not a test.
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


async def _run(database_url: str, requests: int, seed: int) -> list[dict[str, Any]]:
    # One client sends everything: the limiter's check runs, with a budget it never spends.
    settings = Settings(database_url=database_url, rate_limit=BENCH_RATE_LIMIT, _env_file=None)  # type: ignore[call-arg]  # pydantic-settings init kwarg
    app = create_app(settings)
    engine = app.state.engine
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    rng = random.Random(seed)
    async with app.state.sessionmaker() as session:
        article_slugs = list(
            await session.scalars(
                select(Article.slug).where(Article.is_public(utcnow())).order_by(Article.id)
            )
        )
        category_slugs = list(await session.scalars(select(Category.slug)))
    operations: list[tuple[str, str, list[dict[str, Any]]]] = [
        (
            "ArticlePage",
            ARTICLE_PAGE,
            [{"slug": s} for s in rng.sample(article_slugs, min(requests, len(article_slugs)))],
        ),
        ("Home", HOME, [{}]),
        ("CategoryPage", CATEGORY_PAGE, [{"slug": s} for s in category_slugs]),
    ]
    results = []
    async with served(app) as client:
        for name, query, variables in operations:
            for warm in variables[:20]:  # fill caches and asyncpg's statement cache
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
