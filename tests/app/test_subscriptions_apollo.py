"""Apollo Client's GraphQLWsLink over graphql-ws, the real npm packages, against a live
uvicorn serving Masthead: a token in connectionParams sees the draft's versions, an
anonymous reader only what is public. ``npm ci --prefix tests/apollo_client`` installs the
client (``.ci/run`` does); without node or the packages the test is skipped."""

from __future__ import annotations

import asyncio
import json
import shutil
from typing import Any

import httpx
import pytest

from db.models import ArticleStatus
from masthead.settings import Settings
from resolvers.access.viewer import Role
from resolvers.global_ids import encode_global_id
from tests.support.auth import bearer
from tests.support.cli import ROOT
from tests.support.factories import make_article, make_author, make_category
from tests.support.live_server import live_server

CLIENT = ROOT / "tests" / "apollo_client"
UPDATE = """
mutation U($id: ID!) { updateArticle(id: $id, input: {title: "Edited"}) { errors { code } } }
"""
PUBLISH = "mutation P($id: ID!) { publishArticle(id: $id) { errors { code } } }"


async def _line(stream: asyncio.StreamReader) -> dict[str, Any]:
    async with asyncio.timeout(30):
        line = await stream.readline()
    assert line, "the client stopped"
    message: dict[str, Any] = json.loads(line)
    return message


async def test_apollo_over_graphql_ws_sees_what_each_subscriber_may(settings: Settings) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: Apollo Client runs on it")
    if not (CLIENT / "node_modules" / "graphql-ws").is_dir():
        pytest.skip("graphql-ws is not installed: npm ci --prefix tests/apollo_client")
    async with live_server(settings) as server:
        sessions = server.app.state.sessionmaker
        author = await make_author(sessions)
        category = await make_category(sessions)
        draft = await make_article(
            sessions, author=author, category=category, status=ArticleStatus.DRAFT, slug="soon"
        )
        headers = await bearer(sessions, Role.EDITOR)
        token = headers["Authorization"].removeprefix("Bearer ")
        article_id = encode_global_id("Article", draft.id)
        process = await asyncio.create_subprocess_exec(
            node,
            str(CLIENT / "subscriptions.mjs"),
            server.url,
            token,
            article_id,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        try:
            assert await _line(process.stdout) == {"ready": True}
            async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
                for mutation in (UPDATE, PUBLISH):
                    body = {"query": mutation, "variables": {"id": article_id}}
                    answer = (await http.post("/graphql", json=body)).json()
                    assert "errors" not in answer, answer
            async with asyncio.timeout(30):
                out, err = await process.communicate()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    assert process.returncode == 0, err.decode()
    seen = [json.loads(line) for line in out.decode().splitlines()]
    editor = [event["data"]["articleChanged"] for event in seen if event["who"] == "editor"]
    assert editor == [
        {"__typename": "Article", "title": "Edited", "status": "DRAFT", "version": 2},
        {"__typename": "Article", "title": "Edited", "status": "PUBLISHED", "version": 3},
    ]
    # The anonymous reader never saw the draft: the published version alone, both ways.
    reader = [event["data"] for event in seen if event["who"].startswith("reader")]
    assert sorted(reader, key=str) == sorted(
        [
            {
                "articleChanged": {
                    "__typename": "Article",
                    "title": "Edited",
                    "status": "PUBLISHED",
                    "version": 3,
                }
            },
            {"articlePublished": {"__typename": "Article", "slug": "soon"}},
        ],
        key=str,
    )
