"""The response cache under a steady stream of edits: hit ratio, latency of hits and misses,
and how soon after a write's acknowledgement every reader sees it.

    python bench/cache_under_writes.py --database-url URL [--workers 1] [--seconds 30] \
        [--readers 16] [--hot-set 200] [--writes-per-second 2]

Load a corpus first (``masthead db upgrade`` then ``masthead import FILE``; ``make bench``
leaves 10k databases behind). Starts ``masthead serve`` (response cache on, pinned to
``--server-cpus``) and, from this process (pinned to ``--load-cpus``):

- readers send anonymous GETs naming the reference operations by their persisted-query hash
  alone: ArticlePage over ``--hot-set`` articles, drawn by popularity (Zipf, s = 1.1, as
  news traffic is), Home, and CategoryPage over every category (8 : 1 : 1);
- an editor changes the title of one of the hot articles ``--writes-per-second`` times a
  second (``updateArticle``), and as soon as each change is acknowledged reads that
  article's page as the readers do: the time from the acknowledgement to that answer, and
  whether it showed the new title (every one must), are what "invalidation" means here,
  since the write's invalidation is committed with it.

Prints the hit ratio (the ``Masthead-Cache`` header), client-side latency of hits and
misses (p50 and p99; this client's own overhead included), and the invalidation figures.
A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.latency import BENCH_RATE_LIMIT, percentile
from bench.reference_requests import OPERATIONS, persisted_paths, samples
from bench.servers import Server, free_port
from db.engine import create_engine, create_sessionmaker
from masthead.settings import normalize_database_url
from resolvers.access.tokens import create_token
from resolvers.access.viewer import Role

_ROOT = Path(__file__).resolve().parent.parent
_ARTICLE = "query A($slug: String!) { article(slug: $slug) { id title version } }"
_EDIT = """
mutation Edit($id: ID!, $title: String!, $version: Int!) {
  updateArticle(id: $id, input: {title: $title}, expectedVersion: $version) {
    article { title version }
    errors { code message }
  }
}
"""


@dataclass
class _Tally:
    hits: list[float] = field(default_factory=list)
    misses: list[float] = field(default_factory=list)
    other: Counter[str] = field(default_factory=Counter)
    acknowledged_to_fresh: list[float] = field(default_factory=list)
    acknowledgements: list[float] = field(default_factory=list)
    stale: int = 0
    refused_writes: int = 0


def _zipf_weights(count: int, s: float = 1.1) -> list[float]:
    return [1 / (rank**s) for rank in range(1, count + 1)]


async def _token(database_url: str) -> str:
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            name = f"cache-under-writes-{secrets.token_hex(4)}"
            return await create_token(session, name=name, role=Role.EDITOR)
    finally:
        await engine.dispose()


def _page_path(slug: str) -> str:
    [path] = persisted_paths("ArticlePage", [{"slug": slug}], query=False)
    return path


async def _register(client: httpx.AsyncClient, paths: list[tuple[str, dict[str, Any]]]) -> None:
    """Each operation's hash registered (its query sent once per worker, on fresh
    connections), and each answer computed once."""
    for operation, variables in paths:
        [path] = persisted_paths(operation, [variables], query=True)
        answer = await client.get(path, headers={"connection": "close"})
        answer.raise_for_status()


async def _read(client: httpx.AsyncClient, path: str, tally: _Tally) -> httpx.Response:
    started = time.perf_counter()
    answer = await client.get(path)
    elapsed = 1000 * (time.perf_counter() - started)
    status = answer.headers.get("masthead-cache")
    if answer.status_code == 200 and status == "hit":
        tally.hits.append(elapsed)
    elif answer.status_code == 200 and status == "miss":
        tally.misses.append(elapsed)
    else:
        tally.other[f"{answer.status_code} {status}"] += 1
    return answer


async def _reader(
    client: httpx.AsyncClient,
    plan: list[str],
    weights: list[float],
    categories: list[str],
    tally: _Tally,
    stop: float,
    rng: random.Random,
) -> None:
    home = persisted_paths("Home", [{}], query=False)[0]
    category_paths = persisted_paths("CategoryPage", [{"slug": c} for c in categories], query=False)
    while time.monotonic() < stop:
        pick = rng.random()
        if pick < 0.8:
            path = rng.choices(plan, weights)[0]
        elif pick < 0.9:
            path = home
        else:
            path = rng.choice(category_paths)
        await _read(client, path, tally)


async def _editor(
    client: httpx.AsyncClient,
    token: str,
    slugs: list[str],
    per_second: float,
    tally: _Tally,
    stop: float,
    rng: random.Random,
) -> None:
    headers = {"authorization": f"Bearer {token}"}
    number = 0
    while time.monotonic() < stop:
        next_write = time.monotonic() + 1 / per_second
        slug = rng.choice(slugs)
        found = await client.post(
            "/graphql", json={"query": _ARTICLE, "variables": {"slug": slug}}, headers=headers
        )
        article = found.json()["data"]["article"]
        number += 1
        title = f"{article['title'].split(' [edit ')[0]} [edit {number}]"
        started = time.perf_counter()
        edited = await client.post(
            "/graphql",
            json={
                "query": _EDIT,
                "variables": {"id": article["id"], "title": title, "version": article["version"]},
            },
            headers=headers,
        )
        acknowledged = time.perf_counter()
        payload = edited.json()["data"]["updateArticle"]
        if payload["errors"]:
            tally.refused_writes += 1
        else:
            tally.acknowledgements.append(1000 * (acknowledged - started))
            answer = await _read(client, _page_path(slug), tally)
            tally.acknowledged_to_fresh.append(1000 * (time.perf_counter() - acknowledged))
            if answer.json()["data"]["article"]["title"] != title:
                tally.stale += 1
        await asyncio.sleep(max(0.0, next_write - time.monotonic()))


def _line(name: str, samples_ms: list[float]) -> str:
    if not samples_ms:
        return f"| {name} | 0 | — | — |"
    return (
        f"| {name} | {len(samples_ms):,} | {percentile(samples_ms, 0.5):.1f} "
        f"| {percentile(samples_ms, 0.99):.1f} |"
    )


async def _measure(args: argparse.Namespace, base: str, token: str) -> _Tally:
    found = await samples(args.database_url, args.hot_set, args.seed)
    slugs = found.articles
    weights = _zipf_weights(len(slugs))
    plan = [_page_path(slug) for slug in slugs]
    tally = _Tally()
    limits = httpx.Limits(max_connections=args.readers + 2, max_keepalive_connections=args.readers)
    async with httpx.AsyncClient(
        base_url=base, limits=limits, timeout=30, trust_env=False
    ) as client:
        registering: list[tuple[str, dict[str, Any]]] = [("Home", {})]
        registering += [("CategoryPage", {"slug": c}) for c in found.categories]
        registering += [("ArticlePage", {"slug": s}) for s in slugs]
        for _ in range(2 * args.workers):
            await _register(client, registering)
        stop = time.monotonic() + args.seconds
        rngs = [random.Random(args.seed + n) for n in range(args.readers + 1)]
        await asyncio.gather(
            *(
                _reader(client, plan, weights, found.categories, tally, stop, rngs[n])
                for n in range(args.readers)
            ),
            _editor(client, token, slugs, args.writes_per_second, tally, stop, rngs[-1]),
        )
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--readers", type=int, default=16)
    parser.add_argument("--hot-set", type=int, default=200)
    parser.add_argument("--writes-per-second", type=float, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--server-cpus", default="0")
    parser.add_argument("--load-cpus", default="1")
    parser.add_argument("--redis-url", help="MASTHEAD_REDIS_URL for the server (answers shared)")
    args = parser.parse_args()
    args.database_url = normalize_database_url(args.database_url)
    assert set(OPERATIONS) >= {"ArticlePage", "Home", "CategoryPage"}
    token = asyncio.run(_token(args.database_url))
    port = free_port()
    environment = {
        **os.environ,
        "MASTHEAD_DATABASE_URL": args.database_url,
        "MASTHEAD_RATE_LIMIT": str(BENCH_RATE_LIMIT),
        "MASTHEAD_RESPONSE_CACHE": "true",
        "MASTHEAD_SERVE_WORKER": "false",
    }
    if args.redis_url:
        environment["MASTHEAD_REDIS_URL"] = args.redis_url
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"cache-under-writes-{port}.log"
    command = [str(Path(sys.executable).parent / "masthead"), "serve", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(args.workers)]  # fmt: skip
    with Server(command, cpus=args.server_cpus, environment=environment, log=log, cwd=_ROOT) as s:
        s.wait_ready(f"http://127.0.0.1:{port}/readyz", workers=args.workers)
        os.sched_setaffinity(0, {int(cpu) for cpu in args.load_cpus.split(",")})
        tally = asyncio.run(_measure(args, f"http://127.0.0.1:{port}", token))
    answered = len(tally.hits) + len(tally.misses)
    print(
        f"{args.seconds:g} s, {args.workers} worker(s), {args.readers} readers, hot set "
        f"{args.hot_set} (Zipf 1.1), {args.writes_per_second:g} title edits a second"
        + (", answers shared in Redis" if args.redis_url else "")
    )
    print()
    print(f"hit ratio: {len(tally.hits) / max(answered, 1):.1%} of {answered:,} answers")
    if tally.other:
        print(f"other answers: {dict(tally.other)}")
    print()
    print("| | answers | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|")
    print(_line("hits", tally.hits))
    print(_line("misses", tally.misses))
    print(_line("edit, request to acknowledgement", tally.acknowledgements))
    print(_line("acknowledgement to the edited page's answer", tally.acknowledged_to_fresh))
    print()
    print(
        f"edits: {len(tally.acknowledged_to_fresh)} acknowledged, {tally.refused_writes} refused; "
        f"pages read right after an edit showing the old title: {tally.stale}"
    )
    return 1 if tally.stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
