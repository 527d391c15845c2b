"""Kept related lists (``resolvers.articles.related_lists``): the kept answer is the ranking
from scratch after any writes and any time passing, on both databases."""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.dialects import database_of
from db.models import (
    Article,
    ArticleStatus,
    ArticleTag,
    Author,
    Category,
    RelatedEntry,
    RelatedList,
    Tag,
    utcnow,
)
from masthead.corpus.demo import load_demo
from resolvers.access.viewer import Role, Viewer
from resolvers.articles import related_lists
from resolvers.articles import writes as article_writes
from resolvers.articles.related_lists import kept_related_posts
from resolvers.articles.related_posts import Related, ranked_related_posts
from resolvers.global_ids import encode_global_id
from resolvers.taxonomy import writes as taxonomy_writes
from resolvers.transaction import Actor, in_one_transaction
from resolvers.write_inputs import ArticleFields
from tests.support.auth import bearer
from tests.support.factories import make_article, make_author, make_category, make_tag
from tests.support.graphql import data
from tests.support.statements import StatementCounter

Sessions = async_sessionmaker[AsyncSession]
T = TypeVar("T")

EDITOR = Viewer(role=Role.EDITOR)
ADMIN = Viewer(role=Role.ADMIN)


def _gid(type_name: str, pk: int) -> str:
    return encode_global_id(type_name, pk)


def _shown(found: dict[int, list[Related]]) -> dict[int, list[tuple[int, str, int]]]:
    return {
        source: [(r.article.id, r.reason.value, r.score) for r in rows]
        for source, rows in found.items()
    }


async def _kept(
    sessionmaker: Sessions, ids: Sequence[int], *, first: int, now: datetime, keep: int
) -> dict[int, list[tuple[int, str, int]]]:
    async with sessionmaker() as session:
        found = await kept_related_posts(
            session, sessionmaker, article_ids=ids, first=first, now=now, keep=keep
        )
    return _shown(found)


async def _scratch(
    sessionmaker: Sessions, ids: Sequence[int], *, first: int, now: datetime
) -> dict[int, list[tuple[int, str, int]]]:
    async with sessionmaker() as session:
        found = await ranked_related_posts(session, article_ids=ids, first=first, now=now)
    return _shown(found)


async def _write(sessionmaker: Sessions, write: Callable[[AsyncSession], Awaitable[T]]) -> T | None:
    outcome = await in_one_transaction(sessionmaker, write)
    return outcome.value


async def _check_invariants(sessionmaker: Sessions) -> None:
    """Every kept list holds exactly the scored candidates at or above its floor."""
    async with sessionmaker() as session:
        articles = {a.id: a for a in await session.scalars(select(Article))}
        tags: dict[int, set[int]] = {i: set() for i in articles}
        for article_id, tag_id in await session.execute(
            select(ArticleTag.article_id, ArticleTag.tag_id)
        ):
            tags[article_id].add(tag_id)
        lists = list(await session.scalars(select(RelatedList)))
        entries: dict[int, dict[int, tuple[int, datetime]]] = {k.article_id: {} for k in lists}
        for entry in await session.scalars(select(RelatedEntry)):
            entries[entry.article_id][entry.related_id] = (entry.score, entry.published_at)
    for kept in lists:
        source = articles[kept.article_id]
        assert kept.category_id == source.category_id
        expected: dict[int, tuple[int, datetime]] = {}
        for other in articles.values():
            if other.id == source.id or other.status != ArticleStatus.PUBLISHED.value:
                continue
            assert other.published_at is not None
            score = 2 * len(tags[source.id] & tags[other.id]) + (
                other.category_id == source.category_id
            )
            key = (score, other.published_at, other.id)
            if kept.floor_score == 0:
                at_floor = score > 0
            else:
                assert kept.floor_published_at is not None and kept.floor_id is not None
                at_floor = key >= (kept.floor_score, kept.floor_published_at, kept.floor_id)
            if score > 0 and at_floor:
                expected[other.id] = (score, other.published_at)
        assert entries[kept.article_id] == expected, kept.article_id


