"""``masthead serve``'s access log: uvicorn's line a request, written without a system call
each (flushed within a second, and at exit), and none at all with
``MASTHEAD_ACCESS_LOG=false``."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import MutableMapping
from pathlib import Path

import httpx

from masthead.access_log import AccessLog
from masthead.app import create_app
from masthead.settings import Settings
from tests.support.served import served

_LINE = '"GET /healthz HTTP/1.1" 200'


class _CountedFlushes(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


async def test_lines_are_flushed_together_after_the_interval_and_at_shutdown(
    settings: Settings,
) -> None:
    stream = _CountedFlushes()
    app = create_app(settings)
    # Long enough for the 101 requests on a loaded machine, short enough for a test.
    logged = AccessLog(app, stream, interval=1.0)
    transport = httpx.ASGITransport(app=logged, client=("192.0.2.7", 5123))
    async with httpx.AsyncClient(transport=transport, base_url="http://masthead") as client:
        for _ in range(100):
            assert (await client.get("/healthz", params={"probe": "a b"})).status_code == 200
        assert (await client.get("/nowhere")).status_code == 404
    assert stream.flushes == 0
    lines = stream.getvalue().splitlines()  # in the stream's buffer, unflushed
    assert len(lines) == 101
    assert lines[0] == 'INFO:     192.0.2.7:5123 - "GET /healthz?probe=a+b HTTP/1.1" 200 OK'
    assert lines[-1] == 'INFO:     192.0.2.7:5123 - "GET /nowhere HTTP/1.1" 404 Not Found'
    async with asyncio.timeout(5):
        while stream.flushes == 0:
            await asyncio.sleep(0.05)
    assert stream.flushes == 1
    # The last lines, unflushed, are flushed when the server stops (the app's lifespan ends),
    # not waiting for the interval (made longer than the lifespan could take).
    logged.interval = 60.0
    async with httpx.AsyncClient(transport=transport, base_url="http://masthead") as client:
        await client.get("/healthz")
    events = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []

    async def receive() -> dict[str, str]:
        return next(events)

    async def send(message: MutableMapping[str, object]) -> None:
        sent.append(str(message["type"]))

    await logged({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert stream.flushes == 2
    assert stream.getvalue().count("\n") == 102


async def _lines(log: Path) -> int:
    return log.read_text(errors="replace").count(_LINE)


async def test_a_served_request_is_logged_within_a_second(
    settings: Settings, tmp_path: Path
) -> None:
    log = tmp_path / "serve.log"
    async with served({"MASTHEAD_DATABASE_URL": settings.database_url}, log) as url:
        async with httpx.AsyncClient(base_url=url, trust_env=False) as client:
            for _ in range(3):
                assert (await client.get("/healthz")).status_code == 200
        async with asyncio.timeout(5):
            while await _lines(log) < 3:
                await asyncio.sleep(0.1)
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=url, trust_env=False) as client:
            await client.get("/healthz")
        async with asyncio.timeout(5):
            while await _lines(log) < 4:
                await asyncio.sleep(0.05)
        assert time.monotonic() - started < 1.5
    assert await _lines(log) == 4


async def test_switched_off_no_request_is_logged(settings: Settings, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    environment = {"MASTHEAD_DATABASE_URL": settings.database_url, "MASTHEAD_ACCESS_LOG": "false"}
    async with (
        served(environment, log) as url,
        httpx.AsyncClient(base_url=url, trust_env=False) as client,
    ):
        assert (await client.get("/healthz")).status_code == 200
    text = log.read_text()
    assert "Uvicorn running" in text or "Application startup complete" in text
    assert "GET /" not in text
