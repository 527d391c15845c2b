"""API tokens: the CLI, only a hash stored, Bearer authentication, revocation, caching."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.models import ApiToken, ArticleStatus, utcnow
from resolvers.access.tokens import (
    TokenError,
    TokenSummary,
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
    assert response.json()["data"] == {"articles": {"nodes": [{"slug": "draft"}]}}
    assert not masthead("token", "list", database_url=database_url).stdout.endswith("never\n")

    revoked = masthead("token", "revoke", "site-preview", database_url=database_url)
    assert revoked.returncode == 0, revoked.stderr
    response = await _post(client, DRAFTS, authorized)
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]
    assert "data" not in response.json()  # refused before any GraphQL ran

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


async def _summaries(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, TokenSummary]:
    async with sessionmaker() as session:
        return {summary.name: summary for summary in await list_tokens(session)}


async def _create(
    sessionmaker: async_sessionmaker[AsyncSession],
    name: str,
    role: Role = Role.EDITOR,
    author_slug: str | None = None,
) -> str:
    async with sessionmaker.begin() as session:
        return await create_token(session, name=name, role=role, author_slug=author_slug)


async def test_a_secret_is_256_random_bits_behind_the_prefix(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    secrets = [await _create(sessionmaker, name) for name in ("one", "two")]
    for secret in secrets:
        assert secret.startswith("mh_")
        assert len(base64.urlsafe_b64decode(secret.removeprefix("mh_") + "=")) == 32
    assert secrets[0] != secrets[1]
    async with sessionmaker() as session:
        stored = set(await session.scalars(select(ApiToken.token_hash)))
    assert stored == {hashlib.sha256(secret.encode()).hexdigest() for secret in secrets}


async def test_token_names_are_trimmed_unique_and_at_most_200_characters(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await _create(sessionmaker, "  preview  ")
    await _create(sessionmaker, "n" * 200)
    for refused, reason in (
        ("", "a token name must have 1 to 200 characters"),
        (" ", "a token name must have 1 to 200 characters"),
        ("n" * 201, "a token name must have 1 to 200 characters"),
        ("preview", "a token named 'preview' exists already"),
        (" preview", "a token named 'preview' exists already"),
    ):
        with pytest.raises(TokenError) as error:
            await _create(sessionmaker, refused)
        assert str(error.value) == reason
    assert sorted(await _summaries(sessionmaker)) == ["n" * 200, "preview"]


async def test_only_writer_tokens_need_an_author(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ada = await make_author(sessionmaker, slug="ada")
    await make_author(sessionmaker, slug="grace")
    editor = await _create(sessionmaker, "editor")
    admin = await _create(sessionmaker, "admin", Role.ADMIN)
    writer = await _create(sessionmaker, "writer", Role.WRITER, "ada")
    with pytest.raises(TokenError) as no_author:
        await _create(sessionmaker, "nobody's", Role.WRITER)
    assert str(no_author.value) == "a writer token needs --author: writers write as one author"
    with pytest.raises(TokenError) as unknown:
        await _create(sessionmaker, "lost", Role.WRITER, "nobody")
    assert str(unknown.value) == "no author with slug 'nobody'"
    assert await authenticate(sessionmaker, editor) == Viewer(Role.EDITOR)
    assert await authenticate(sessionmaker, admin) == Viewer(Role.ADMIN)
    assert await authenticate(sessionmaker, writer) == Viewer(Role.WRITER, ada.id)
    summaries = await _summaries(sessionmaker)
    assert {name: (s.role, s.author_slug) for name, s in summaries.items()} == {
        "admin": (Role.ADMIN, None),
        "editor": (Role.EDITOR, None),
        "writer": (Role.WRITER, "ada"),
    }


async def test_tokens_are_listed_by_name_with_when_made_and_last_used(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    before = utcnow()
    for name in ("zeta", "alpha", "mid"):
        await _create(sessionmaker, name)
    async with sessionmaker() as session:
        listed = await list_tokens(session)
    assert [summary.name for summary in listed] == ["alpha", "mid", "zeta"]
    for summary in listed:
        assert before <= summary.created_at <= utcnow()
        assert summary.last_used_at is None


async def test_revoking_one_token_leaves_the_others(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    kept = await _create(sessionmaker, "kept")
    gone = await _create(sessionmaker, "gone")
    async with sessionmaker.begin() as session:
        assert await revoke_token(session, "gone") is True
        assert await revoke_token(session, "gone") is False
        assert await revoke_token(session, "never-made") is False
    assert await authenticate(sessionmaker, gone) is None
    assert await authenticate(sessionmaker, kept) == Viewer(Role.EDITOR)


async def test_last_use_is_written_at_most_once_a_minute_and_for_that_token_only(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    used = await _create(sessionmaker, "used")
    await _create(sessionmaker, "idle")
    start = datetime(2030, 1, 1, 12, 0, 0)
    for seconds, last_used in ((0, 0), (59, 0), (60, 60), (119, 60), (125, 125)):
        now = start + timedelta(seconds=seconds)
        assert await authenticate(sessionmaker, used, now=now) == Viewer(Role.EDITOR)
        summaries = await _summaries(sessionmaker)
        assert summaries["used"].last_used_at == start + timedelta(seconds=last_used)
        assert summaries["idle"].last_used_at is None


async def test_concurrent_uses_of_a_minute_write_last_use_once(
    sessionmaker: async_sessionmaker[AsyncSession], engine: AsyncEngine
) -> None:
    secret = await _create(sessionmaker, "busy")
    start = datetime(2030, 1, 1, 12, 0, 0)
    # Racing from the start too leaves a pooled connection for each request to come.
    await asyncio.gather(*(authenticate(sessionmaker, secret, now=start) for _ in range(4)))
    updated: list[int] = []

    def count_updates(_conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("UPDATE api_tokens"):
            updated.append(cursor.rowcount)

    event.listen(engine.sync_engine, "after_cursor_execute", count_updates)
    try:
        # All read a last use older than a minute before any of them writes: only the
        # guarded UPDATE keeps the others from writing it again.
        later = [start + timedelta(minutes=2, seconds=n) for n in range(4)]
        viewers = await asyncio.gather(
            *(authenticate(sessionmaker, secret, now=now) for now in later)
        )
    finally:
        event.remove(engine.sync_engine, "after_cursor_execute", count_updates)
    assert viewers == [Viewer(Role.EDITOR)] * 4
    assert sum(updated) == 1
    assert (await _summaries(sessionmaker))["busy"].last_used_at in later


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
    assert "data" not in response.json()  # refused before any GraphQL ran
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
    assert "errors" not in seen
    assert seen["data"] == {"articles": {"nodes": []}}


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