_OPERATIONS = st.one_of(
    st.tuples(st.just("publish"), st.integers(0, 50), st.sampled_from([None, -30, -5, 0, 3, 20])),
    st.tuples(st.just("unpublish"), st.integers(0, 50)),
    st.tuples(st.just("retag"), st.integers(0, 50), st.sets(st.integers(0, 3), max_size=3)),
    st.tuples(st.just("recategorize"), st.integers(0, 50), st.integers(0, 2)),
    st.tuples(st.just("pin"), st.integers(0, 50), st.lists(st.integers(0, 50), max_size=3)),
    st.tuples(st.just("delete"), st.integers(0, 50)),
    st.tuples(st.just("create"), st.integers(0, 2), st.sets(st.integers(0, 3), max_size=3)),
    st.tuples(st.just("advance"), st.sampled_from([1, 4, 25])),
    st.tuples(st.just("delete_tag"), st.integers(0, 3)),
    st.tuples(st.just("edit"), st.integers(0, 50)),
)

_PROPERTY = hypothesis_settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class _World:
    """The articles, tags and clock of one example, changed only through the write API."""

    def __init__(self, sessionmaker: Sessions, author: Author, categories: list[Category]):
        self.sessionmaker = sessionmaker
        self.author = author
        self.categories = categories
        self.tags: list[Tag | None] = []
        self.articles: list[int] = []
        self.clock = utcnow().replace(microsecond=0)

    def actor(self, viewer: Viewer = EDITOR) -> Actor:
        return Actor(viewer=viewer, now=self.clock)

    async def reset(self) -> None:
        async with self.sessionmaker.begin() as session:
            await session.execute(delete(Article))
            await session.execute(delete(Tag))
        self.tags = [await make_tag(self.sessionmaker) for _ in range(4)]
        times = [self.clock - timedelta(hours=h) for h in (1, 2, 2, 6, 9)]
        self.articles = []
        for n in range(7):
            article = await make_article(
                self.sessionmaker,
                author=self.author,
                category=self.categories[n % 3],
                tags=[t for i, t in enumerate(self.tags) if t is not None and (n >> i) & 1],
                status=ArticleStatus.DRAFT if n == 5 else ArticleStatus.PUBLISHED,
                published_at=None if n == 5 else times[n % len(times)],
            )
            self.articles.append(article.id)

    def _article(self, index: int) -> str:
        return _gid("Article", self.articles[index % len(self.articles)])

    def _tag_ids(self, indexes: set[int]) -> list[str]:
        return [_gid("Tag", t.id) for i in indexes if (t := self.tags[i]) is not None]

    async def apply(self, operation: tuple[Any, ...]) -> None:
        kind, *args = operation
        writes, s = article_writes, self.sessionmaker
        if kind == "advance":
            self.clock += timedelta(hours=args[0])
            return
        if kind == "create":
            fields = ArticleFields(
                title=f"Fresh {len(self.articles)}",
                body="<p>Words.</p>",
                author_id=_gid("Author", self.author.id),
                category_id=_gid("Category", self.categories[args[0]].id),
                tag_ids=self._tag_ids(args[1]),
            )
            created = await _write(
                s, lambda x: writes.create_article(x, self.actor(), fields=fields)
            )
            assert created is not None
            self.articles.append(created.id)
            return
        if kind == "delete_tag":
            tag = self.tags[args[0]]
            if tag is not None:
                gid = _gid("Tag", tag.id)
                await _write(
                    s, lambda x: taxonomy_writes.delete_tag(x, self.actor(ADMIN), tag_id=gid)
                )
                self.tags[args[0]] = None
            return
        if not self.articles:
            return
        target = self._article(args[0])
        if kind == "publish":
            at = None if args[1] is None else self.clock + timedelta(hours=args[1])
            await _write(
                s,
                lambda x: writes.publish_article(x, self.actor(), article_id=target, publish_at=at),
            )
        elif kind == "unpublish":
            await _write(s, lambda x: writes.unpublish_article(x, self.actor(), article_id=target))
        elif kind in ("retag", "recategorize", "edit"):
            if kind == "retag":
                fields = ArticleFields(tag_ids=self._tag_ids(args[1]))
            elif kind == "recategorize":
                fields = ArticleFields(category_id=_gid("Category", self.categories[args[1]].id))
            else:
                fields = ArticleFields(body="<p>Other words.</p>")
            await _write(s, lambda x: writes.update_article(
                x, self.actor(), article_id=target, fields=fields, expected_version=None
            ))  # fmt: skip
        elif kind == "pin":
            related = [self._article(i) for i in args[1]]
            await _write(s, lambda x: writes.set_related_posts(
                x, self.actor(), article_id=target, related_ids=related
            ))  # fmt: skip
        elif kind == "delete":
            await _write(s, lambda x: writes.delete_article(x, self.actor(), article_id=target))
            self.articles.remove(self.articles[args[0] % len(self.articles)])


