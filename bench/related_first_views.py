"""Computing one article's kept related list: in score tiers, or by looking at every candidate.

    python bench/related_first_views.py --database-url postgresql://.../bench [--articles 80]

Load a corpus first. For random articles whose posting lists are long enough to be ranked
in tiers (``resolvers.articles.related_lists.TIERED_FROM``), times both statements that can
compute the list (the tiered one with its posting-list count) and checks that they give
the same rows. Nothing is written. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.latency import percentile
from db.engine import create_engine, create_sessionmaker
from db.models import Article
from masthead.settings import Settings
from resolvers.articles import related_lists

_KEEP = related_lists.KEPT


async def _run(database_url: str, articles: int, seed: int) -> dict[str, list[float]]:
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    rng = random.Random(seed)
    tiered = related_lists._tiered_statement(_KEEP)
    whole = related_lists._candidates_statement(_KEEP)
    counted = related_lists._posting_rows_statement()
    samples: dict[str, list[float]] = {"tiers": [], "every candidate": [], "posting rows": []}
    async with sessionmaker() as session:
        top = await session.scalar(select(func.max(Article.id)))
        assert top is not None, "load a corpus first"
        for _ in range(articles * 100):  # a small corpus may have few long posting lists
            if len(samples["tiers"]) == articles:
                break
            article_id = rng.randint(1, top)
            start = time.perf_counter()
            rows = await session.scalar(counted, {"article_id": article_id}) or 0
            counting = (time.perf_counter() - start) * 1000
            if rows < related_lists.TIERED_FROM:
                continue
            start = time.perf_counter()
            in_tiers = (await session.execute(tiered, {"article_id": article_id})).all()
            samples["tiers"].append(counting + (time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            by_all = (await session.execute(whole, {"article_ids": [article_id]})).all()
            samples["every candidate"].append((time.perf_counter() - start) * 1000)
            samples["posting rows"].append(rows)
            assert [tuple(r) for r in in_tiers] == [tuple(r) for r in by_all], article_id
    await engine.dispose()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--articles", type=int, default=80)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    url = Settings(database_url=args.database_url).database_url
    samples = asyncio.run(_run(url, args.articles, args.seed))
    rows = samples.pop("posting rows")
    if not rows:
        sys.exit(f"no article has {related_lists.TIERED_FROM} posting-list rows or more")
    median, longest = statistics.median(rows), max(rows)
    print(f"| statement | p50 ms | p90 ms | p99 ms |  ({args.database_url}, {len(rows)} articles,")
    print(f"|---|---:|---:|---:|  posting rows p50 {median:.0f}, max {longest:.0f})")
    for name, values in samples.items():
        print(
            f"| {name} | {statistics.median(values):.1f} | {percentile(values, 0.9):.1f} | "
            f"{percentile(values, 0.99):.1f} |"
        )


if __name__ == "__main__":
    main()
