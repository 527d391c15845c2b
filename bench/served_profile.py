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
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.latency import BENCH_RATE_LIMIT
from bench.load_generator import require_wrk, run_wrk, write_requests
from bench.reference_requests import bodies, samples
from bench.servers import ProcessWatch, Server, free_port
from masthead.settings import normalize_database_url

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
    # The executor (schema/execution.py) is on every stack of execution: it is execution.
    ("Masthead resolvers and types", re.compile(r"\((schema/(?!execution\.py)|resolvers/|db/)")),
    (
        "execution (graphql-core, Strawberry)",
        re.compile(r"\((graphql|strawberry)/|\(schema/execution\.py"),
    ),
    (
        # masthead/cli.py is at the root of every stack (it starts uvicorn): not a layer.
        "HTTP (uvicorn, Starlette, middleware)",
        re.compile(r"\((uvicorn/protocols|starlette|h11|httptools|masthead/(?!cli))"),
    ),
    # What is left: the loop itself, sockets, uvloop's and httptools' C code.
    ("event loop and sockets (asyncio, uvloop)", re.compile(r"\(")),
]
_OTHER = "other"


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
    require_wrk()
    if shutil.which("py-spy") is None and not (Path(sys.executable).parent / "py-spy").exists():
        parser.error("py-spy is not installed")
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    database_url = normalize_database_url(args.database_url)
    found = asyncio.run(samples(database_url, 1000, args.seed))
    port = free_port()
    url = f"http://127.0.0.1:{port}/graphql"
    environment = {
        **os.environ,
        "MASTHEAD_DATABASE_URL": database_url,
        # The limiter stays on (its check is part of every request) but never refuses.
        "MASTHEAD_RATE_LIMIT": str(BENCH_RATE_LIMIT),
    }
    load_cpu = str(args.load_cpu)
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        requests = {
            name: write_requests(directory / f"{name}.jsonl", bodies(name, found.variables(name)))
            for name in args.operations.split(",")
        }
        command = [sys.executable, "-m", "masthead.cli", "serve", "--host", "127.0.0.1",
                   "--port", str(port)]  # fmt: skip
        with Server(
            command,
            cpus=str(args.server_cpu),
            environment=environment,
            log=directory / "serve.log",
            cwd=directory,
        ) as server:
            server.wait_ready(url.replace("/graphql", "/readyz"))
            print("| operation | req/s | p50 ms | p99 ms | bad | worker CPU ms/request |")
            print("|---|---|---|---|---|---|")
            breakdowns: dict[str, collections.Counter[str]] = {}
            for name, bodies_file in requests.items():
                run_wrk(url, bodies_file, seconds=args.warmup, connections=args.connections,
                        cpus=load_cpu)  # fmt: skip
                collapsed = directory / f"{name}.txt"
                spy = subprocess.Popen(
                    [py_spy, "record", "--pid", str(server.pid), "--duration", str(args.seconds),
                     "--rate", "250", "--format", "raw", "--nonblocking",
                     "--output", str(collapsed)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                with ProcessWatch(server) as watch:
                    result = run_wrk(url, bodies_file, seconds=args.seconds,
                                     connections=args.connections, cpus=load_cpu)  # fmt: skip
                spy.wait(timeout=args.seconds + 30)
                per_request = 1000 * watch.cpu_seconds / max(1, result.requests)
                print(
                    f"| {name} | {result.rate:.0f} | {result.p50_ms:.1f} | {result.p99_ms:.1f} | "
                    f"{result.errors} | {per_request:.2f} |"
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