@_PROPERTY
@given(
    operations=st.lists(_OPERATIONS, min_size=1, max_size=12),
    keep=st.sampled_from([2, 4, 30]),
    tiered_from=st.sampled_from([0, 10**9]),
)
async def test_the_kept_answer_is_the_ranking_from_scratch_after_any_writes(
    sessionmaker: Sessions, author: Author, categories: list[Category],
    monkeypatch: pytest.MonkeyPatch,
    operations: list[tuple[Any, ...]], keep: int, tiered_from: int,
) -> None:  # fmt: skip
    # A list of one source alone computed in tiers, or by looking at every candidate.
    monkeypatch.setattr(related_lists, "TIERED_FROM", tiered_from)
    world = _World(sessionmaker, author, categories)
    await world.reset()
    for step, operation in enumerate(operations):
        await world.apply(operation)
        ids = list(world.articles)
        if ids:
            # One list computed again alone, as the first view of its article would.
            alone = ids[step % len(ids)]
            async with sessionmaker.begin() as session:
                await related_lists.drop_lists(session, [alone])
            expected = await _scratch(sessionmaker, [alone], first=3, now=world.clock)
            found = await _kept(sessionmaker, [alone], first=3, now=world.clock, keep=keep)
            assert found == expected, (operation, "alone")
        for first in (1, 3, 6):
            # Lists computed at different steps for different pages, read together.
            page = ids if (step + first) % 2 else ids[::2]
            expected = await _scratch(sessionmaker, page, first=first, now=world.clock)
            found = await _kept(sessionmaker, page, first=first, now=world.clock, keep=keep)
            assert found == expected, (operation, first)
        await _check_invariants(sessionmaker)
    # One source alone takes the statements' other shape.
    for article_id in world.articles[:3]:
        expected = await _scratch(sessionmaker, [article_id], first=4, now=world.clock)
        assert await _kept(sessionmaker, [article_id], first=4, now=world.clock, keep=keep) == (
            expected
        )


# -- examples ---------------------------------------------------------------------------------


@pytest.fixture
async def author(sessionmaker: Sessions) -> Author:
    return await make_author(sessionmaker)


@pytest.fixture
async def categories(sessionmaker: Sessions) -> list[Category]:
    return [await make_category(sessionmaker) for _ in range(3)]


async def _lists(sessionmaker: Sessions) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(RelatedList)) or 0)


async def test_a_list_is_computed_once_then_read_without_ranking(
    sessionmaker: Sessions, author: Author, categories: list[Category], statements: StatementCounter
) -> None:
    tag = await make_tag(sessionmaker)
    articles = [
        await make_article(sessionmaker, author=author, category=categories[0], tags=[tag])
        for _ in range(5)
    ]
    now = utcnow()
    ids = [a.id for a in articles]
    assert await _lists(sessionmaker) == 0
    first_view = await _kept(sessionmaker, ids, first=3, now=now, keep=30)
    assert await _lists(sessionmaker) == 5
    statements.reset()
    assert await _kept(sessionmaker, ids, first=3, now=now, keep=30) == first_view
    # The lookup and the articles chosen: no ranking, no write.
    assert len(statements.statements) == 2, statements.statements
    assert not any("article_tags" in s for s in statements.statements)


async def test_a_scheduled_article_appears_at_its_instant_without_any_write(
    sessionmaker: Sessions, author: Author, categories: list[Category]
) -> None:
    tag = await make_tag(sessionmaker)
    now = utcnow()
    source = await make_article(sessionmaker, author=author, category=categories[0], tags=[tag])
    later = await make_article(
        sessionmaker, author=author, category=categories[1], tags=[tag],
        published_at=now + timedelta(hours=2),
    )  # fmt: skip
    before = await _kept(sessionmaker, [source.id], first=1, now=now, keep=30)
    assert later.id not in [i for i, _, _ in before[source.id]]
    after = await _kept(sessionmaker, [source.id], first=1, now=now + timedelta(hours=3), keep=30)
    assert after[source.id] == [(later.id, "shared_tags", 2)]


async def test_an_unpublished_article_leaves_every_kept_list_at_once(
    sessionmaker: Sessions, author: Author, categories: list[Category]
) -> None:
    tag = await make_tag(sessionmaker)
    articles = [
        await make_article(sessionmaker, author=author, category=categories[0], tags=[tag])
        for _ in range(4)
    ]
    now = utcnow()
    ids = [a.id for a in articles]
    await _kept(sessionmaker, ids, first=3, now=now, keep=30)
    gone = articles[1]
    await _write(
        sessionmaker,
        lambda s: article_writes.unpublish_article(
            s, Actor(EDITOR, now), article_id=_gid("Article", gone.id)
        ),
    )
    found = await _kept(sessionmaker, ids, first=3, now=now, keep=30)
    assert all(gone.id not in [i for i, _, _ in rows] for rows in found.values())
    assert found == await _scratch(sessionmaker, ids, first=3, now=now)


