"""How late a scheduled publish fires ``article.published``: from ``publishAt`` to the
receiver's receipt, over ``--articles`` publishes scheduled a few seconds ahead.

    python bench/scheduled_publish_lateness.py --database-url sqlite+aiosqlite:///bench.db \
        [--articles 20]

The database must be migrated and hold no webhook. The app runs in-process with its worker
(the default settings: it looks every 0.5 s); a real receiver on 127.0.0.1 checks the
signatures. Publishes are scheduled 3 s ahead, 0.25 s apart. What the run creates is deleted
afterwards. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from datetime import UTC, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.webhook_site import webhook_site
from db.models import utcnow

PUBLISH = """
mutation($id: ID!, $at: DateTime) { publishArticle(id: $id, publishAt: $at) { errors { code } } }"""


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--articles", type=int, default=20)
    args = parser.parse_args()
    async with webhook_site(args.database_url, ["ARTICLE_PUBLISHED"]) as site:
        drafts = [await site.draft(f"Scheduled {n}") for n in range(args.articles)]
        start = utcnow() + timedelta(seconds=3)
        due: dict[str, float] = {}
        for n, article_id in enumerate(drafts):
            at = (start + timedelta(seconds=0.25 * n)).replace(tzinfo=UTC)
            due[article_id] = at.timestamp()
            await site.graphql(PUBLISH, {"id": article_id, "at": at.isoformat()})
        await site.hook.wait_for(len(drafts), timeout=120)
        late = [(a.at - due[a.payload["data"]["article"]["id"]]) * 1000 for a in site.hook.arrivals]
        print(
            f"scheduled publish -> article.published received, over {len(late)}: "
            f"p50 {statistics.median(late):.0f} ms, max {max(late):.0f} ms, "
            f"min {min(late):.0f} ms"
        )


if __name__ == "__main__":
    asyncio.run(main())
