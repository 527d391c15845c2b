"""uvicorn serving the app on a free port of 127.0.0.1, in the test's own event loop, with
the options ``masthead serve`` gives it: real sockets, real HTTP parsing, real deadlines."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TextIO

import uvicorn
from starlette.applications import Starlette

from masthead.access_log import AccessLog
from masthead.app import create_app
from masthead.server import server_options
from masthead.settings import Settings

__all__ = ["LiveServer", "live_server"]


@dataclass(frozen=True)
class LiveServer:
    app: Starlette
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@asynccontextmanager
async def live_server(
    settings: Settings,
    *,
    http: type[asyncio.Protocol] | None = None,
    access_log: TextIO | None = None,
) -> AsyncIterator[LiveServer]:
    """The app made from ``settings``, served until the block ends (its lifespan closes it);
    ``http`` replaces the HTTP protocol ``masthead serve`` uses; the access log (as
    ``masthead serve`` writes it, unless the settings switch it off) goes to ``access_log``
    (by default nowhere).

    Logging is left as the test has it (no uvicorn log config), so that ``caplog`` sees
    uvicorn's records too."""
    app = create_app(settings)
    options = server_options(settings)
    options["log_config"] = None
    if http is not None:
        options["http"] = http
    served = AccessLog(app, access_log or io.StringIO()) if settings.access_log else app
    config = uvicorn.Config(served, **options)
    server = uvicorn.Server(config)
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        port: int = listening.getsockname()[1]
        serving = asyncio.ensure_future(server.serve(sockets=[listening]))
        async with asyncio.timeout(10):
            while not server.started:
                if serving.done():
                    serving.result()  # startup failed: say why
                    raise RuntimeError("uvicorn stopped before it started")
                await asyncio.sleep(0.01)
        try:
            yield LiveServer(app, port)
        finally:
            server.should_exit = True
            await serving
