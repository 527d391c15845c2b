"""What a response-cache miss costs over the same request with the cache off, in process.

    python bench/cache_miss_cost.py --database-url URL [--requests 300] [--slugs 300]

Served rows (``make bench``: ``GET uncached`` against ``every request a miss``) measure this
too, but a few percent drown in a shared machine's drift between rows. Here two apps run
in one process on one database: one with the response cache off, one with it on but unable
to keep anything (``MASTHEAD_RESPONSE_CACHE_MAX_BYTES=8``, so every request is a miss that
looks for its answer, computes it and tries to keep it). Each reference operation's GET (a
persisted query's hash, over ``--slugs`` article slugs) is sent to one app and then the
other, alternately, so drift hits both alike; the process's CPU time (the event loop and
the database driver's threads) is taken around each request. Prints, per operation, the
median CPU per request of each, the difference and the ratio (the in-process client's own
CPU is in both). A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.latency import BENCH_RATE_LIMIT, served
from bench.reference_requests import OPERATIONS, persisted_paths, samples
from masthead.app import create_app
from masthead.settings import Settings, normalize_database_url


async def _cpu_of(client: httpx.AsyncClient, path: str) -> float:
    started = time.process_time()
    answer = await client.get(path, headers={"accept-encoding": "identity"})
    spent = time.process_time() - started
    if answer.status_code != 200 or b'"errors"' in answer.content:
        raise RuntimeError(f"{path}: {answer.status_code} {answer.content[:300]!r}")
    return 1000 * spent


async def _measure(url: str, requests: int, slugs: int, seed: int) -> None:
    found = await samples(url, slugs, seed)

    def settings(**values: Any) -> Settings:
        return Settings(  # type: ignore[call-arg]  # pydantic-settings init kwarg
            _env_file=None,
            database_url=url,
            rate_limit=BENCH_RATE_LIMIT,
            serve_worker=False,
            **values,
        )

    off = create_app(settings(response_cache=False))
    missing = create_app(settings(response_cache=True, response_cache_max_bytes=8))
    print(
        "| operation | CPU ms / request, cache off | every request a miss | difference "
        "| miss / off |"
    )
    print("|---|---:|---:|---:|---:|")
    async with served(off) as plain, served(missing) as missed:
        for operation in OPERATIONS:
            variables = found.variables(operation)
            registering = persisted_paths(operation, variables, query=True)
            hashed = persisted_paths(operation, variables, query=False)
            for client in (plain, missed):  # registered, and related lists kept
                for path in registering:
                    await _cpu_of(client, path)
            costs: dict[str, list[float]] = {"off": [], "miss": []}
            for n in range(requests):
                path = hashed[n % len(hashed)]
                pair = [("off", plain), ("miss", missed)]
                for name, client in pair if n % 2 == 0 else reversed(pair):
                    costs[name].append(await _cpu_of(client, path))
            off_ms, miss_ms = (statistics.median(costs[name]) for name in ("off", "miss"))
            print(
                f"| {operation} | {off_ms:.2f} | {miss_ms:.2f} | {miss_ms - off_ms:+.2f} "
                f"| {miss_ms / off_ms:.3f} |"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--requests", type=int, default=300, help="per operation and app")
    parser.add_argument("--slugs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(
        _measure(normalize_database_url(args.database_url), args.requests, args.slugs, args.seed)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
