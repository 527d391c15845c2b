"""``masthead serve``'s access log: a line a request, written without a system call each
(flushed within a second, and at exit), and none at all with ``MASTHEAD_ACCESS_LOG=false``."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from pathlib import Path

import httpx

from masthead.server import BufferedStreamHandler
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


def test_lines_are_flushed_together_after_the_interval_and_at_close() -> None:
    stream = _CountedFlushes()
    handler = BufferedStreamHandler(stream, interval=0.2)
    logger = logging.Logger("access-test")
    logger.addHandler(handler)
    for number in range(100):
        logger.warning("request %d", number)
    assert stream.flushes == 0
    assert stream.getvalue().count("\n") == 100  # in the stream's buffer, unflushed
    deadline = time.monotonic() + 5
    while stream.flushes == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stream.flushes == 1
    logger.warning("the last one")
    handler.close()
    assert stream.flushes == 2
    assert stream.getvalue().splitlines()[-1] == "the last one"


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
