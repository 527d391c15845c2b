"""graphql-http's server audits (GraphQL over HTTP, MUSTs and SHOULDs) against a live
uvicorn serving Masthead. The audits are an npm package: ``npm ci --prefix tests/http_audit``
installs them (``.ci/run`` does); without them the test is skipped."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from db.migration import upgrade
from tests.support.cli import ROOT

AUDIT = ROOT / "tests" / "http_audit"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    upgrade(url)
    port = _free_port()
    env = {**os.environ, "MASTHEAD_DATABASE_URL": url}
    server = subprocess.Popen(
        [sys.executable, "-m", "masthead.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}/graphql"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_every_graphql_over_http_audit_passes(served: str) -> None:
    node = shutil.which("node")
    if node is None or not (AUDIT / "node_modules" / "graphql-http").is_dir():
        pytest.skip("graphql-http is not installed: npm ci --prefix tests/http_audit")
    result = subprocess.run(
        [node, str(AUDIT / "audit.mjs"), served],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("0 audits not ok")
