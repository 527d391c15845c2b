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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.latency import percentile
from bench.webhook_site import webhook_site

UPDATE = """
mutation($id: ID!, $title: String!) {
  updateArticle(id: $id, input: {title: $title}) { errors { code } }
}"""
PUBLISH = """mutation($id: ID!) { publishArticle(id: $id) { errors { code } } }"""


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--fail-for", type=float, default=60.0)
    args = parser.parse_args()
    async with webhook_site(args.database_url, ["ARTICLE_UPDATED"]) as site:
        hook = site.hook
        # Public, so that each update fires article.updated; publishing fires no event the
        # webhook takes.
        article_id = await site.draft("Delivered")
        await site.graphql(PUBLISH, {"id": article_id})
        latencies = []
        for n in range(args.events):
            await site.graphql(UPDATE, {"id": article_id, "title": f"T{n}"})
            committed = time.time()
            await hook.wait_for(n + 1)
            latencies.append((hook.arrivals[-1].at - committed) * 1000)
        print(
            f"commit -> receipt over {args.events} events: "
            f"p50 {statistics.median(latencies):.0f} ms, "
            f"p99 {percentile(latencies, 0.99):.0f} ms, max {max(latencies):.0f} ms"
        )
        before = len(hook.arrivals)
        hook.status = 500
        started = time.time()
        await site.graphql(UPDATE, {"id": article_id, "title": "failing"})

        async def recover() -> None:
            await asyncio.sleep(args.fail_for)
            hook.status = 200

        recovering = asyncio.create_task(recover())
        while True:
            await hook.wait_for(len(hook.arrivals) + 1, timeout=600)
            last = hook.arrivals[-1]
            answered = 500 if last.at - started < args.fail_for else 200
            print(
                f"  attempt {len(hook.arrivals) - before} at +{last.at - started:5.1f} s, "
                f"event {last.event_id}, answered {answered}"
            )
            if answered == 200:
                break
        await recovering
        ids = {r.event_id for r in hook.arrivals[before:]}
        print(
            f"receiver failing for {args.fail_for:.0f} s: "
            f"one event id over all attempts: {len(ids) == 1}"
        )


if __name__ == "__main__":
    asyncio.run(main())
