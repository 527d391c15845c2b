"""Masthead's self-hosted GraphiQL: the page names only its own origin's files, each with
Subresource Integrity that the bytes served match, under a strict Content-Security-Policy;
without the files it says how to install them. The browser's view is tests/app/
test_graphiql_browser.py."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from masthead.graphiql import (
    ASSETS,
    CONTENT_SECURITY_POLICY,
    PREFIX,
    GraphiQLPage,
    install_vendor_files,
    saved_tabs,
)
from masthead.settings import Settings
from resolvers.access.viewer import Role
from tests.support.apps import client_of_app_with
from tests.support.auth import bearer

BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
VENDOR = ASSETS / "static" / "vendor"


def _installed() -> None:
    if not VENDOR.is_dir():
        pytest.skip("GraphiQL's files are not installed: make install")


def _sri(body: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()


async def test_the_page_loads_only_its_own_files_each_checked(client: httpx.AsyncClient) -> None:
    _installed()
    page = await client.get("/graphql", headers=BROWSER)
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert page.headers["content-security-policy"].startswith("default-src 'self';")
    # Nothing inline, nothing from another host.
    assert "<style" not in page.text
    assert re.search(r"<script(?![^>]*\bsrc=)", page.text) is None
    assert re.search(r"\b(src|href)=\"(https?:)?//", page.text) is None
    files = re.findall(r'(?:src|href)="([^"]+)" integrity="([^"]+)"', page.text)
    assert len(files) == 8  # 3 style sheets, 5 scripts
    for path, integrity in files:
        served = await client.get(path)
        assert served.status_code == 200, path
        assert _sri(served.content) == integrity, path
    icon = re.search(r'rel="icon" href="([^"]+)"', page.text)
    assert icon is not None
    assert (await client.get(icon.group(1))).status_code == 200


async def test_the_saved_tabs_are_the_reference_operations_and_run(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    headers = await bearer(sessionmaker, Role.EDITOR)  # the Drafts tab needs one
    tabs = saved_tabs()
    names = [re.search(r"(?:query|subscription) (\w+)", tab["query"]) for tab in tabs]
    assert [name.group(1) for name in names if name] == [
        "Latest",
        "Drafts",
        "Live",
        "ArticlePage",
        "Home",
        "CategoryPage",
    ]
    for tab in tabs:
        if "subscription Live" in tab["query"]:
            continue  # over WebSocket: test_graphiql_browser.py runs it
        variables = json.loads(tab.get("variables", "{}"))
        answer = await client.post(
            "/graphql", json={"query": tab["query"], "variables": variables}, headers=headers
        )
        assert answer.status_code == 200
        assert "errors" not in answer.json(), answer.json()


def _assets_without_vendor(tmp_path: Path) -> Path:
    assets = tmp_path / "graphiql_assets"
    shutil.copytree(ASSETS, assets, ignore=shutil.ignore_patterns("vendor", "node_modules"))
    return assets


def test_without_the_files_the_page_says_to_install_them(tmp_path: Path) -> None:
    page = GraphiQLPage(_assets_without_vendor(tmp_path)).response()
    assert page.status_code == 503
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    text = bytes(page.body).decode()
    assert "make install" in text
    assert "graphiql.min.js" in text
    assert "<script" not in text


def test_a_file_that_is_not_the_pinned_bytes_is_refused(tmp_path: Path) -> None:
    _installed()
    assets = _assets_without_vendor(tmp_path)
    for entry in json.loads((ASSETS / "integrity.json").read_text()).values():
        copy = assets / "node_modules" / entry["from"]
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ASSETS / "node_modules" / entry["from"], copy)
    assert install_vendor_files(assets)["graphiql.min.js"] > 1_000_000
    assert GraphiQLPage(assets).response().status_code == 200

    with (assets / "static" / "vendor" / "react.production.min.js").open("a") as changed:
        changed.write("/* changed */")
    refused = GraphiQLPage(assets).response()
    assert refused.status_code == 503
    assert "react.production.min.js" in bytes(refused.body).decode()
    source = assets / "node_modules" / "react" / "umd" / "react.production.min.js"
    source.write_text("tampered")
    with pytest.raises(SystemExit, match=r"integrity\.json pins"):
        install_vendor_files(assets)


async def test_without_graphiql_its_files_are_not_served(settings: Settings) -> None:
    async with client_of_app_with(settings, graphiql=False) as client:
        page = await client.get("/graphql", headers=BROWSER)
        assert page.headers["content-type"].startswith("application/")
        assert (await client.get(f"{PREFIX}/masthead-graphiql.js")).status_code == 404
