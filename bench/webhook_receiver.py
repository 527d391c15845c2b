"""The webhook benchmarks' receiver: a Starlette app on uvicorn at 127.0.0.1, in the
benchmark's event loop. It notes when each POST arrived, checks its signature and answers
with ``status``."""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from resolvers.events.delivery import signature

__all__ = ["Arrival", "Receiver", "webhook_receiver"]


@dataclass(frozen=True)
class Arrival:
    at: float  # time.time() when its body was read
    event_id: str
    payload: dict[str, Any]


@dataclass
class Receiver:
    url: str = ""
    secret: str = ""  # the webhook's, given once it is created
    status: int = 200  # the answer to every POST
    arrivals: list[Arrival] = field(default_factory=list)
    bad_signatures: int = 0
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def wait_for(self, count: int, timeout: float = 30) -> None:
        """Until ``count`` POSTs have arrived since the start."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.arrivals) >= count)

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        at = time.time()
        if not self._signed(request.headers.get("Masthead-Signature", ""), body):
            self.bad_signatures += 1
        async with self._arrived:
            self.arrivals.append(
                Arrival(at, request.headers["Masthead-Event-Id"], orjson.loads(body))
            )
            self._arrived.notify_all()
        return Response(status_code=self.status)

    def _signed(self, header: str, body: bytes) -> bool:
        # The sender's own function: a benchmark needs only to know that every delivery came
        # signed with the secret over the bytes received; tests/events check the scheme itself.
        timestamp = header.removeprefix("t=").partition(",")[0]
        expected = signature(self.secret, int(timestamp), body) if timestamp.isdigit() else ""
        return bool(self.secret) and hmac.compare_digest(header, expected)


@asynccontextmanager
async def webhook_receiver() -> AsyncIterator[Receiver]:
    """A receiver listening on a free port, stopped on the way out."""
    receiver = Receiver()
    app = Starlette(routes=[Route("/hook", receiver.receive, methods=["POST"])])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="off", log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        receiver.url = f"http://127.0.0.1:{port}/hook"
        yield receiver
    finally:
        server.should_exit = True
        await serving
