"""The database going away, through a real TCP proxy: fast 503s, then recovery by itself.

PostgreSQL only: SQLite is a file, with no connection to cut.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from masthead.app import create_app
from masthead.settings import Settings
from resolvers.access.viewer import Role
from tests.support.auth import bearer
from tests.support.databases import admin_execute
from tests.support.tcp_proxy import TcpProxy

QUERY = {"query": "{ tags { totalCount } }"}
# Every deadline is under 2 s: a request that needs the database fails within that.
WITHIN = 2.0


@dataclass
class Outage:
    proxy: TcpProxy
    client: httpx.AsyncClient
    token: dict[str, str]


@pytest.fixture
async def outage(postgres_url: str | None) -> AsyncIterator[Outage]:
    if postgres_url is None:
        pytest.skip("PostgreSQL is not reachable (set MASTHEAD_TEST_POSTGRES_URL)")
    await admin_execute(postgres_url, "TRUNCATE api_tokens RESTART IDENTITY CASCADE")
    host = postgres_url.split("@", 1)[1].split("/", 1)[0]
    target_host, _, target_port = host.partition(":")
    proxy = TcpProxy(target_host, int(target_port or 5432))
    await proxy.start()
    url = postgres_url.replace(f"@{host}/", f"@127.0.0.1:{proxy.port}/")
    # The defaults find a partition in about 1.8 s; a little less leaves room for a busy CI.
    settings = Settings(
        database_url=url,
        db_statement_timeout=1.0,
        db_connect_timeout=1.0,
        _env_file=None,  # type: ignore[call-arg]  # pydantic-settings init kwarg
    )
    app = create_app(settings)
    sessionmaker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    token = await bearer(sessionmaker, Role.EDITOR)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Outage(proxy, client, token)
    proxy.heal()
    await app.state.engine.dispose()
    await proxy.stop()


async def _timed(client: httpx.AsyncClient, **headers: str) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = await client.post("/graphql", json=QUERY, headers=headers)
    return response, time.perf_counter() - started


async def _assert_unavailable(outage: Outage) -> None:
    for headers in ({}, outage.token):
        response, took = await _timed(outage.client, **headers)
        assert took < WITHIN, took
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1"
        codes = {error["extensions"]["code"] for error in response.json()["errors"]}
        assert codes <= {"SERVICE_UNAVAILABLE", "TIMEOUT"}, codes
    started = time.perf_counter()
    ready = await outage.client.get("/readyz")
    assert time.perf_counter() - started < WITHIN
    assert ready.status_code == 503


async def _assert_answering(outage: Outage) -> None:
    for headers in ({}, outage.token):
        response, _ = await _timed(outage.client, **headers)
        assert response.status_code == 200, response.text
        assert response.json()["data"] == {"tags": {"totalCount": 0}}
    assert (await outage.client.get("/readyz")).status_code == 200


@pytest.mark.parametrize("cut", ["hard cut", "partition"])
async def test_an_outage_fails_fast_and_heals_by_itself(outage: Outage, cut: str) -> None:
    await _assert_answering(outage)  # connections in the pool, then the outage
    if cut == "hard cut":
        outage.proxy.cut()
    else:
        outage.proxy.partition()
    await _assert_unavailable(outage)
    await _assert_unavailable(outage)  # and again: nothing is left hanging
    outage.proxy.heal()
    if cut == "partition":
        outage.proxy.cut()  # the connections that hung are dropped, as a partition's end does
        outage.proxy.heal()
    await _assert_answering(outage)


async def test_connections_closed_by_a_restart_never_fail_a_request(outage: Outage) -> None:
    await _assert_answering(outage)
    # Every pooled connection is now dead, the database reachable again: a restart.
    outage.proxy.cut()
    outage.proxy.heal()
    await _assert_answering(outage)
