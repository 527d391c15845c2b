"""Latency of ``search`` against a loaded database: single-word, multi-word and filtered.

    python bench/search_latency.py --database-url sqlite+aiosqlite:///bench.db [--requests 200]

Load a corpus first (``masthead db upgrade`` then ``masthead import FILE``, a JSON Lines
corpus). Queries are words of the titles of public articles drawn at random (seeded), so
every query finds something and common words weigh as often as they occur: one word, or two
or three consecutive words of one title, or one word searched in the category of the article
whose title it came from. Requests go through the real ASGI app in-process, one at a time,
asking for what a results page shows: ten hits with score, highlights and title, and the
total count. A benchmark, not a test.

The "totalCount" columns report what the API answered: the results paging reaches, at most
``CANDIDATES + TITLE_CANDIDATES`` of ``resolvers.search.bounds``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.latency import BENCH_RATE_LIMIT, percentile, served
from db.engine import create_engine, create_sessionmaker
from db.models import Article, Category, utcnow
from masthead.app import create_app
from masthead.settings import Settings

SEARCH_PAGE = """
query SearchPage($query: String!, $filter: ArticleFilter) {
  search(query: $query, first: 10, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { score highlights node { slug title publishedAt } }
  }
}
"""

# Words that stemmers or stop lists make meaningless alone; a reader would not search them.
_STOP = frozenset(
    ["the", "and", "for", "with", "from", "into", "that", "this", "what", "why", "how", "its"]
)
_WORD = re.compile(r"[A-Za-z]{3,}")


Query = tuple[str, dict[str, str] | None]  # the words, and the filter if any


def _queries(
    titles: list[tuple[str, str]], requests: int, rng: random.Random
) -> dict[str, list[Query]]:
    """From (title, category slug) pairs: words alone, and one word in the title's category."""
    single: list[Query] = []
    multi: list[Query] = []
    filtered: list[Query] = []
    while min(len(single), len(multi), len(filtered)) < requests:
        title, category = rng.choice(titles)
        words = [w for w in _WORD.findall(title) if w.lower() not in _STOP]
        if not words:
            continue
        single.append((rng.choice(words), None))
        filtered.append((rng.choice(words), {"categorySlug": category}))
        if len(words) >= 2:
            size = rng.choice((2, 3)) if len(words) >= 3 else 2
            start = rng.randrange(len(words) - size + 1)
            multi.append((" ".join(words[start : start + size]), None))
    return {
        "single word": single[:requests],
        "multi-word": multi[:requests],
        "one word, in a category": filtered[:requests],
    }


async def _run(database_url: str, requests: int, seed: int) -> list[dict[str, Any]]:
    # One client sends everything: the limiter's check runs, with a budget it never spends.
    settings = Settings(database_url=database_url, rate_limit=BENCH_RATE_LIMIT, _env_file=None)  # type: ignore[call-arg]  # pydantic-settings init kwarg
    app = create_app(settings)
    engine = app.state.engine
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    rng = random.Random(seed)
    # Sampled through an engine of its own, without the served statement deadline: reading
    # every 50th title scans the table, longer than a request may take at a million.
    sampler = create_engine(database_url)
    async with create_sessionmaker(sampler)() as session:
        public = Article.is_public(utcnow())
        total = await session.scalar(select(func.count()).select_from(Article).where(public)) or 0
        # Every 50th public article: a spread sample without reading every title.
        titles = [
            (title, category)
            for title, category in await session.execute(
                select(Article.title, Category.slug)
                .join(Category, Category.id == Article.category_id)
                .where(public, Article.id % 50 == 7)
                .order_by(Article.id)
            )
        ]
    await sampler.dispose()
    queries = _queries(titles, requests, rng)
    results = []
    async with served(app) as client:
        for name, texts in queries.items():
            for text, search_filter in texts[:20]:  # fill caches and the statement cache
                variables = {"query": text, "filter": search_filter}
                await client.post("/graphql", json={"query": SEARCH_PAGE, "variables": variables})
            samples: list[float] = []
            matches: list[int] = []
            statements.clear()
            for text, search_filter in texts:
                variables = {"query": text, "filter": search_filter}
                payload = {"query": SEARCH_PAGE, "variables": variables}
                start = time.perf_counter()
                response = await client.post("/graphql", json=payload)
                samples.append((time.perf_counter() - start) * 1000)
                body = response.json()
                assert "errors" not in body, body
                matches.append(body["data"]["search"]["totalCount"])
            results.append(
                {
                    "queries": name,
                    "public": total,
                    "p50_ms": statistics.median(samples),
                    "p99_ms": percentile(samples, 0.99),
                    "max_ms": max(samples),
                    "matches_p50": statistics.median(matches),
                    "matches_max": max(matches),
                    "statements": len(statements) / len(texts),
                }
            )
    await engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    results = asyncio.run(
        _run(Settings(database_url=args.database_url).database_url, args.requests, args.seed)
    )
    print(f"({args.database_url}, {args.requests} requests per kind, first: 10, 1 client)")
    print(
        "| queries | public articles | p50 ms | p99 ms | max ms | totalCount p50"
        " | totalCount max | statements |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['queries']} | {r['public']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
            f"{r['max_ms']:.1f} | {r['matches_p50']:.0f} | {r['matches_max']} | "
            f"{r['statements']:.0f} |"
        )


if __name__ == "__main__":
    main()