async def test_forget_all_drops_every_list(
    sessionmaker: Sessions, author: Author, categories: list[Category]
) -> None:
    articles = [
        await make_article(sessionmaker, author=author, category=categories[0]) for _ in range(3)
    ]
    await _kept(sessionmaker, [a.id for a in articles], first=2, now=utcnow(), keep=30)
    assert await _lists(sessionmaker) == 3
    async with sessionmaker.begin() as session:
        await related_lists.forget_all(session)
    assert await _lists(sessionmaker) == 0


# -- through the API ------------------------------------------------------------------------

EXPLAINED = """
query Explained($slug: String!) {
  article(slug: $slug) {
    relatedPosts(first: 4) { slug }
    relatedPostsExplained(first: 4) {
      article { slug } reason score sharedTags { name }
    }
  }
}
"""

PUBLISH = """
mutation Publish($id: ID!) { publishArticle(id: $id) { errors { code } } }
"""

PIN = """
mutation Pin($id: ID!, $related: [ID!]!) {
  setRelatedPosts(id: $id, relatedIds: $related) { errors { code } }
}
"""


async def test_explained_lists_follow_publishing_and_pins_through_the_api(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, categories: list[Category]
) -> None:
    zebra, apple = (
        await make_tag(sessionmaker, name="Zebra"),
        await make_tag(sessionmaker, name="apple"),
    )
    home, away = categories[0], categories[1]
    source = await make_article(
        sessionmaker, author=author, category=home, tags=[zebra, apple], slug="source", days_ago=5
    )
    both = await make_article(
        sessionmaker, author=author, category=away, tags=[apple, zebra], slug="both", days_ago=4
    )
    await make_article(sessionmaker, author=author, category=home, slug="neighbour", days_ago=3)
    await make_article(sessionmaker, author=author, category=away, slug="stranger", days_ago=1)
    fresh = await make_article(
        sessionmaker, author=author, category=home, tags=[zebra], slug="fresh",
        status=ArticleStatus.DRAFT,
    )  # fmt: skip

    def explained(found: dict[str, Any]) -> list[tuple[str, str, int, list[str]]]:
        rows = found["article"]["relatedPostsExplained"]
        assert [r["article"]["slug"] for r in rows] == [
            post["slug"] for post in found["article"]["relatedPosts"]
        ]
        return [
            (r["article"]["slug"], r["reason"], r["score"], [t["name"] for t in r["sharedTags"]])
            for r in rows
        ]

    # Computed and kept on this first view.
    assert explained(await data(client, EXPLAINED, {"slug": "source"})) == [
        ("both", "SHARED_TAGS", 4, ["apple", "Zebra"]),
        ("neighbour", "SAME_CATEGORY", 1, []),
        ("stranger", "NEWEST", 0, []),
    ]
    editor = await bearer(sessionmaker, Role.EDITOR)
    published = await client.post(
        "/graphql",
        json={"query": PUBLISH, "variables": {"id": _gid("Article", fresh.id)}},
        headers=editor,
    )
    assert published.json()["data"]["publishArticle"]["errors"] == []
    # The kept list took the new article in: score 3 (one tag and the category).
    assert explained(await data(client, EXPLAINED, {"slug": "source"})) == [
        ("both", "SHARED_TAGS", 4, ["apple", "Zebra"]),
        ("fresh", "SHARED_TAGS", 3, ["Zebra"]),
        ("neighbour", "SAME_CATEGORY", 1, []),
        ("stranger", "NEWEST", 0, []),
    ]
    pinned = await client.post(
        "/graphql",
        json={
            "query": PIN,
            "variables": {"id": _gid("Article", source.id), "related": [_gid("Article", both.id)]},
        },
        headers=editor,
    )
    assert pinned.json()["data"]["setRelatedPosts"]["errors"] == []
    assert explained(await data(client, EXPLAINED, {"slug": "source"}))[0] == (
        "both", "PINNED", 0, ["apple", "Zebra"],
    )  # fmt: skip


async def _toggle(
    session: AsyncSession, *, target: str, at: datetime | None, now: datetime
) -> None:
    """Unpublish (``at`` None) or publish at ``at``."""
    actor = Actor(EDITOR, now)
    if at is None:
        await article_writes.unpublish_article(session, actor, article_id=target)
    else:
        await article_writes.publish_article(session, actor, article_id=target, publish_at=at)


