"""``masthead serve`` in a process of its own, as an operator runs it: for tests of several
processes sharing one database and one Redis."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from tests.support.cli import ROOT

__all__ = ["served"]

_START_TIMEOUT = 30


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def served(environment: Mapping[str, str], log: Path) -> AsyncIterator[str]:
    """The base URL of a ``masthead serve`` started with ``environment`` (its ``MASTHEAD_``
    variables, none inherited), logging to ``log``; stopped when the block ends."""
    port = _free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("MASTHEAD_")}
    env.update(environment)
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "masthead.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=output,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, trust_env=False) as client:
            async with asyncio.timeout(_START_TIMEOUT):
                while True:
                    if process.returncode is not None:
                        raise RuntimeError(f"masthead serve stopped:\n{log.read_text()}")
                    try:
                        if (await client.get("/readyz")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.1)
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                async with asyncio.timeout(10):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
