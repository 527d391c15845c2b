"""Apollo Client's persisted-queries link, the real npm package, against a live uvicorn
serving Masthead: it works unchanged, over GET and POST. The client is an npm package:
``npm ci --prefix tests/apollo_client`` installs it (``.ci/run`` does); without node or
the package the test is skipped."""

from __future__ import annotations

import asyncio
import json
import shutil
from typing import Any

import pytest

from masthead.settings import Settings
from resolvers.access.viewer import Role
from tests.support.auth import bearer
from tests.support.cli import ROOT
from tests.support.factories import make_article, make_author, make_category
from tests.support.live_server import live_server

CLIENT = ROOT / "tests" / "apollo_client"
NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
WORKING = ("get, first time", "get, known hash", "post, first time", "post, known hash", "mutation")


async def _run_client(url: str, token: str, slug: str, editor: str) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: Apollo Client runs on it")
    if not (CLIENT / "node_modules" / "@apollo" / "client").is_dir():
        pytest.skip("Apollo Client is not installed: npm ci --prefix tests/apollo_client")
    script = str(CLIENT / "persisted_queries.mjs")
    process = await asyncio.create_subprocess_exec(
        node,
        script,
        url,
        token,
        slug,
        editor,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    steps: list[dict[str, Any]] = json.loads(out)
    return steps


async def _steps(settings: Settings) -> dict[str, dict[str, Any]]:
    """The client's steps by name, run against a live server with an article by Ana
    Ferreira (slug ``trade-pacts``), an admin's token and an editor's."""
    async with live_server(settings) as server:
        sessionmaker = server.app.state.sessionmaker
        author = await make_author(sessionmaker, name="Ana Ferreira")
        category = await make_category(sessionmaker)
        await make_article(sessionmaker, author=author, category=category, slug="trade-pacts")
        admin = (await bearer(sessionmaker, Role.ADMIN))["Authorization"].removeprefix("Bearer ")
        editor = (await bearer(sessionmaker, Role.EDITOR))["Authorization"].removeprefix("Bearer ")
        steps = await _run_client(f"{server.url}/graphql", admin, "trade-pacts", editor)
    return {step["name"]: step for step in steps}


def _requests(step: dict[str, Any]) -> list[tuple[str, bool, int, list[str]]]:
    """What the link sent in a step: method, hash alone, status, error codes."""
    return [
        (sent["method"], sent["hashOnly"], sent["status"], sent["errorCodes"])
        for sent in step["sent"]
    ]


async def test_apollo_clients_persisted_queries_link_works_unchanged(settings: Settings) -> None:
    by_name = await _steps(settings)
    assert all(by_name[name]["error"] is None for name in WORKING), by_name

    # An unknown hash over GET: PersistedQueryNotFound (200), then the document by POST.
    first = by_name["get, first time"]
    assert _requests(first) == [("GET", True, 200, [NOT_FOUND]), ("POST", False, 200, [])]
    assert first["sent"][0]["cacheControl"] == "private, no-store"
    assert first["data"]["article"]["author"] == {"__typename": "Author", "name": "Ana Ferreira"}
    # Registered: a fresh client's GET of the hash alone runs it, and caches may keep it.
    known = by_name["get, known hash"]
    assert _requests(known) == [("GET", True, 200, [])]
    assert known["data"] == first["data"]
    assert known["sent"][0]["etag"].startswith('"')
    assert known["sent"][0]["cacheControl"].startswith("public, max-age=")

    assert _requests(by_name["post, first time"]) == [
        ("POST", True, 200, [NOT_FOUND]),
        ("POST", False, 200, []),
    ]
    assert _requests(by_name["post, known hash"]) == [("POST", True, 200, [])]

    # A mutation never goes over GET, even with useGETForHashedQueries.
    mutation = by_name["mutation"]
    assert _requests(mutation) == [("POST", True, 200, [NOT_FOUND]), ("POST", False, 200, [])]
    assert mutation["data"]["createTag"]["tag"]["slug"] == "persisted"
    assert all(sent["cacheControl"] == "private, no-store" for sent in mutation["sent"])


async def test_apollo_client_shows_the_servers_message_when_refused(settings: Settings) -> None:
    """Refusals reach Apollo as JSON: its error carries the server's message and code, never
    a JSON parse failure, whether the document, the token or the role is refused."""
    by_name = await _steps(settings)

    invalid = by_name["error, invalid query"]
    assert invalid["errorType"] == "CombinedGraphQLErrors"
    assert "Cannot query field 'titel' on type 'Article'." in invalid["error"]
    assert invalid["errorCodes"] == ["GRAPHQL_VALIDATION_FAILED"]
    assert all(sent["errorCodes"] != ["not JSON"] for sent in invalid["sent"])

    unknown = by_name["error, unknown token"]
    assert unknown["errorCodes"] == ["UNAUTHENTICATED"], unknown
    assert unknown["sent"][-1]["errorCodes"] == ["UNAUTHENTICATED"]

    forbidden = by_name["error, forbidden"]
    assert forbidden["errorType"] == "CombinedGraphQLErrors"
    assert forbidden["error"] == "Only admin tokens may create tags."
    assert forbidden["errorCodes"] == ["FORBIDDEN"]
