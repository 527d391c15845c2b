"""``masthead serve``'s access log: uvicorn's line for every HTTP request, at a fraction of
its cost.

uvicorn writes its access log through ``logging``: a record, a copy of it for the
formatter, the status colouring, the handler's lock, about 30 us of CPU a line in a loop
and 90 us a request served (measured on cache hits, whose own work is about 0.2 ms:
``bench/results/response_cache.md``). Here the same line (``INFO:     host:port - "GET
/path?query HTTP/1.1" 200 OK``) is one f-string written to the stream's own buffer, and
the stream is flushed ``interval`` seconds after the first line not yet flushed, from the
event loop (no thread), and when the server stops. A crash loses at most that last
fraction of a second of lines. WebSocket connections are not logged here (uvicorn's
websockets protocol logs their handshakes itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http
import sys
import urllib.parse
from typing import TextIO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["AccessLog"]


@functools.lru_cache(maxsize=1024)
def _quoted(path: str) -> str:
    return urllib.parse.quote(path)


@functools.lru_cache(maxsize=128)
def _status(status: int) -> str:
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} "


def access_line(scope: Scope, status: int) -> str:
    """uvicorn's access-log line for a request (its format, without colours)."""
    client = scope.get("client")
    address = f"{client[0]}:{client[1]}" if client else ""
    path = _quoted(scope["path"])
    if scope["query_string"]:
        path = f"{path}?{scope['query_string'].decode('ascii', 'backslashreplace')}"
    return (
        f'INFO:     {address} - "{scope["method"]} {path} HTTP/{scope["http_version"]}" '
        f"{_status(status)}\n"
    )


class AccessLog:
    """ASGI middleware writing :func:`access_line` for every HTTP response to ``stream``
    (standard output by default), flushed within ``interval`` seconds and at shutdown."""

    def __init__(self, app: ASGIApp, stream: TextIO | None = None, interval: float = 0.5) -> None:
        self.app = app
        self._stream = stream
        self.interval = interval
        self._flushing: asyncio.TimerHandle | None = None

    @property
    def stream(self) -> TextIO:
        # Looked up when written: standard output may be replaced after the app is made.
        return self._stream if self._stream is not None else sys.stdout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            try:
                await self.app(scope, receive, send)
            finally:
                self.flush()
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.write(access_line(scope, message["status"]))
            await send(message)

        await self.app(scope, receive, send_logged)

    def write(self, line: str) -> None:
        self.stream.write(line)
        if self._flushing is None:
            self._flushing = asyncio.get_running_loop().call_later(self.interval, self.flush)

    def flush(self) -> None:
        if self._flushing is not None:
            self._flushing.cancel()
            self._flushing = None
        # Standard output closed or gone: nothing to keep the lines for.
        with contextlib.suppress(OSError, ValueError):
            self.stream.flush()
