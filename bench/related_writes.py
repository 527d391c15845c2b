"""Writes to a loaded corpus with kept related lists: publish, retag, unpublish (p50/p99).

    python bench/related_writes.py --database-url sqlite+aiosqlite:///bench.db \
        [--requests 200] [--kept 2000]

Load a corpus first. The kept related lists are forgotten, then computed for ``--kept``
random articles (as their first views would), so that each write has kept lists to keep
up. Each write goes through the real ASGI app in-process with an editor token, on a
random public article of the corpus, and what it changes is put back by the next: publish
a minute earlier, then back at its time; retag with one more tag of the corpus, then with
its own tags; unpublish, then publish at its time. Every pair is measured. A benchmark,
not a test: it leaves the corpus as it found it, less the kept lists, which it forgets.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import delete, event, func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.latency import BENCH_RATE_LIMIT, percentile, served
from db.models import ApiToken, Article, ArticleTag, RelatedList, utcnow
from masthead.app import create_app
from masthead.settings import Settings
from resolvers.access.tokens import create_token
from resolvers.access.viewer import Role
from resolvers.articles import related_lists
from resolvers.global_ids import encode_global_id

PUBLISH = """
mutation Publish($id: ID!, $at: DateTime) {
  publishArticle(id: $id, publishAt: $at) { errors { code } }
}
"""
UNPUBLISH = "mutation Unpublish($id: ID!) { unpublishArticle(id: $id) { errors { code } } }"
RETAG = """
mutation Retag($id: ID!, $tags: [ID!]!) {
  updateArticle(id: $id, input: {tagIds: $tags}) { errors { code } }
}
"""


async def _run(database_url: str, requests: int, kept: int, seed: int) -> list[dict[str, Any]]:
    settings = Settings(database_url=database_url, rate_limit=BENCH_RATE_LIMIT, _env_file=None)  # type: ignore[call-arg]  # pydantic-settings init kwarg
    app = create_app(settings)
    engine = app.state.engine
    sessionmaker = app.state.sessionmaker
    rng = random.Random(seed)
    run = uuid.uuid4().hex[:8]
    async with sessionmaker.begin() as session:
        await related_lists.forget_all(session)
        secret = await create_token(session, name=f"bench-{run}", role=Role.EDITOR)
    headers = {"Authorization": f"Bearer {secret}"}
    async with sessionmaker() as session:
        top = await session.scalar(select(func.max(Article.id)))
        assert top is not None, "load a corpus first"
        popular = list(
            await session.scalars(
                select(ArticleTag.tag_id)
                .group_by(ArticleTag.tag_id)
                .order_by(func.count().desc())
                .limit(5)
            )
        )
    now = utcnow()
    # Random ids of the corpus, public ones for the writes.
    sources = rng.sample(range(1, top + 1), kept)
    async with sessionmaker() as session:
        candidates = list(
            await session.execute(
                select(Article.id, Article.published_at).where(
                    Article.id.in_(rng.sample(range(1, top + 1), requests * 3)),
                    Article.is_public(now),
                )
            )
        )
    targets = candidates[: requests + 10]
    started = time.perf_counter()
    for i in range(0, len(sources), 10):
        async with sessionmaker() as session:
            await related_lists.kept_related_posts(
                session, sessionmaker, article_ids=sources[i : i + 10], first=5, now=now
            )
    computing = time.perf_counter() - started
    async with sessionmaker() as session:
        lists = await session.scalar(select(func.count()).select_from(RelatedList))
    print(f"{lists} kept lists computed in {computing:.1f} s", file=sys.stderr)

    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    samples: dict[str, list[float]] = {}
    counts: dict[str, int] = {}

    async def send(
        client: httpx.AsyncClient, name: str, query: str, variables: dict[str, Any]
    ) -> None:
        before = len(statements)
        start = time.perf_counter()
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        samples.setdefault(name, []).append((time.perf_counter() - start) * 1000)
        counts[name] = counts.get(name, 0) + len(statements) - before
        body = response.json()
        assert "errors" not in body, body
        (payload,) = body["data"].values()
        assert payload["errors"] == [], payload

    try:
        async with served(app) as client:
            for n, (article_id, published_at) in enumerate(targets):
                gid = encode_global_id("Article", article_id)
                at = published_at.replace(tzinfo=UTC)
                async with sessionmaker() as session:
                    own = list(
                        await session.scalars(
                            select(ArticleTag.tag_id).where(ArticleTag.article_id == article_id)
                        )
                    )
                extra = next((t for t in popular if t not in own), popular[0])
                own_ids = [encode_global_id("Tag", t) for t in own]
                more_ids = [*own_ids, encode_global_id("Tag", extra)]
                earlier = (at - timedelta(minutes=1)).isoformat()
                steps = [
                    ("publish (a minute earlier)", PUBLISH, {"at": earlier}),
                    ("publish (back at its time)", PUBLISH, {"at": at.isoformat()}),
                    ("retag (one more tag)", RETAG, {"tags": more_ids}),
                    ("retag (its own tags)", RETAG, {"tags": own_ids}),
                    ("unpublish", UNPUBLISH, {}),
                    ("publish (at its time)", PUBLISH, {"at": at.isoformat()}),
                ]  # fmt: skip
                for name, query, variables in steps:
                    await send(client, name, query, {"id": gid, **variables})
                if n == 9:  # the first ten warm caches and connections
                    samples.clear()
                    counts.clear()
    finally:
        async with sessionmaker.begin() as session:
            await session.execute(delete(ApiToken).where(ApiToken.name == f"bench-{run}"))
            await related_lists.forget_all(session)
        await engine.dispose()
    return [
        {
            "operation": name,
            "p50_ms": statistics.median(values),
            "p99_ms": percentile(values, 0.99),
            "statements": counts[name] / len(values),
        }
        for name, values in samples.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--kept", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    url = Settings(database_url=args.database_url).database_url
    results = asyncio.run(_run(url, args.requests, args.kept, args.seed))
    print(f"| write | p50 ms | p99 ms | statements |  ({args.database_url})")
    print("|---|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['operation']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['statements']:.0f} |"
        )


if __name__ == "__main__":
    main()
