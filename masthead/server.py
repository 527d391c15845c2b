"""How uvicorn serves Masthead: the options ``masthead serve`` passes, the HTTP protocol
that cuts off clients too slow to send a request's headers, and the logging it is given."""

from __future__ import annotations

import asyncio
import copy
from typing import Any, TypedDict

from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from masthead.settings import Settings

__all__ = [
    "HeaderDeadlineProtocol",
    "HttpToolsHeaderDeadlineProtocol",
    "ServerOptions",
    "server_options",
]


class HeaderDeadlineProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol (h11), whose keep-alive timer is also a deadline for a
    request's headers.

    uvicorn arms that timer only once an answer is sent, and disarms it at the first byte
    that comes in after, so a connection that sends nothing, or a byte now and then, is held
    for ever. Here it is armed as the connection opens too, and only a request's complete
    head disarms it: a connection has ``timeout_keep_alive`` seconds from its opening, or
    from the previous answer, to send a request's headers, however it trickles them. Bytes
    of a body still arriving after its answer (one sent early: a deadline, a refusal) count
    toward the next request, so they do not hold the connection either.

    It relies on these internals of ``H11Protocol``, pinned by
    ``tests/app/test_slow_clients.py``: ``data_received`` disarms the timer
    (``_unset_keepalive_if_required``), then calls ``self.conn.receive_data`` and
    ``self.handle_events``; ``handle_events`` disarms it at an ``h11.Request``;
    ``on_response_complete`` arms it; the timer is ``timeout_keep_alive_task``, firing
    ``timeout_keep_alive_handler``.
    """

    # The transport narrowed to asyncio.Transport, as uvicorn's own does.
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def data_received(self, data: bytes) -> None:
        # uvicorn's own, less disarming the timer: a byte that comes in buys no time.
        self.conn.receive_data(data)
        self.handle_events()


class HttpToolsHeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (its C parser, several times cheaper per request than
    h11) with the same header deadline as :class:`HeaderDeadlineProtocol`.

    uvicorn disarms the timer through ``_unset_keepalive_if_required`` as bytes come in
    (``data_received``) and when an answer is complete or the connection is lost; here only
    a request's complete head (``on_headers_complete``), a complete answer (which then arms
    it again) and the connection's end disarm it. Pinned by ``tests/app/test_slow_clients.py``.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def _unset_keepalive_if_required(self) -> None:
        """A byte that comes in buys no time: uvicorn's own calls disarm nothing."""

    def _disarm(self) -> None:
        HttpToolsProtocol._unset_keepalive_if_required(self)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        self._disarm()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def log_config() -> dict[str, Any]:
    """uvicorn's own logging (its formats, levels, streams); its access log is not used
    (``masthead.access_log`` writes the same lines for less)."""
    return copy.deepcopy(LOGGING_CONFIG)


class ServerOptions(TypedDict):
    """What ``masthead serve`` passes to uvicorn besides the app and where to listen."""

    http: type[asyncio.Protocol]
    access_log: bool
    log_config: dict[str, Any] | None
    loop: str
    timeout_keep_alive: int
    limit_concurrency: int
    proxy_headers: bool
    forwarded_allow_ips: str | None
    ws: str
    ws_max_size: int


def server_options(settings: Settings) -> ServerOptions:
    return ServerOptions(
        # The C parser and event loop of uvicorn's standard extras (installed with Masthead):
        # the HTTP layer's share of a request's CPU.
        http=HttpToolsHeaderDeadlineProtocol,
        # Written by masthead.access_log.AccessLog around the app instead, at a third of
        # the cost (masthead.app.create_served_app).
        access_log=False,
        log_config=log_config(),
        loop="uvloop",
        timeout_keep_alive=settings.header_timeout,
        limit_concurrency=settings.max_connections,
        # Forwarded headers only from the proxies named: anyone else could claim any address.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or None,
        # Subscriptions (graphql-transport-ws) through the websockets package, one of
        # uvicorn's standard extras; a message no bigger than a request's body may be.
        ws="websockets-sansio",
        ws_max_size=settings.max_body_bytes,
    )
