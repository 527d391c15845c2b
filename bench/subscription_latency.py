"""Subscription fan-out across two processes: from a publish sent to one `masthead serve` to
its `articlePublished` message at a subscriber of another, and how late a scheduled publish
reaches a subscriber.

    python bench/subscription_latency.py --database-url postgresql://postgres@127.0.0.1/subs
    python bench/subscription_latency.py --database-url sqlite:////tmp/subs.db \\
        --redis-url redis://127.0.0.1:6379/0

The database is migrated and given one author, one category and the drafts it publishes
(an empty one is best: the drafts are added to whatever it holds). SQLite needs Redis to
carry announcements between processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.latency import percentile
from bench.servers import Server, free_port
from db.engine import create_engine, create_sessionmaker
from db.migration import upgrade
from db.models import Article, ArticleStatus, Author, Category, utcnow
from masthead.settings import normalize_database_url
from resolvers.access.tokens import create_token
from resolvers.access.viewer import Role
from resolvers.global_ids import encode_global_id

_ROOT = Path(__file__).resolve().parent.parent
_PUBLISH = """
mutation P($id: ID!, $at: DateTime) {
  publishArticle(id: $id, publishAt: $at) { errors { message } }
}
"""
_SERVE = [sys.executable, "-m", "masthead.cli", "serve", "--host", "127.0.0.1"]
_SUBSCRIBE = "subscription { articlePublished { slug } }"


async def _drafts(url: str, count: int) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """``count`` new drafts in a category and by an author of their own, and an editor's
    token."""
    run = uuid.uuid4().hex[:8]
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine).begin() as session:
            author = Author(name=f"Bench {run}", slug=f"bench-{run}", bio="", avatar_url=None)
            category = Category(name=f"Bench {run}", slug=f"bench-{run}", description=None)
            session.add_all([author, category])
            await session.flush()
            drafts = [
                Article(
                    slug=f"bench-{run}-{number}",
                    title=f"Bench {number}",
                    status=ArticleStatus.DRAFT.value,
                    author_id=author.id,
                    category_id=category.id,
                )
                for number in range(count)
            ]
            session.add_all(drafts)
            await session.flush()
            secret = await create_token(session, name=f"bench-{run}", role=Role.EDITOR)
            found = [(encode_global_id("Article", d.id), d.slug) for d in drafts]
    finally:
        await engine.dispose()
    return found, {"Authorization": f"Bearer {secret}"}


async def _measure(args: argparse.Namespace, url: str, urls: list[str]) -> None:
    drafts, token = await _drafts(url, args.publishes + args.scheduled)
    ws_url = urls[0].replace("http://", "ws://") + "/graphql"
    async with (
        connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws,  # type: ignore[list-item]  # a Subprotocol is a str
        httpx.AsyncClient(base_url=urls[1], headers=token, trust_env=False) as http,
    ):
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        await ws.recv()
        subscribe = {"query": _SUBSCRIBE}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
        await asyncio.sleep(0.5)

        async def arrival(slug: str) -> float:
            while True:
                message = json.loads(await ws.recv())
                if message.get("type") == "next":
                    got = message["payload"]["data"]["articlePublished"]["slug"]
                    if got == slug:
                        return time.perf_counter()

        fan_out = []
        for global_id, slug in drafts[: args.publishes]:
            started = time.perf_counter()
            body = {"query": _PUBLISH, "variables": {"id": global_id}}
            answer = (await http.post("/graphql", json=body)).json()
            assert answer["data"]["publishArticle"]["errors"] == [], answer
            fan_out.append((await arrival(slug) - started) * 1000)
        late = []
        for global_id, slug in drafts[args.publishes :]:
            instant = utcnow() + timedelta(seconds=args.delay)
            at = instant.isoformat() + "Z"
            body = {"query": _PUBLISH, "variables": {"id": global_id, "at": at}}
            answer = (await http.post("/graphql", json=body)).json()
            assert answer["data"]["publishArticle"]["errors"] == [], answer
            await arrival(slug)
            late.append((utcnow() - instant).total_seconds() * 1000)
    print(
        f"publish in process B -> subscriber of process A, {len(fan_out)} publishes: "
        f"p50 {percentile(fan_out, 0.5):.1f} ms, p99 {percentile(fan_out, 0.99):.1f} ms, "
        f"max {max(fan_out):.1f} ms"
    )
    if late:
        print(
            f"scheduled publish, {len(late)} at +{args.delay:g} s: late by "
            f"p50 {percentile(late, 0.5):.0f} ms, max {max(late):.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--redis-url")
    parser.add_argument("--publishes", type=int, default=100)
    parser.add_argument("--scheduled", type=int, default=20)
    parser.add_argument("--delay", type=float, default=2.0, help="seconds ahead each is scheduled")
    args = parser.parse_args()
    url = normalize_database_url(args.database_url)
    upgrade(url)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MASTHEAD_")}
    environment |= {"MASTHEAD_DATABASE_URL": url, "MASTHEAD_RATE_LIMIT": "0"}
    if args.redis_url:
        environment |= {
            "MASTHEAD_REDIS_URL": args.redis_url,
            "MASTHEAD_REDIS_NAMESPACE": f"bench-{uuid.uuid4().hex[:8]}",
        }
    logs = Path(tempfile.mkdtemp(prefix="subscription-latency-"))
    ports = [free_port(), free_port()]
    servers = [
        Server(
            [
                sys.executable,
                "-m",
                "masthead.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(p),
            ],
            cpus="0-1",
            environment=environment,
            log=logs / f"{name}.log",
            cwd=_ROOT,
        )
        for name, p in zip("ab", ports, strict=True)
    ]
    try:
        urls = [f"http://127.0.0.1:{p}" for p in ports]
        for server, base in zip(servers, urls, strict=True):
            server.wait_ready(base + "/readyz")
        asyncio.run(_measure(args, url, urls))
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    main()
