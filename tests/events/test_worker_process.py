"""The worker as users run it: ``masthead worker`` in a process of its own, killed in the
middle of a delivery and started again; and the ``masthead webhook`` commands."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import WebhookDelivery
from resolvers.access.viewer import Role
from resolvers.global_ids import encode_global_id
from tests.support.auth import bearer
from tests.support.cli import ROOT, masthead
from tests.support.factories import make_article, make_author, make_category
from tests.support.graphql import graphql
from tests.support.receiver import receiver

UPDATE = """
mutation($id: ID!) { updateArticle(id: $id, input: {title: "Changed"}) { errors { code } } }"""

# An attempt's deadline of 1 s: a claimed delivery is held 7 s (2 x 1 + 5) before it is
# due again.
_WORKER_ENV = {
    "MASTHEAD_WEBHOOK_TIMEOUT": "1",
    "MASTHEAD_WEBHOOK_RETRY_BASE": "0.2",
    "MASTHEAD_WEBHOOK_POLL_INTERVAL": "0.1",
}


async def _worker(database_url: str) -> asyncio.subprocess.Process:
    env = {**os.environ, **_WORKER_ENV, "MASTHEAD_DATABASE_URL": database_url}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "masthead.cli",
        "worker",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def test_a_worker_killed_mid_delivery_loses_nothing(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    admin = await bearer(sessionmaker, Role.ADMIN)
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    article = await make_article(sessionmaker, author=author, category=category)
    async with receiver() as hook:
        hook.script = ["hang"]  # the first attempt is never answered
        created = await graphql(
            client,
            "mutation($url: String!) { createWebhook(input: {url: $url,"
            " events: [ARTICLE_UPDATED]}) { secret } }",
            {"url": hook.url},
            headers=admin,
        )
        hook.secret = created["data"]["createWebhook"]["secret"]
        # Committed with no worker running: the event waits in the outbox.
        article_id = encode_global_id("Article", article.id)
        assert (await graphql(client, UPDATE, {"id": article_id}, headers=admin))["data"]
        worker = await _worker(database_url)
        try:
            await hook.wait_for(1, timeout=60)
        finally:
            worker.send_signal(signal.SIGKILL)  # between the commit and the delivery
            await worker.wait()
        async with sessionmaker() as session:
            (delivery,) = (await session.scalars(select(WebhookDelivery))).all()
        assert (delivery.status, delivery.attempts) == ("PENDING", 1)
        restarted = await _worker(database_url)
        try:
            await hook.wait_for(2, timeout=60)
            async with asyncio.timeout(30):
                while True:
                    async with sessionmaker() as session:
                        delivery = (await session.scalars(select(WebhookDelivery))).one()
                    if delivery.status != "PENDING":
                        break
                    await asyncio.sleep(0.1)
        finally:
            restarted.send_signal(signal.SIGTERM)
            assert await restarted.wait() == 0
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("DELIVERED", 2, 200)
    first, second = hook.received
    assert first.event_id == second.event_id  # the receiver can drop the duplicate
    assert hook.bad_signatures == 0


def test_webhook_commands(database_url: str, tmp_path: Path) -> None:
    url = database_url
    added = masthead(
        "webhook",
        "add",
        "https://example.org/hook",
        "--events",
        "article_published,TAG_CHANGED",
        database_url=url,
    )
    assert added.returncode == 0, added.stderr
    secret = added.stdout.strip().splitlines()[-1]
    assert secret.startswith("whsec_") and added.stdout.strip() == secret
    listed = masthead("webhook", "list", database_url=url)
    assert "https://example.org/hook" in listed.stdout
    assert "ARTICLE_PUBLISHED,TAG_CHANGED" in listed.stdout
    assert secret not in listed.stdout
    webhook_id = listed.stdout.splitlines()[1].split()[0]
    bad = masthead("webhook", "add", "ftp://x", "--events", "TAG_CHANGED", database_url=url)
    assert bad.returncode == 1 and "http" in bad.stderr
    unknown = masthead("webhook", "add", "https://x.org", "--events", "NOPE", database_url=url)
    assert unknown.returncode == 2 and "unknown event type" in unknown.stderr
    empty = masthead("webhook", "deliveries", "--status", "failed", database_url=url)
    assert empty.returncode == 0 and empty.stdout.startswith("ID")
    missing = masthead("webhook", "redeliver", "nope", database_url=url)
    assert missing.returncode == 1 and "No webhook delivery" in missing.stderr
    removed = masthead("webhook", "remove", webhook_id, database_url=url)
    assert removed.returncode == 0, removed.stderr
    assert "example.org" not in masthead("webhook", "list", database_url=url).stdout
    again = masthead("webhook", "remove", webhook_id, database_url=url)
    assert again.returncode == 1
