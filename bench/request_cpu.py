"""CPU per request of the three reference operations, in process, one request at a time.

    python bench/request_cpu.py --database-url postgresql+asyncpg://postgres@127.0.0.1/bench \
        [--requests 800] [--rounds 2]

Load a corpus first (``masthead db upgrade`` then ``masthead import FILE``). Uncached POSTs
go through the real ASGI app (httpx's ASGI transport, no sockets, no uvloop), rotating over
200 public article slugs or every category; the process's CPU time (``time.process_time``,
all threads) is divided by the requests. It includes httpx's client side (about 1 ms a
request) and none of the database server's. With no load generator and no server process
beside it, it tells changes of 5-10% apart where served figures on two cores cannot
(``bench/results/per_request.md``). A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.latency import BENCH_RATE_LIMIT
from bench.reference_requests import OPERATIONS, samples
from masthead.app import close, create_app
from masthead.settings import Settings, normalize_database_url

_WARM_UP = 30


async def _run(database_url: str, requests: int, rounds: int) -> dict[str, list[float]]:
    drawn = await samples(database_url, 200, seed=1)
    settings = Settings(  # type: ignore[call-arg]  # pydantic-settings init kwarg
        database_url=database_url,
        rate_limit=BENCH_RATE_LIMIT,
        serve_worker=False,
        access_log=False,
        _env_file=None,
    )
    app = create_app(settings)
    cpu: dict[str, list[float]] = {name: [] for name in OPERATIONS}
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for _ in range(rounds):
                for name, document in OPERATIONS.items():
                    bodies = [
                        {"query": document, "variables": variables, "operationName": name}
                        for variables in drawn.variables(name)
                    ]
                    for i in range(_WARM_UP):
                        answer = await client.post("/graphql", json=bodies[i % len(bodies)])
                        if answer.status_code != 200 or "errors" in answer.json():
                            raise SystemExit(f"{name}: {answer.text[:300]}")
                    gc.collect()
                    gc.freeze()  # as the served app does after start-up
                    start = time.process_time()
                    for i in range(requests):
                        await client.post("/graphql", json=bodies[i % len(bodies)])
                    cpu[name].append((time.process_time() - start) / requests * 1000)
                    gc.unfreeze()
    finally:
        await close(app)
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--requests", type=int, default=800)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    cpu = asyncio.run(_run(normalize_database_url(args.database_url), args.requests, args.rounds))
    print("| operation | CPU ms per request (each round) |")
    print("|---|---|")
    for name, figures in cpu.items():
        print(f"| {name} | {' / '.join(f'{f:.2f}' for f in figures)} |")


if __name__ == "__main__":
    main()
