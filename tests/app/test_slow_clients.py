"""Slow clients are cut off: a live uvicorn, as ``masthead serve`` runs it, and raw sockets.

A connection has ``MASTHEAD_HEADER_TIMEOUT`` seconds, from its opening or from its previous
answer, to send a request's headers, however it trickles them; a body has until
``MASTHEAD_REQUEST_TIMEOUT`` (503 ``TIMEOUT``), after which the connection gets the header
deadline again. Meanwhile everyone else is served."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import shutil
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from masthead.server import HeaderDeadlineProtocol, HttpToolsHeaderDeadlineProtocol, server_options
from masthead.settings import Settings
from tests.support.live_server import LiveServer, live_server

HEADER_TIMEOUT = 1
REQUEST_TIMEOUT = 2.0
# How late a cut-off may come on a busy machine.
SLACK = 1.0

QUERY = json.dumps({"query": "{ tags { totalCount } }"}).encode()
HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
HEALTHY = b'{"status":"ok"}'
POST = (
    b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n" % len(QUERY)
)


# ``masthead serve`` takes httptools; the h11 protocol is there for where it is missing.
@pytest.fixture(
    params=[HttpToolsHeaderDeadlineProtocol, HeaderDeadlineProtocol], ids=["httptools", "h11"]
)
async def server(
    tmp_path: Path, sqlite_template: Path, request: pytest.FixtureRequest
) -> AsyncIterator[LiveServer]:
    shutil.copy(sqlite_template, tmp_path / "masthead.db")
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'masthead.db'}",
        header_timeout=HEADER_TIMEOUT,
        request_timeout=REQUEST_TIMEOUT,
        _env_file=None,  # type: ignore[call-arg]  # pydantic-settings init kwarg
    )
    async with live_server(settings, http=request.param) as served:
        yield served


class _Connection:
    """A raw connection to the server, and bytes trickling out on it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.trickling: list[asyncio.Future[None]] = []

    def trickle(self, data: bytes) -> None:
        """``data`` a byte at a time, five a second: each well inside the header deadline."""

        async def send() -> None:
            for byte in data:
                await asyncio.sleep(0.2)
                self.writer.write(bytes([byte]))
                try:
                    await self.writer.drain()
                except OSError:  # cut off
                    return

        self.trickling.append(asyncio.ensure_future(send()))


@contextlib.asynccontextmanager
async def _connection(server: LiveServer) -> AsyncIterator[_Connection]:
    connection = _Connection(*await asyncio.open_connection("127.0.0.1", server.port))
    try:
        yield connection
    finally:
        for trickling in connection.trickling:
            trickling.cancel()
        connection.writer.close()
        with contextlib.suppress(OSError):
            await connection.writer.wait_closed()


async def _until_closed(reader: asyncio.StreamReader) -> bytes:
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := await reader.read(65536):
            received += chunk
    return received


async def _served_meanwhile(server: LiveServer, until: asyncio.Future[bytes]) -> int:
    """Requests answered, each at once, while ``until`` is not done."""
    answered = 0
    async with httpx.AsyncClient(base_url=server.url) as client:
        while not until.done():
            started = time.monotonic()
            health = await client.get("/healthz")
            query = await client.post("/graphql", content=QUERY, headers=_JSON)
            assert health.status_code == query.status_code == 200
            assert query.json()["data"] == {"tags": {"totalCount": 0}}
            assert time.monotonic() - started < 0.5
            answered += 2
            await asyncio.sleep(0.1)
    return answered


_JSON = {"content-type": "application/json"}

# What a slow client sends at once, then a byte at a time, and how long the server holds it.
SLOW_CLIENTS = {
    "sending nothing": (b"", b"", HEADER_TIMEOUT),
    "trickling its headers": (HEAD, b"X-Slow: " + b"x" * 100, HEADER_TIMEOUT),
    "stalling in its headers": (HEAD + b"X-Slow: x", b"", HEADER_TIMEOUT),
    # The deadline runs again from the answer: a body never finished holds nothing either.
    "stalling in its body": (POST + QUERY[:10], b"", REQUEST_TIMEOUT + HEADER_TIMEOUT),
    "trickling its body": (POST + QUERY[:10], b" " * 100, REQUEST_TIMEOUT + HEADER_TIMEOUT),
}


@pytest.mark.parametrize(("sent", "trickled", "held"), SLOW_CLIENTS.values(), ids=SLOW_CLIENTS)
async def test_a_slow_client_is_cut_off_while_others_are_served(
    server: LiveServer, sent: bytes, trickled: bytes, held: float
) -> None:
    async with _connection(server) as connection:
        started = time.monotonic()
        connection.writer.write(sent)
        connection.trickle(trickled)
        closed = asyncio.ensure_future(_until_closed(connection.reader))
        async with asyncio.timeout(held + 2 * SLACK):
            answered = await _served_meanwhile(server, closed)
            received = await closed
        took = time.monotonic() - started
    assert held - 0.1 < took < held + SLACK, took
    assert answered >= 4
    if held > HEADER_TIMEOUT:  # a body: the request deadline answered it first
        assert received.startswith(b"HTTP/1.1 503 "), received
        assert b'"code":"TIMEOUT"' in received
    else:
        assert received == b""


