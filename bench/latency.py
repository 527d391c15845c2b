"""What the benchmarks share: percentiles of latency samples (milliseconds), and a client
for the app as it is served."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette

__all__ = ["BENCH_RATE_LIMIT", "percentile", "served"]

# A rate-limit budget no benchmark spends, so the limiter is measured but never refuses.
BENCH_RATE_LIMIT = 10**12


def percentile(samples: list[float], q: float) -> float:
    """The sample at quantile ``q`` (nearest rank), e.g. ``q=0.99`` for p99."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@asynccontextmanager
async def served(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client for ``app`` in-process, inside the app's lifespan as uvicorn runs it."""
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
    ):
        yield client
