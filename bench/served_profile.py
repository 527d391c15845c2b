"""Where a served worker's CPU goes, per reference operation, under load.

    python bench/served_profile.py --database-url postgresql://postgres@127.0.0.1/bench \
        [--seconds 15] [--connections 32] [--server-cpu 0] [--load-cpu 1]

Load a corpus first (``masthead db upgrade`` then ``masthead import FILE``). Starts
``masthead serve`` (one worker, pinned to ``--server-cpu``), drives each reference operation
with wrk (pinned to ``--load-cpu``, POST bodies rotating over slugs drawn from the database)
and samples the worker with py-spy meanwhile. Prints, per operation, req/s, latency, the
worker's CPU per request (from ``/proc``) and the sampled CPU broken down by layer: HTTP,
parsing, validation, limits, execution, Masthead's resolvers, loaders and SQL,
serialization. Needs ``wrk`` (``apt-get install wrk``) and ``py-spy`` (a dev dependency; it
attaches with ptrace, so run as root or with ``kernel.yama.ptrace_scope = 0``). A
benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from db.engine import create_engine, create_sessionmaker
from db.models import Article, Category, utcnow
from masthead.examples import ARTICLE_PAGE, CATEGORY_PAGE, HOME
from masthead.settings import normalize_database_url

# wrk: POST the bodies of a file (one JSON document per line) in turn; count answers that
# are not a 200 or hold "errors".
_LUA = """
local bodies, n, errors = {}, 0, 0
function init(args)
  for line in io.lines(args[1]) do
    bodies[#bodies + 1] = wrk.format("POST", nil, {["Content-Type"] = "application/json"}, line)
  end
end
function request() n = n % #bodies + 1; return bodies[n] end
function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then errors = errors + 1 end
end
function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d p50=%.3f p99=%.3f bad=%d\\n", summary.requests,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors))
end
"""

# A sample is charged to the first of these layers that any frame of its stack belongs to:
# a resolver waiting on SQLAlchemy is SQL, graphql-core's visitor called by validation is
# validation, and everything runs inside the event loop.
# py-spy names a frame "function (path/relative/to/its/root.py:line)".
_LAYERS: list[tuple[str, re.Pattern[str]]] = [
    ("loaders and SQL (SQLAlchemy, driver)", re.compile(r"\((asyncpg|sqlalchemy|aiosqlite)/")),
    ("serialization (JSON)", re.compile(r"\(json/encoder\.py|\(orjson|\(json/__init__")),
    ("limits (schema/limits.py)", re.compile(r"\(schema/limits\.py")),
    ("validation", re.compile(r"\(graphql/validation/")),
    ("parsing", re.compile(r"\(graphql/language/(parser|lexer)\.py")),
    ("DataLoader", re.compile(r"\(strawberry/dataloader\.py")),
    ("Masthead resolvers and types", re.compile(r"\((schema|resolvers|db)/")),
    ("execution (graphql-core, Strawberry)", re.compile(r"\((graphql|strawberry)/")),
    (
        # masthead/cli.py is at the root of every stack (it starts uvicorn): not a layer.
        "HTTP (uvicorn, Starlette, middleware)",
        re.compile(r"\((uvicorn/protocols|starlette|h11|httptools|masthead/(?!cli))"),
    ),
    # What is left: the loop itself, sockets, uvloop's and httptools' C code.
    ("event loop and sockets (asyncio, uvloop)", re.compile(r"\(")),
]
_OTHER = "other"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _slugs(database_url: str, count: int, seed: int) -> tuple[list[str], list[str]]:
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            articles = list(
                await session.scalars(select(Article.slug).where(Article.is_public(utcnow())))
            )
            categories = list(await session.scalars(select(Category.slug)))
    finally:
        await engine.dispose()
    return random.Random(seed).sample(articles, min(count, len(articles))), categories


def _bodies(directory: Path, articles: list[str], categories: list[str]) -> dict[str, Path]:
    operations = {
        "ArticlePage": [
            json.dumps({"query": ARTICLE_PAGE, "variables": {"slug": s}}) for s in articles
        ],
        "Home": [json.dumps({"query": HOME})],
        "CategoryPage": [
            json.dumps({"query": CATEGORY_PAGE, "variables": {"slug": s}}) for s in categories
        ],
    }
    paths = {}
    for name, lines in operations.items():
        paths[name] = directory / f"{name}.jsonl"
        paths[name].write_text("\n".join(lines) + "\n")
    return paths


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wrk(
    url: str, lua: Path, bodies: Path, seconds: int, connections: int, cpu: int
) -> dict[str, float]:
    command = [
        "taskset", "-c", str(cpu), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
        "-s", str(lua), url, "--", str(bodies),
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    found = re.search(r"RESULT requests=(\d+) p50=([\d.]+) p99=([\d.]+) bad=(\d+)", output)
    if found is None:
        raise RuntimeError(f"wrk said:\n{output}")
    requests, p50, p99, bad = found.groups()
    return {"requests": int(requests), "p50": float(p50), "p99": float(p99), "bad": int(bad)}


def _layer(stack: list[str]) -> str:
    for name, pattern in _LAYERS:
        if any(pattern.search(frame) for frame in stack):
            return name
    return _OTHER


def _layers(collapsed: Path) -> collections.Counter[str]:
    """Samples per layer, from py-spy's collapsed stacks (``frame;frame;... count``)."""
    totals: collections.Counter[str] = collections.Counter()
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if count.isdigit():  # a frame's name may hold a line break: skip the pieces
            totals[_layer(stack.split(";"))] += int(count)
    return totals


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("masthead serve exited")
        try:
            if httpx.get(url.replace("/graphql", "/readyz"), timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("masthead serve did not become ready")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--load-cpu", type=int, default=1)
    parser.add_argument("--operations", default="ArticlePage,Home,CategoryPage")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stacks", type=Path, help="keep py-spy's collapsed stacks here")
    args = parser.parse_args()
    for tool in ("wrk", "py-spy", "taskset"):
        if shutil.which(tool) is None and not (Path(sys.executable).parent / tool).exists():
            parser.error(f"{tool} is not installed")
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    database_url = normalize_database_url(args.database_url)
    articles, categories = asyncio.run(_slugs(database_url, 1000, args.seed))
    port = _free_port()
    url = f"http://127.0.0.1:{port}/graphql"
    environment = {
        **os.environ,
        "MASTHEAD_DATABASE_URL": database_url,
        # The limiter stays on (its check is part of every request) but never refuses.
        "MASTHEAD_RATE_LIMIT": "1000000000",
    }
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        lua = directory / "post.lua"
        lua.write_text(_LUA)
        bodies = _bodies(directory, articles, categories)
        server = subprocess.Popen(
            ["taskset", "-c", str(args.server_cpu), sys.executable, "-m", "masthead.cli", "serve",
             "--host", "127.0.0.1", "--port", str(port)],
            env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            _wait_ready(url, server)
            print("| operation | req/s | p50 ms | p99 ms | bad | worker CPU ms/request |")
            print("|---|---|---|---|---|---|")
            breakdowns: dict[str, collections.Counter[str]] = {}
            for name in args.operations.split(","):
                _wrk(url, lua, bodies[name], args.warmup, args.connections, args.load_cpu)
                collapsed = directory / f"{name}.txt"
                spy = subprocess.Popen(
                    [py_spy, "record", "--pid", str(server.pid), "--duration", str(args.seconds),
                     "--rate", "250", "--format", "raw", "--nonblocking",
                     "--output", str(collapsed)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                before = _cpu_seconds(server.pid)
                result = _wrk(url, lua, bodies[name], args.seconds, args.connections, args.load_cpu)
                cpu = _cpu_seconds(server.pid) - before
                spy.wait(timeout=args.seconds + 30)
                rate = result["requests"] / args.seconds
                per_request = 1000 * cpu / max(1, result["requests"])
                print(
                    f"| {name} | {rate:.0f} | {result['p50']:.1f} | {result['p99']:.1f} | "
                    f"{result['bad']} | {per_request:.2f} |"
                )
                breakdowns[name] = _layers(collapsed)
                if args.stacks is not None:
                    args.stacks.mkdir(parents=True, exist_ok=True)
                    shutil.copy(collapsed, args.stacks / collapsed.name)
            print()
            names = list(breakdowns)
            print("| layer (share of sampled worker CPU) | " + " | ".join(names) + " |")
            print("|---|" + "---|" * len(names))
            layers = [name for name, _ in _LAYERS] + [_OTHER]
            for layer in layers:
                shares = []
                for name in names:
                    total = sum(breakdowns[name].values()) or 1
                    shares.append(f"{100 * breakdowns[name][layer] / total:.0f}%")
                print(f"| {layer} | " + " | ".join(shares) + " |")
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