async def test_the_deadline_runs_again_after_each_answer(server: LiveServer) -> None:
    async with _connection(server) as connection:
        for _ in range(3):  # a connection kept alive serves request after request
            connection.writer.write(HEAD + b"\r\n")
            head = await connection.reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 "), head
            assert await connection.reader.readexactly(len(HEALTHY)) == HEALTHY
        answered = time.monotonic()
        connection.trickle(HEAD + b"X-Slow: " + b"x" * 100)
        async with asyncio.timeout(HEADER_TIMEOUT + 2 * SLACK):
            assert await _until_closed(connection.reader) == b""
        took = time.monotonic() - answered
    assert HEADER_TIMEOUT - 0.1 < took < HEADER_TIMEOUT + SLACK, took


async def test_a_slow_body_within_the_request_deadline_is_answered(server: LiveServer) -> None:
    """The header deadline is for headers: a body may take longer, up to the request's."""
    async with _connection(server) as connection:
        connection.writer.write(POST[:20])
        await asyncio.sleep(HEADER_TIMEOUT / 2)
        connection.writer.write(POST[20:])
        third = len(QUERY) // 3 + 1
        for start in range(0, len(QUERY), third):
            await asyncio.sleep(HEADER_TIMEOUT * 0.4)  # longer, in all, than the header deadline
            connection.writer.write(QUERY[start : start + third])
        async with asyncio.timeout(REQUEST_TIMEOUT):
            head = await connection.reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head


def _body(method: Callable[..., object]) -> list[str]:
    """The lines of ``method`` after its ``def``, stripped."""
    source = textwrap.dedent(inspect.getsource(method))
    return [line.strip() for line in source.splitlines()[1:] if line.strip()]


def test_the_uvicorn_internals_relied_on_are_as_they_were() -> None:
    """``HeaderDeadlineProtocol`` replaces ``H11Protocol.data_received`` and arms its
    keep-alive timer: when uvicorn changes these, this fails, and the protocol needs a look."""
    assert _body(H11Protocol.data_received) == [
        "self._unset_keepalive_if_required()",
        "self.conn.receive_data(data)",
        "self.handle_events()",
    ]
    assert _body(HeaderDeadlineProtocol.data_received)[-2:] == [
        "self.conn.receive_data(data)",
        "self.handle_events()",
    ]
    request_branch = _body(H11Protocol.handle_events)
    request_branch = request_branch[request_branch.index("elif isinstance(event, h11.Request):") :]
    code = [line for line in request_branch[1:] if not line.startswith("#")]
    assert code[0] == "self._unset_keepalive_if_required()"
    assert _body(H11Protocol._unset_keepalive_if_required) == [
        "if self.timeout_keep_alive_task is not None:",
        "self.timeout_keep_alive_task.cancel()",
        "self.timeout_keep_alive_task = None",
    ]
    assert "self.timeout_keep_alive_task = self.loop.call_later(" in "\n".join(
        _body(H11Protocol.on_response_complete)
    )
    assert "self.transport.close()" in _body(H11Protocol.timeout_keep_alive_handler)


def test_masthead_serve_takes_the_httptools_protocol() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]  # pydantic-settings init kwarg
    assert server_options(settings)["http"] is HttpToolsHeaderDeadlineProtocol


def test_the_httptools_internals_relied_on_are_as_they_were() -> None:
    """``HttpToolsHeaderDeadlineProtocol`` turns uvicorn's disarming into a no-op and
    disarms where a request's head or an answer completes: when uvicorn changes where it
    disarms or arms the timer, this fails, and the protocol needs a look."""
    assert _body(HttpToolsProtocol.data_received)[0] == "self._unset_keepalive_if_required()"
    callers = [
        name
        for name, method in vars(HttpToolsProtocol).items()
        if callable(method)
        and name != "_unset_keepalive_if_required"
        and "self._unset_keepalive_if_required()" in _body(method)
    ]
    assert sorted(callers) == ["connection_lost", "data_received", "on_response_complete"]
    assert _body(HttpToolsProtocol._unset_keepalive_if_required) == [
        "if self.timeout_keep_alive_task is not None:",
        "self.timeout_keep_alive_task.cancel()",
        "self.timeout_keep_alive_task = None",
    ]
    assert "self.timeout_keep_alive_task = self.loop.call_later(" in "\n".join(
        _body(HttpToolsProtocol.on_response_complete)
    )
    assert "self.transport.close()" in _body(HttpToolsProtocol.timeout_keep_alive_handler)
