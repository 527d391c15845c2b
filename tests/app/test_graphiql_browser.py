"""GraphiQL in a real browser: Debian's headless Chromium, driven by Playwright, opens the
page on a live uvicorn, runs the default query, then again with an editor's token pasted
in the Headers tab, and sees the answers, then a subscription that shows a publish; the
console stays free of errors (a Content-Security-Policy violation or a failed Subresource
Integrity check is one) and no request goes to another origin.

Chromium is the system's (``apt-get install chromium``; ``.ci/run`` installs it), never a
browser Playwright downloads; without it the test is skipped. With
``MASTHEAD_GRAPHIQL_SCREENSHOT=docs/graphiql.png`` it also saves the README's screenshot."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import httpx
import pytest
from playwright.async_api import ConsoleMessage, Page, Request, async_playwright

from db.models import ArticleStatus
from masthead.graphiql import ASSETS
from masthead.settings import Settings
from resolvers.access.viewer import Role
from resolvers.global_ids import encode_global_id
from tests.support.auth import bearer
from tests.support.factories import make_article, make_author, make_category
from tests.support.live_server import live_server

PUBLISH = "mutation P($id: ID!) { publishArticle(id: $id) { errors { code } } }"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


async def _run_and_read(page: Page) -> str:
    """Run the open tab and the text of its answer, once one is there."""
    response = page.locator(".result-window")
    before = await response.inner_text()
    await page.locator(".graphiql-execute-button").click()
    await page.wait_for_function(
        "([before]) => { const text = document.querySelector('.result-window').innerText;"
        " return text !== before && text.includes('}'); }",
        arg=[before],
        timeout=15_000,
    )
    return await response.inner_text()


async def test_graphiql_runs_a_query_in_chromium_with_nothing_from_elsewhere(
    settings: Settings, tmp_path: Path
) -> None:
    if not Path(CHROMIUM).is_file():
        pytest.skip("Chromium is not installed: apt-get install chromium")
    if not (ASSETS / "static" / "vendor").is_dir():
        pytest.skip("GraphiQL's files are not installed: make install")
    async with live_server(settings) as server:
        sessionmaker = server.app.state.sessionmaker
        author = await make_author(sessionmaker, name="Ana Ferreira")
        category = await make_category(sessionmaker)
        await make_article(
            sessionmaker, author=author, category=category, slug="trade-pacts", days_ago=1
        )
        draft = await make_article(
            sessionmaker,
            author=author,
            category=category,
            slug="budget-draft",
            status=ArticleStatus.DRAFT,
        )
        draft_id = encode_global_id("Article", draft.id)
        headers = await bearer(sessionmaker, Role.EDITOR)

        errors: list[str] = []
        elsewhere: list[str] = []

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                errors.append(message.text)

        def on_request(request: Request) -> None:
            if not request.url.startswith(("data:", server.url + "/")):
                elsewhere.append(request.url)

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM)
            try:
                page = await browser.new_page(viewport={"width": 1400, "height": 860})
                page.on("console", on_console)
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.on("request", on_request)
                await page.goto(f"{server.url}/graphql", wait_until="networkidle")
                await page.locator(".graphiql-execute-button").wait_for(timeout=15_000)

                # The default tab, anonymous: the published article, never the draft.
                anonymous = await _run_and_read(page)
                assert "trade-pacts" in anonymous
                assert "budget-draft" not in anonymous

                # In the Drafts tab an editor pastes a token in Headers and sees drafts.
                await page.locator(".graphiql-tab", has_text="Drafts").click()
                await page.get_by_role("button", name="Headers").click()
                await page.locator(".graphiql-editor-tool .CodeMirror:visible").click()
                await page.keyboard.insert_text(json.dumps(headers))
                editor = await _run_and_read(page)
                assert "budget-draft" in editor
                assert "DRAFT" in editor

                # The Live tab subscribes over WebSocket; a publish shows up in it.
                await page.locator(".graphiql-tab", has_text="Live").click()
                await page.locator(
                    ".graphiql-query-editor", has_text="subscription Live"
                ).wait_for()
                await page.wait_for_timeout(300)  # GraphiQL settles the tab's operation
                await page.locator(".graphiql-execute-button").click()
                await page.wait_for_timeout(1_000)  # subscribed
                async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
                    publish = {"query": PUBLISH, "variables": {"id": draft_id}}
                    assert "errors" not in (await http.post("/graphql", json=publish)).json()
                await page.wait_for_function(
                    "() => document.querySelector('.result-window').innerText"
                    ".includes('budget-draft')",
                    timeout=15_000,
                )

                screenshot = tmp_path / "graphiql.png"
                await page.screenshot(path=str(screenshot))
                assert screenshot.read_bytes().startswith(b"\x89PNG")
                if target := os.environ.get("MASTHEAD_GRAPHIQL_SCREENSHOT"):
                    shutil.copyfile(screenshot, target)
            finally:
                await browser.close()
    assert errors == []
    assert elsewhere == []
