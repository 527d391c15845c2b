"""API tokens: the CLI, only a hash stored, Bearer authentication, revocation, caching."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import ApiToken, ArticleStatus
from resolvers.access.tokens import (
    TokenError,
    authenticate,
    create_token,
    list_tokens,
    revoke_token,
)
from resolvers.access.viewer import Role, Viewer
from tests.support.auth import bearer
from tests.support.cli import masthead
from tests.support.factories import make_article, make_author, make_category
from tests.support.graphql import error_codes
from tests.support.statements import StatementCounter

DRAFTS = "{ articles(filter: {status: [DRAFT]}) { nodes { slug } } }"
PUBLIC = "{ articles { totalCount } }"


async def _draft(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    author = await make_author(sessionmaker, slug="ada")
    category = await make_category(sessionmaker)
    await make_article(
        sessionmaker, author=author, category=category, slug="draft", status=ArticleStatus.DRAFT
    )


async def _post(
    client: httpx.AsyncClient, query: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    response = await client.post("/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 200, response.text
    return response


async def test_cli_create_list_use_revoke(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await _draft(sessionmaker)
    created = masthead(
        "token", "create", "--name", "site-preview", "--role", "editor", database_url=database_url
    )
    assert created.returncode == 0, created.stderr
    *_, secret = created.stdout.splitlines()
    assert created.stdout == secret + "\n"  # the token alone: `$(masthead token create ...)`
    assert secret.startswith("mh_") and len(secret) > 40

    async with sessionmaker() as session:
        (token,) = await session.scalars(select(ApiToken))
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in (token.name, token.role, token.token_hash)

    listed = masthead("token", "list", database_url=database_url)
    assert listed.returncode == 0, listed.stderr
    assert secret not in listed.stdout and token.token_hash not in listed.stdout
    header, row = listed.stdout.splitlines()
    assert header.split()[:3] == ["NAME", "ROLE", "AUTHOR"]
    assert row.split()[:3] == ["site-preview", "editor", "-"]
    assert row.endswith("never")

    authorized = {"Authorization": f"Bearer {secret}"}
    response = await _post(client, DRAFTS, authorized)
    assert response.json() == {"data": {"articles": {"nodes": [{"slug": "draft"}]}}}
    assert not masthead("token", "list", database_url=database_url).stdout.endswith("never\n")

    revoked = masthead("token", "revoke", "site-preview", database_url=database_url)
    assert revoked.returncode == 0, revoked.stderr
    response = await _post(client, DRAFTS, authorized)
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]
    assert response.json()["data"] is None

    unknown = masthead("token", "revoke", "site-preview", database_url=database_url)
    assert unknown.returncode == 1
    assert "no token named" in unknown.stderr


async def test_cli_refuses_bad_tokens(
    sessionmaker: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await make_author(sessionmaker, slug="ada")
    no_author = masthead(
        "token", "create", "--name", "w", "--role", "writer", database_url=database_url
    )
    assert no_author.returncode == 1 and "--author" in no_author.stderr
    writer = masthead(
        "token", "create", "--name", "w", "--role", "writer", "--author", "ada",
        database_url=database_url,
    )  # fmt: skip
    assert writer.returncode == 0, writer.stderr
    again = masthead("token", "create", "--name", "w", "--role", "admin", database_url=database_url)
    assert again.returncode == 1 and "exists" in again.stderr
    assert again.stdout == ""
    listed = masthead("token", "list", database_url=database_url).stdout
    assert listed.splitlines()[1].split()[:3] == ["w", "writer", "ada"]


async def test_token_functions(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    author = await make_author(sessionmaker, slug="ada")
    async with sessionmaker.begin() as session:
        secret = await create_token(session, name="w", role=Role.WRITER, author_slug="ada")
        with pytest.raises(TokenError):
            await create_token(session, name="x", role=Role.EDITOR, author_slug="nobody")
        with pytest.raises(TokenError):
            await create_token(session, name=" ", role=Role.EDITOR)
    assert await authenticate(sessionmaker, secret) == Viewer(Role.WRITER, author.id)
    assert await authenticate(sessionmaker, secret + "x") is None
    async with sessionmaker() as session:
        (summary,) = await list_tokens(session)
    assert (summary.name, summary.role, summary.author_slug) == ("w", Role.WRITER, "ada")
    assert summary.last_used_at is not None
    async with sessionmaker.begin() as session:
        assert await revoke_token(session, "w")
    assert await authenticate(sessionmaker, secret) is None


@pytest.mark.parametrize(
    "authorization",
    ["Bearer mh_not-a-real-token", "Bearer ", "Basic dXNlcjpwYXNz", "mh_no_scheme"],
)
async def test_a_bad_token_refuses_the_whole_request(
    client: httpx.AsyncClient, authorization: str
) -> None:
    """Never quietly answered as anonymous: the caller meant to be someone."""
    response = await _post(client, PUBLIC, {"Authorization": authorization})
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]
    assert response.json()["data"] is None
    assert response.headers["cache-control"] == "private, no-store"


async def test_token_responses_are_never_publicly_cacheable(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _draft(sessionmaker)
    headers = await bearer(sessionmaker, Role.EDITOR)
    for response in (
        await _post(client, DRAFTS, headers),
        await client.get("/graphql", params={"query": DRAFTS}, headers=headers),
    ):
        assert response.status_code == 200
        assert response.json()["data"]["articles"]["nodes"] == [{"slug": "draft"}]
        assert response.headers["cache-control"] == "private, no-store"


async def test_anonymous_and_other_authors_writers_do_not_see_drafts(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _draft(sessionmaker)
    anonymous = (await _post(client, DRAFTS)).json()
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]
    author = await make_author(sessionmaker)
    writer = await bearer(sessionmaker, Role.WRITER, author)
    seen = (await _post(client, DRAFTS, writer)).json()
    assert seen == {"data": {"articles": {"nodes": []}}}


async def test_authentication_costs_one_lookup_and_last_use_is_written_once_a_minute(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    statements: StatementCounter,
) -> None:
    headers = await bearer(sessionmaker, Role.EDITOR)
    statements.reset()
    await _post(client, PUBLIC)
    assert not any("api_tokens" in s for s in statements.statements)  # anonymous: nothing
    for _ in range(3):
        await _post(client, PUBLIC, headers)
    token_statements = [s.split()[0] for s in statements.statements if "api_tokens" in s]
    assert token_statements == ["SELECT", "UPDATE", "SELECT", "SELECT"]
