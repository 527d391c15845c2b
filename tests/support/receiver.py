"""A real webhook receiver: a Starlette app served by uvicorn on 127.0.0.1, in the test's
event loop. It checks each delivery's signature as a receiver would, counts what it got,
and answers as the test tells it to (2xx, an error status, a redirect, or not at all)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["Received", "Receiver", "receiver", "verified"]

TOLERANCE = 300  # seconds: older signatures are refused, as the SPEC tells receivers


def verified(secret: str, header: str, body: bytes, *, now: float | None = None) -> bool:
    """The receiver's check: ``t=...,v1=...`` is the HMAC of ``"<t>.<body>"`` and recent."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    fresh = abs((now or time.time()) - timestamp) <= TOLERANCE
    return fresh and hmac.compare_digest(expected, parts["v1"])


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when it arrived

    @property
    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    @property
    def event_id(self) -> str:
        return self.headers["masthead-event-id"]


@dataclass
class Receiver:
    port: int
    secret: str = ""
    # Answers to give, in order, then ``then``: a status code, "hang" (never answer) or
    # "redirect" (302 to /elsewhere).
    script: list[int | str] = field(default_factory=list)
    then: int | str = 200
    received: list[Received] = field(default_factory=list)
    bad_signatures: int = 0
    elsewhere_hits: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def wait_for(self, count: int, timeout: float = 30) -> None:
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()


@asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver(port=0)

    async def hook(request: Request) -> Response:
        body = await request.body()
        headers = {key.lower(): value for key, value in request.headers.items()}
        if state.secret and not verified(state.secret, headers["masthead-signature"], body):
            state.bad_signatures += 1
        state.received.append(Received(headers, body, time.time()))
        state.arrived.set()
        answer = state.script.pop(0) if state.script else state.then
        if answer == "hang":
            await asyncio.sleep(3600)
        if answer == "redirect":
            return Response(status_code=302, headers={"Location": "/elsewhere"})
        assert isinstance(answer, int)
        return Response(status_code=answer)

    async def elsewhere(_request: Request) -> Response:
        state.elsewhere_hits += 1
        return Response(status_code=200)

    app = Starlette(
        routes=[
            Route("/hook", hook, methods=["POST"]),
            Route("/elsewhere", elsewhere, methods=["POST", "GET"]),
        ]
    )
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off"))
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        state.port = listening.getsockname()[1]
        serving = asyncio.ensure_future(server.serve(sockets=[listening]))
        async with asyncio.timeout(10):
            while not server.started:
                await asyncio.sleep(0.01)
        try:
            yield state
        finally:
            server.should_exit = True
            server.force_exit = True
            await serving
