"""Webhook delivery: latency from commit to receipt, and what a receiver failing for a while
sees.

    python bench/webhook_delivery.py --database-url sqlite+aiosqlite:///bench.db \
        [--events 50] [--fail-for 60]

The database must be migrated and hold no webhook. A real receiver (Starlette on uvicorn,
127.0.0.1) checks each signature. The app runs in-process, and the worker with the default
settings (``MASTHEAD_WEBHOOK_*``: poll every 0.5 s, first retry after 30 s, ...).

1. Latency: ``--events`` article updates, one at a time, each waited for at the receiver;
   commit = when the mutation's answer came back, receipt = when the receiver got it.
2. Failing receiver: it answers 500 for ``--fail-for`` seconds, then 200; one event is sent
   and every attempt's arrival is printed, until it is delivered. What the run creates is
   deleted afterwards. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import delete

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.latency import percentile
from db.models import ApiToken, Article, Author, Category, Webhook
from masthead.app import create_app
from masthead.event_worker import running_worker
from masthead.settings import Settings
from resolvers.access.tokens import create_token
from resolvers.access.viewer import Role
from resolvers.global_ids import encode_global_id
from tests.support.factories import make_article, make_author, make_category
from tests.support.receiver import receiver

UPDATE = """
mutation($id: ID!, $title: String!) {
  updateArticle(id: $id, input: {title: $title}) { errors { code } }
}"""
CREATE_WEBHOOK = """
mutation($url: String!) {
  createWebhook(input: {url: $url, events: [ARTICLE_UPDATED]}) { secret errors { code } }
}"""


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--fail-for", type=float, default=60.0)
    args = parser.parse_args()
    settings = Settings(database_url=args.database_url, serve_worker=False, rate_limit=0)
    app = create_app(settings)
    sessionmaker = app.state.sessionmaker
    async with sessionmaker.begin() as session:
        secret = await create_token(session, name="bench-webhooks", role=Role.ADMIN)
    headers = {"Authorization": f"Bearer {secret}"}
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    article = await make_article(sessionmaker, author=author, category=category)
    article_id = encode_global_id("Article", article.id)
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://bench") as http,
            receiver() as hook,
            running_worker(settings, sessionmaker),
        ):
            created = await http.post(
                "/graphql",
                json={"query": CREATE_WEBHOOK, "variables": {"url": hook.url}},
                headers=headers,
            )
            hook.secret = created.json()["data"]["createWebhook"]["secret"]
            latencies = []
            for n in range(args.events):
                await http.post(
                    "/graphql",
                    json={"query": UPDATE, "variables": {"id": article_id, "title": f"T{n}"}},
                    headers=headers,
                )
                committed = time.time()
                await hook.wait_for(n + 1)
                latencies.append((hook.received[-1].at - committed) * 1000)
            assert hook.bad_signatures == 0
            print(
                f"commit -> receipt over {args.events} events: "
                f"p50 {statistics.median(latencies):.0f} ms, "
                f"p99 {percentile(latencies, 0.99):.0f} ms, max {max(latencies):.0f} ms"
            )
            before = len(hook.received)
            hook.then = 500
            started = time.time()
            await http.post(
                "/graphql",
                json={"query": UPDATE, "variables": {"id": article_id, "title": "failing"}},
                headers=headers,
            )

            async def recover() -> None:
                await asyncio.sleep(args.fail_for)
                hook.then = 200

            recovering = asyncio.create_task(recover())
            while True:
                await hook.wait_for(len(hook.received) + 1, timeout=600)
                last = hook.received[-1]
                answered = 500 if last.at - started < args.fail_for else 200
                print(
                    f"  attempt {len(hook.received) - before} at +{last.at - started:5.1f} s, "
                    f"event {last.event_id}, answered {answered}"
                )
                if answered == 200:
                    break
            await recovering
            ids = {r.event_id for r in hook.received[before:]}
            print(
                f"receiver failing for {args.fail_for:.0f} s: "
                f"one event id over all attempts: {len(ids) == 1}"
            )
    finally:
        async with sessionmaker.begin() as session:
            await session.execute(delete(Webhook))
            await session.execute(delete(ApiToken).where(ApiToken.name == "bench-webhooks"))
            await session.execute(delete(Article).where(Article.id == article.id))
            await session.execute(delete(Author).where(Author.id == author.id))
            await session.execute(delete(Category).where(Category.id == category.id))
        await app.state.engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
