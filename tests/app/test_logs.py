"""What a live server logs never holds an API token: not its access log, not its error log,
not at DEBUG, whether the token is good, revoked or unknown, the request answered, refused
or failed inside."""

from __future__ import annotations

import asyncio
import io
import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from masthead.settings import Settings
from resolvers.access.tokens import TOKEN_PREFIX, create_token, revoke_token
from resolvers.access.viewer import Role
from tests.support.live_server import LiveServer, live_server

TAGS = "{ tags { totalCount } }"
DELETE_TAG = 'mutation { deleteTag(id: "VGFnOjE") { deletedId } }'
_FORMAT = logging.Formatter("%(name)s %(levelname)s %(message)s")


async def _tokens(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[str, str, str]:
    """A good token, a revoked one and one never issued."""
    async with sessionmaker.begin() as session:
        good = await create_token(session, name="good", role=Role.ADMIN)
        revoked = await create_token(session, name="revoked", role=Role.ADMIN)
    async with sessionmaker.begin() as session:
        await revoke_token(session, "revoked")
    return good, revoked, TOKEN_PREFIX + secrets.token_urlsafe(32)


@asynccontextmanager
async def _table_renamed(
    sessionmaker: async_sessionmaker[AsyncSession], table: str
) -> AsyncIterator[None]:
    """Every query on ``table`` fails in the database while the block runs."""
    async with sessionmaker.begin() as session:
        await session.execute(text(f"ALTER TABLE {table} RENAME TO {table}_gone"))
    try:
        yield
    finally:
        async with sessionmaker.begin() as session:
            await session.execute(text(f"ALTER TABLE {table}_gone RENAME TO {table}"))


async def _raw(server: LiveServer, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(request)
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return answer


def _logged(records: list[logging.LogRecord]) -> Iterator[str]:
    """Everything a handler could write of each record, tracebacks and extras included."""
    for record in records:
        yield _FORMAT.format(record)
        yield repr(record.args)
        yield repr(vars(record))


async def test_no_token_is_ever_logged(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    access_log = io.StringIO()
    async with live_server(settings, access_log=access_log) as server:
        sessionmaker: async_sessionmaker[AsyncSession] = server.app.state.sessionmaker
        good, revoked, unknown = await _tokens(sessionmaker)
        async with httpx.AsyncClient(base_url=server.url) as client:
            for token in (good, revoked, unknown):
                bearer = {"authorization": f"Bearer {token}"}
                posted = await client.post("/graphql", json={"query": TAGS}, headers=bearer)
                got = await client.get("/graphql", params={"query": TAGS}, headers=bearer)
                assert posted.status_code == got.status_code == 200
                assert (token == good) == ("errors" not in got.json())
                refused = await client.get(
                    "/graphql",
                    params={"query": TAGS},
                    headers={**bearer, "accept": "application/graphql-response+json"},
                )
                assert refused.status_code == (200 if token == good else 401)
                mutation = await client.get(
                    "/graphql", params={"query": DELETE_TAG}, headers=bearer
                )
                assert mutation.status_code == (405 if token == good else 200)
                unparsable = await client.post(
                    "/graphql",
                    content=b"{" + token.encode(),
                    headers={**bearer, "content-type": "application/json"},
                )
                assert unparsable.status_code == (400 if token == good else 200)
                other_scheme = await client.get(
                    "/graphql", params={"query": TAGS}, headers={"authorization": f"Token {token}"}
                )
                assert other_scheme.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            good_bearer = {"authorization": f"Bearer {good}"}
            async with _table_renamed(sessionmaker, "tags"):
                failed = await client.get("/graphql", params={"query": TAGS}, headers=good_bearer)
            assert failed.json()["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
            async with _table_renamed(sessionmaker, "api_tokens"):
                crashed = await client.get("/graphql", params={"query": TAGS}, headers=good_bearer)
            assert crashed.status_code == 500
        malformed = await _raw(
            server,
            b"GET /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: Bearer " + good.encode() + b"\r\nnot a header\r\n\r\n",
        )
        assert malformed.startswith(b"HTTP/1.1 400 ")
    records = caplog.records
    access = access_log.getvalue().splitlines()
    # What the logs are known to hold, so that the test would see a token there.
    assert any('"GET /graphql?query=' in line and line.endswith(" 200 OK") for line in access)
    assert any(line.endswith(" 405 Method Not Allowed") for line in access)
    assert any(line.endswith(" 500 Internal Server Error") for line in access)
    errors = [record for record in records if record.levelno >= logging.ERROR]
    assert any(
        record.name == "strawberry.execution" and "tags" in record.getMessage() for record in errors
    )
    assert any(record.getMessage().startswith("Exception in ASGI app") for record in errors)
    assert any(record.getMessage() == "Invalid HTTP request received." for record in records)
    logged = "\n".join([*_logged(records), *access])
    for token in (good, revoked, unknown):
        assert token not in logged
        assert token.removeprefix(TOKEN_PREFIX) not in logged
