"""How uvicorn serves Masthead: the options ``masthead serve`` passes, and the HTTP protocol
that cuts off clients too slow to send a request's headers."""

from __future__ import annotations

import asyncio
from typing import TypedDict

from uvicorn.protocols.http.h11_impl import H11Protocol

from masthead.settings import Settings

__all__ = ["HeaderDeadlineProtocol", "ServerOptions", "server_options"]


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


class ServerOptions(TypedDict):
    """What ``masthead serve`` passes to uvicorn besides the app and where to listen."""

    http: type[asyncio.Protocol]
    timeout_keep_alive: int
    limit_concurrency: int
    proxy_headers: bool
    forwarded_allow_ips: str | None


def server_options(settings: Settings) -> ServerOptions:
    return ServerOptions(
        # h11 whatever else is installed (httptools, which uvicorn would rather take, has a
        # protocol of its own that this deadline does not cover).
        http=HeaderDeadlineProtocol,
        timeout_keep_alive=settings.header_timeout,
        limit_concurrency=settings.max_connections,
        # Forwarded headers only from the proxies named: anyone else could claim any address.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=settings.trusted_proxies or None,
    )