async def test_lists_computed_while_articles_are_written_stay_exact(
    sessionmaker: Sessions, author: Author, categories: list[Category]
) -> None:
    tags = [await make_tag(sessionmaker) for _ in range(3)]
    articles = [
        await make_article(
            sessionmaker, author=author, category=categories[n % 3],
            tags=[t for i, t in enumerate(tags) if (n >> i) & 1], days_ago=n,
        )
        for n in range(12)
    ]  # fmt: skip
    ids = [a.id for a in articles]
    now = utcnow()
    rng = random.Random(7)

    async def writer() -> None:
        for _ in range(15):
            target = _gid("Article", rng.choice(ids))
            at = None if rng.random() < 0.5 else now - timedelta(hours=rng.randint(1, 300))
            await _write(sessionmaker, functools.partial(_toggle, target=target, at=at, now=now))

    async def reader() -> None:
        for _ in range(15):
            async with sessionmaker.begin() as session:
                await related_lists.forget_all(session)
            await _kept(sessionmaker, rng.sample(ids, 6), first=3, now=now, keep=3)

    await asyncio.gather(writer(), writer(), reader(), reader())
    await _check_invariants(sessionmaker)
    assert await _kept(sessionmaker, ids, first=4, now=now, keep=3) == await _scratch(
        sessionmaker, ids, first=4, now=now
    )


async def test_a_list_computed_during_a_write_waits_for_its_commit(
    sessionmaker: Sessions, author: Author, categories: list[Category]
) -> None:
    tag = await make_tag(sessionmaker)
    source = await make_article(sessionmaker, author=author, category=categories[0], tags=[tag])
    draft = await make_article(
        sessionmaker, author=author, category=categories[1], tags=[tag],
        status=ArticleStatus.DRAFT,
    )  # fmt: skip
    now = utcnow()
    async with sessionmaker.begin() as session:
        await database_of(session).begin_write(session)
        await article_writes.publish_article(
            session, Actor(EDITOR, now), article_id=_gid("Article", draft.id), publish_at=None
        )
        # The write has kept the lists there are (none yet) and is not committed.
        computing = asyncio.ensure_future(
            _kept(sessionmaker, [source.id], first=2, now=now, keep=30)
        )
        await asyncio.sleep(0.5)
        assert not computing.done()
    found = await computing
    assert found[source.id][0] == (draft.id, "shared_tags", 2)
    await _check_invariants(sessionmaker)


async def test_an_import_forgets_the_kept_lists(sessionmaker: Sessions) -> None:
    await load_demo(sessionmaker)
    async with sessionmaker() as session:
        ids = list(await session.scalars(select(Article.id)))
    now = utcnow()
    await _kept(sessionmaker, ids, first=5, now=now, keep=30)
    assert await _lists(sessionmaker) == len(ids)
    # Loading the demo again rewrites its rows in bulk, past the writes that keep lists.
    await load_demo(sessionmaker)
    assert await _lists(sessionmaker) == 0
    assert await _kept(sessionmaker, ids, first=5, now=now, keep=30) == await _scratch(
        sessionmaker, ids, first=5, now=now
    )


async def test_refreshing_a_candidate_tells_which_kept_lists_it_changed(
    sessionmaker: Sessions, author: Author, categories: list[Category]
) -> None:
    tag = await make_tag(sessionmaker)
    sharing = [
        await make_article(sessionmaker, author=author, category=categories[0], tags=[tag])
        for _ in range(3)
    ]
    apart = await make_article(sessionmaker, author=author, category=categories[1])
    draft = await make_article(
        sessionmaker, author=author, category=categories[2], tags=[tag],
        status=ArticleStatus.DRAFT,
    )  # fmt: skip
    await _kept(sessionmaker, [a.id for a in [*sharing, apart]], first=2, now=utcnow(), keep=30)
    async with sessionmaker.begin() as session:
        await related_lists.keeping_lists(session)
        row = await session.get(Article, draft.id)
        assert row is not None
        row.status, row.published_at = ArticleStatus.PUBLISHED.value, utcnow()
        await session.flush()
        assert await related_lists.refresh_candidate(session, draft.id) == {a.id for a in sharing}
        row.status, row.published_at = ArticleStatus.DRAFT.value, None
        await session.flush()
        assert await related_lists.refresh_candidate(session, draft.id) == {a.id for a in sharing}
        assert await related_lists.refresh_candidate(session, draft.id) == set()
