"""``search`` end to end (SPEC "search"): ranking, words as text, highlights, filters and
visibility, keyset paging, and an index that follows every write, on both databases."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import random
import re
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from alembic import command
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import delete, event, func, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import resolvers.search.bounds as search_bounds
import resolvers.search.postgresql as postgresql_search
from db.dialects import SQLITE, database_of
from db.engine import create_engine
from db.migration import alembic_config, upgrade
from db.models import Article, ArticleStatus, Author, Category, utcnow
from resolvers.access.viewer import Role, Viewer
from resolvers.articles.reads import ArticleFilter
from resolvers.global_ids import encode_global_id
from resolvers.search import SearchText, search_page
from tests.support.auth import bearer
from tests.support.databases import admin_execute, postgres_admin_url
from tests.support.factories import make_article, make_author, make_category, make_tag
from tests.support.graphql import data, error_codes, graphql
from tests.support.statements import StatementCounter

Sessions = async_sessionmaker[AsyncSession]

SEARCH = """
query Search($query: String!, $first: Int, $after: String, $filter: ArticleFilter) {
  search(query: $query, first: $first, after: $after, filter: $filter) {
    edges { cursor score highlights node { slug title } }
    nodes { slug }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    totalCount
  }
}
"""


async def _search(client: httpx.AsyncClient, query: str, **arguments: Any) -> dict[str, Any]:
    result: dict[str, Any] = (await data(client, SEARCH, {"query": query, **arguments}))["search"]
    return result


async def _slugs(client: httpx.AsyncClient, query: str, **arguments: Any) -> list[str]:
    return [node["slug"] for node in (await _search(client, query, **arguments))["nodes"]]


def _codes(body: dict[str, Any]) -> list[str]:
    assert body["data"] is None, body
    return error_codes(body)


@pytest.fixture
async def author(sessionmaker: Sessions) -> Author:
    return await make_author(sessionmaker, slug="ada")


@pytest.fixture
async def category(sessionmaker: Sessions) -> Category:
    return await make_category(sessionmaker, slug="science")


async def _article(
    sessionmaker: Sessions,
    author: Author,
    category: Category,
    slug: str,
    *,
    title: str = "Untitled",
    body: str = "<p>Nothing to see.</p>",
    **options: Any,
) -> Article:
    return await make_article(
        sessionmaker, author=author, category=category, slug=slug, title=title, body=body, **options
    )


# -- ranking ---------------------------------------------------------------------------------


async def test_a_title_match_ranks_above_a_body_match(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    # The body match is the newer one, so only the score can put the title match first.
    await _article(sessionmaker, author, category, "in-title", title="Glacier report", days_ago=9)
    await _article(
        sessionmaker,
        author,
        category,
        "in-body",
        body="<p>We walked up the glacier.</p>",
        days_ago=1,
    )
    await _article(sessionmaker, author, category, "elsewhere", body="<p>A desert.</p>")
    found = await _search(client, "glacier")
    assert [edge["node"]["slug"] for edge in found["edges"]] == ["in-title", "in-body"]
    assert found["edges"][0]["score"] > found["edges"][1]["score"] > 0
    assert found["totalCount"] == 2


async def test_newest_first_among_equal_scores(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    for slug, days_ago in (("middle", 5), ("newest", 1), ("oldest", 9)):
        await _article(
            sessionmaker, author, category, slug, title="Tidal power", body="<p>Same.</p>",
            days_ago=days_ago,
        )  # fmt: skip
    found = await _search(client, "tidal")
    assert [edge["node"]["slug"] for edge in found["edges"]] == ["newest", "middle", "oldest"]
    assert len({edge["score"] for edge in found["edges"]}) == 1


async def test_words_match_regardless_of_case_and_accents(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    await _article(
        sessionmaker, author, category, "cafe", title="Café society", body="<p>Naïve Zoë.</p>"
    )
    # Accents precomposed or typed as marks of their own (cafe\u0301, nai\u0308ve).
    for query in (
        "cafe",
        "CAFÉ",
        "Café",
        "cafés",
        "naive ZOE",
        "SOCIETY",
        "cafe\u0301",
        "nai\u0308ve",
    ):
        assert await _slugs(client, query) == ["cafe"], query


async def test_words_are_stemmed(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    await _article(sessionmaker, author, category, "runs", body="<p>She runs every morning.</p>")
    await _article(sessionmaker, author, category, "ran", body="<p>He ran once.</p>")
    for query in ("running", "run", "RUNS"):
        assert await _slugs(client, query) == ["runs"], query


async def test_every_word_must_match(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    await _article(sessionmaker, author, category, "both", title="Solar", body="<p>Wind too.</p>")
    await _article(sessionmaker, author, category, "solar", title="Solar only")
    await _article(sessionmaker, author, category, "wind", title="Wind only")
    assert await _slugs(client, "solar wind") == ["both"]
    assert await _slugs(client, "wind solar") == ["both"]
    assert await _slugs(client, "solar wind hydrogen") == []


# Words whose stems differ from each other on both stemmers (Porter and Snowball).
_VOCABULARY = (
    "harbour", "tariff", "glacier", "copper", "senate", "lithium", "ferry", "orchard",
    "vaccine", "pension", "drought", "satellite", "railway", "bakery", "mortgage", "festival",
    "nickel", "salmon", "canal", "opera", "quarry", "tunnel", "cobalt", "pepper", "timber",
    "violin", "castle", "wheat", "kettle", "magnet",
)  # fmt: skip


async def _word_corpus(
    sessionmaker: Sessions, author: Author, category: Category, seed: int
) -> dict[str, set[str]]:
    """Forty articles of random words, long bodies heavy with them: each slug's title words."""
    chooser = random.Random(seed)
    titles: dict[str, set[str]] = {}
    for n in range(40):
        title = chooser.sample(_VOCABULARY, 4)
        body = " ".join(chooser.choices(_VOCABULARY, k=chooser.randrange(5, 80)))
        slug = f"w{n}"
        await _article(
            sessionmaker, author, category, slug, title=" ".join(title).capitalize(),
            body=f"<p>{body}</p>", days_ago=chooser.randrange(1, 30),
        )  # fmt: skip
        titles[slug] = set(title)
    return titles


async def test_a_title_holding_every_word_ranks_first(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    titles = await _word_corpus(sessionmaker, author, category, seed=7)
    pairs = {
        pair: [slug for slug, words in titles.items() if set(pair) <= words]
        for pair in itertools.combinations(_VOCABULARY, 2)
    }
    unique = [(pair, holders[0]) for pair, holders in pairs.items() if len(holders) == 1]
    assert len(unique) >= 60
    for (one, other), slug in unique[:60]:
        edges = (await _search(client, f"{other} {one}", first=3))["edges"]
        assert edges[0]["node"]["slug"] == slug, (one, other)
        # Its score says so: 1 and more for the title holding every word, below 1 for others.
        assert edges[0]["score"] >= 1 > max([edge["score"] for edge in edges[1:]] + [0])


# -- what users type -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        '"', "'", '"rock', 'rock"', '"rock and roll"', "rock AND roll", "rock OR", "NOT rock",
        "rock NOT", "-rock", "+rock", "rock*", "*", "(rock", "rock)", "()", "title:rock",
        "body:rock", ":", "NEAR(rock roll)", "^rock", "rock^", "{rock}", "[rock]", "rock & roll",
        "rock | roll", "!rock", "rock <-> roll", "rock:*", "rock'n'roll", "\\", "%", "_",
        "'); DROP TABLE articles; --", "\u200b", "🎸", "rock\nroll",
    ],
)  # fmt: skip
async def test_anything_typed_is_text(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category,
    query: str,
) -> None:  # fmt: skip
    await _article(sessionmaker, author, category, "rock", title="Rock and roll: a history")
    body = await graphql(client, SEARCH, {"query": query})
    assert "errors" not in body, body["errors"]
    found = body["data"]["search"]
    assert found["totalCount"] == len(found["nodes"])
    assert set(_slug(node) for node in found["nodes"]) <= {"rock"}
    words = set(re.findall(r"[^\W_]+", query.casefold()))
    if words and words <= {"rock", "and", "roll"}:
        # Only words the article holds: whatever surrounds them, it is found.
        assert [_slug(node) for node in found["nodes"]] == ["rock"]


async def test_unstorable_text_in_a_query_is_bad_user_input(client: httpx.AsyncClient) -> None:
    for query in ("rock\u0000roll", "rock \ud800"):
        body = await graphql(client, SEARCH, {"query": query}, escaped=True)
        assert error_codes(body) == ["BAD_USER_INPUT"]


def _slug(node: dict[str, Any]) -> str:
    slug: str = node["slug"]
    return slug


async def test_operators_and_quotes_are_words_not_syntax(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    await _article(sessionmaker, author, category, "rock", title="Rock and roll: a history")
    await _article(sessionmaker, author, category, "jazz", title="Jazz history")
    for query in ('"rock"', "-rock", "rock*", "(rock)", "^rock:", '"rock history', "rock-roll"):
        assert await _slugs(client, query) == ["rock"], query
    # OR is a word to find, not a union: "jazz OR rock" never means "either".
    assert await _slugs(client, "jazz OR rock") == []
    # A minus is not a negation: both words must be there.
    assert await _slugs(client, "history -rock") == ["rock"]


async def test_punctuation_inside_a_word_matches_the_plain_word(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    await _article(
        sessionmaker, author, category, "held", title="Procurement reform",
        body="<p>A trade-off for O\u2019Brien\u2019s firm and O'Neill's.</p>",
    )  # fmt: skip
    await _article(sessionmaker, author, category, "spaced", body="<p>A trade off.</p>")
    for query in ("procurement's", "procurement\u2019s", "PROCUREMENT\u2019S", "procurement"):
        assert await _slugs(client, query) == ["held"], query
    for query in ("o'brien", "O\u2019Brien's", "o brien", "o'neill\u2019s"):
        assert await _slugs(client, query) == ["held"], query
    # A hyphen splits a word as a space does, in the text and in the query alike.
    for query in ("trade-off", "trade off", "trade\u2013off", "trade"):
        assert sorted(await _slugs(client, query)) == ["held", "spaced"], query


async def test_stop_words_are_dropped_from_the_query(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    await _article(sessionmaker, author, category, "union", title="The state of the union")
    await _article(sessionmaker, author, category, "budgets", title="State budgets", days_ago=2)
    # Alone they find nothing (PostgreSQL never indexes them), on both databases alike.
    for query in ("the", "The", "of the", "th\u00e9"):
        found = await _search(client, query)
        assert found["nodes"] == [] and found["totalCount"] == 0, query
    assert await _slugs(client, "the state") == await _slugs(client, "state")
    assert sorted(await _slugs(client, "the state")) == ["budgets", "union"]
    assert await _slugs(client, "union of the") == ["union"]


@pytest.mark.parametrize("query", ["!!!", '"', "...", "-", "—", "()", "*", "'"])
async def test_punctuation_alone_matches_nothing(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category,
    query: str,
) -> None:  # fmt: skip
    await _article(sessionmaker, author, category, "a", title="Anything! At all...")
    found = await _search(client, query)
    assert found["nodes"] == [] and found["totalCount"] == 0
    assert found["pageInfo"] == {
        "hasNextPage": False, "hasPreviousPage": False, "startCursor": None, "endCursor": None,
    }  # fmt: skip


@pytest.mark.parametrize("query", ["", " ", "\t\n ", "\u3000"])
async def test_an_empty_query_is_bad_user_input(client: httpx.AsyncClient, query: str) -> None:
    body = await graphql(client, SEARCH, {"query": query})
    assert _codes(body) == ["BAD_USER_INPUT"]
    assert "empty" in body["errors"][0]["message"]


async def test_a_query_of_too_many_words_is_bad_user_input(client: httpx.AsyncClient) -> None:
    many = " ".join(f"word{n}" for n in range(33))
    assert _codes(await graphql(client, SEARCH, {"query": many})) == ["BAD_USER_INPUT"]
    repeated = " ".join(["word"] * 200)
    assert "errors" not in await graphql(client, SEARCH, {"query": repeated})


# -- highlights ------------------------------------------------------------------------------


async def test_highlights_mark_the_matched_words(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    await _article(
        sessionmaker, author, category, "otters", title="Otters return",
        body="<p>Otters are back.</p><p>The river <em>otter</em> population is growing.</p>",
    )  # fmt: skip
    [edge] = (await _search(client, "otters"))["edges"]
    highlights = edge["highlights"]
    assert highlights[0] == "<mark>Otters</mark> return"
    # Stemmed matches are marked too, and tags are gone from the text.
    assert any("river <mark>otter</mark> population" in fragment for fragment in highlights)
    assert all("<em>" not in fragment for fragment in highlights)


async def test_highlights_are_escaped(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    await _article(
        sessionmaker, author, category, "escaped", title="Ben & Jerry's <b>",
        body='<p>Tom &amp; Jerry wrote &lt;script&gt;alert("x")&lt;/script&gt; about zebras.</p>',
    )  # fmt: skip
    [edge] = (await _search(client, "zebras jerry"))["edges"]
    highlights = edge["highlights"]
    assert highlights[0] == "Ben &amp; <mark>Jerry</mark>&#x27;s &lt;b&gt;"
    body = highlights[1]
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    assert "Tom &amp; <mark>Jerry</mark>" in body and "<mark>zebras</mark>" in body
    markup = re.sub(r"</?mark>", "", "".join(highlights))
    assert "<" not in markup and ">" not in markup and '"' not in markup


async def test_highlights_are_short_fragments(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    filler = " ".join(["lorem ipsum dolor sit amet"] * 40)
    await _article(
        sessionmaker, author, category, "long", title="A long read",
        body=f"<p>{filler} the heron waited. {filler} A heron again. {filler}</p>",
    )  # fmt: skip
    [edge] = (await _search(client, "heron"))["edges"]
    highlights = edge["highlights"]
    assert 1 <= len(highlights) <= 3
    for fragment in highlights:
        assert "<mark>heron</mark>" in fragment
        assert fragment.startswith("\u2026") and fragment.endswith("\u2026")
        assert len(fragment) < 200


# -- filters and visibility ------------------------------------------------------------------


async def test_drafts_and_scheduled_articles_are_never_found(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    await _article(sessionmaker, author, category, "public", title="Comet sighting")
    await _article(
        sessionmaker, author, category, "draft", title="Comet draft", status=ArticleStatus.DRAFT
    )
    await _article(
        sessionmaker, author, category, "dated-draft", title="Comet dated draft",
        status=ArticleStatus.DRAFT, published_at=utcnow() - timedelta(days=1),
    )  # fmt: skip
    await _article(
        sessionmaker, author, category, "scheduled", title="Comet scheduled",
        published_at=utcnow() + timedelta(hours=1),
    )  # fmt: skip
    found = await _search(client, "comet")
    assert [node["slug"] for node in found["nodes"]] == ["public"]
    assert found["totalCount"] == 1
    assert await _slugs(client, "scheduled") == []


async def test_filters_narrow_the_results(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    other_author = await make_author(sessionmaker, slug="bo")
    child = await make_category(sessionmaker, slug="physics", parent=category)
    elsewhere = await make_category(sessionmaker, slug="arts")
    tag = await make_tag(sessionmaker, slug="space")
    await _article(sessionmaker, author, child, "tagged", title="Nebula", tags=[tag], days_ago=3)
    await _article(sessionmaker, other_author, category, "other", title="Nebula", days_ago=2)
    await _article(sessionmaker, author, elsewhere, "arts", title="Nebula", days_ago=1)
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({}, ["arts", "other", "tagged"]),
        ({"categorySlug": "science"}, ["other", "tagged"]),
        ({"categorySlug": "physics"}, ["tagged"]),
        ({"authorSlug": "ada"}, ["arts", "tagged"]),
        ({"tagSlugs": ["space"]}, ["tagged"]),
        ({"categorySlug": "arts", "authorSlug": "bo"}, []),
        ({"publishedAfter": _iso(utcnow() - timedelta(days=2, hours=12))}, ["arts", "other"]),
        ({"publishedBefore": _iso(utcnow() - timedelta(days=2, hours=12))}, ["tagged"]),
        ({"categorySlug": "nowhere"}, []),
    ]
    for article_filter, expected in cases:
        found = await _search(client, "nebula", filter=article_filter)
        assert [node["slug"] for node in found["nodes"]] == expected, article_filter
        assert found["totalCount"] == len(expected), article_filter


def _iso(moment: datetime) -> str:
    return moment.isoformat() + "Z"


async def test_a_status_filter_needs_a_token(client: httpx.AsyncClient) -> None:
    body = await graphql(client, SEARCH, {"query": "x", "filter": {"status": ["DRAFT"]}})
    assert _codes(body) == ["UNAUTHENTICATED"]


async def test_editors_asking_for_drafts_page_through_them(
    sessionmaker: Sessions, author: Author, category: Category
) -> None:
    # Drafts may have no publication time: they come after the dated, in id order.
    ids = [
        (await _article(sessionmaker, author, category, slug, title="Quasar", **options)).id
        for slug, options in (
            ("published", {}),
            ("draft-1", {"status": ArticleStatus.DRAFT}),
            ("draft-2", {"status": ArticleStatus.DRAFT}),
        )
    ]
    editor = Viewer(role=Role.EDITOR)
    statuses = (ArticleStatus.DRAFT, ArticleStatus.PUBLISHED)
    seen: list[int] = []
    after: str | None = None
    for _ in range(4):
        async with sessionmaker() as session:
            page = await search_page(
                session, text=SearchText.parse("quasar"),
                article_filter=ArticleFilter(statuses=statuses), first=1, after=after,
                viewer=editor, now=utcnow(),
            )  # fmt: skip
        seen += [hit.article.id for hit in page.hits]
        if not page.has_next_page:
            break
        after = page.hits[-1].cursor
    assert seen == [ids[0], ids[2], ids[1]]


# -- paging ----------------------------------------------------------------------------------


_KINDS = (
    ("Aurora borealis", "aurora seen"),
    ("Night sky", "aurora aurora"),
    ("Night sky", "aurora seen"),
)


async def _ranked_corpus(sessionmaker: Sessions, author: Author, category: Category) -> None:
    """Twelve matches: three scores, each shared by two dates, each shared by two articles.

    Every article has the same length and every one matches, so that on SQLite bm25's corpus
    statistics (document count, average length) leave scores unchanged when one is deleted:
    bm25 ranks by the whole corpus, and a write between two pages moves its scores slightly.
    """
    when = utcnow() - timedelta(days=30)
    for n in range(12):
        title, body = _KINDS[n // 4]
        await _article(
            sessionmaker, author, category, f"a{n}", title=title, body=f"<p>{body}</p>",
            published_at=when + timedelta(days=n % 4 // 2),
        )  # fmt: skip


async def test_paging_walks_the_whole_ranked_list(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    await _ranked_corpus(sessionmaker, author, category)
    everything = await _search(client, "aurora", first=100)
    expected = [node["slug"] for node in everything["nodes"]]
    assert len(expected) == 12 and everything["totalCount"] == 12
    scores = [edge["score"] for edge in everything["edges"]]
    assert scores == sorted(scores, reverse=True)
    for size in (1, 2, 3, 5):
        walked: list[str] = []
        after: str | None = None
        while True:
            page = await _search(client, "aurora", first=size, after=after)
            walked += [node["slug"] for node in page["nodes"]]
            assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
            assert page["totalCount"] == 12
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
            assert after == page["edges"][-1]["cursor"]
        assert walked == expected, size


async def test_every_edge_cursor_pages_on_from_its_edge(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    await _ranked_corpus(sessionmaker, author, category)
    edges = (await _search(client, "aurora", first=100))["edges"]
    slugs = [edge["node"]["slug"] for edge in edges]
    assert len(slugs) == 12
    for index, edge in enumerate(edges):
        assert await _slugs(client, "aurora", first=100, after=edge["cursor"]) == slugs[index + 1 :]


async def test_a_cursor_keeps_its_place_when_its_article_is_deleted(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    await _ranked_corpus(sessionmaker, author, category)
    edges = (await _search(client, "aurora", first=100))["edges"]
    slugs = [edge["node"]["slug"] for edge in edges]
    async with sessionmaker.begin() as session:
        await session.execute(delete(Article).where(Article.slug == slugs[4]))
    assert await _slugs(client, "aurora", first=100, after=edges[4]["cursor"]) == slugs[5:]


async def test_a_page_of_zero_is_empty(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    await _ranked_corpus(sessionmaker, author, category)
    found = await _search(client, "aurora", first=0)
    assert found["nodes"] == [] and found["totalCount"] == 12
    assert found["pageInfo"]["hasNextPage"] is True
    assert len(await _slugs(client, "aurora")) == 12  # the default page holds 20


@pytest.mark.parametrize("first", [-1, 101, 1_000_000])
async def test_page_sizes_outside_0_to_100_are_refused(
    client: httpx.AsyncClient, first: int
) -> None:
    assert _codes(await graphql(client, SEARCH, {"query": "x", "first": first})) == [
        "BAD_USER_INPUT"
    ]


def _cursor(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


async def test_bad_cursors_are_bad_user_input(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    await _ranked_corpus(sessionmaker, author, category)
    good = (await _search(client, "aurora", first=1))["pageInfo"]["endCursor"]
    payload = json.loads(base64.urlsafe_b64decode(good + "=" * (-len(good) % 4)))
    bad = [
        "", "x", "!!!", _cursor("SEARCH"), _cursor([]), _cursor(payload[:4]),
        _cursor([*payload[:2], "nan", *payload[3:]]),
        _cursor([*payload[:2], float("inf").hex(), *payload[3:]]),
        _cursor([*payload[:2], 1.5, *payload[3:]]),
        _cursor([*payload[:3], "yesterday", payload[4]]),
        _cursor([*payload[:3], "2024-01-01T00:00:00+02:00", payload[4]]),
        _cursor([*payload[:4], -1]), _cursor([*payload[:4], 2**31]), _cursor([*payload[:4], True]),
        _cursor([*payload[:4], "1"]), _cursor(["NEWEST", *payload[1:]]),
    ]  # fmt: skip
    for cursor in bad:
        body = await graphql(client, SEARCH, {"query": "aurora", "after": cursor})
        assert _codes(body) == ["BAD_USER_INPUT"], cursor
    # A cursor is tied to its search: another query's cursor is refused, not misread.
    body = await graphql(client, SEARCH, {"query": "night sky", "after": good})
    assert _codes(body) == ["BAD_USER_INPUT"]
    assert "another search" in body["errors"][0]["message"]
    # The same words in another case or order are the same search.
    assert await _slugs(client, "AURORA", first=1, after=good)


async def test_an_articles_cursor_is_refused(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    await _ranked_corpus(sessionmaker, author, category)
    listing = await data(client, "{ articles(first: 1) { pageInfo { endCursor } } }")
    cursor = listing["articles"]["pageInfo"]["endCursor"]
    assert _codes(await graphql(client, SEARCH, {"query": "aurora", "after": cursor})) == [
        "BAD_USER_INPUT"
    ]


# -- the index follows the data --------------------------------------------------------------


async def test_the_index_follows_every_write(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    async def found(query: str) -> list[str]:
        return await _slugs(client, query)

    article = await _article(
        sessionmaker, author, category, "kestrel", title="Kestrel spotted",
        body="<p>A falcon over the <b>meadow</b>.</p>",
    )  # fmt: skip
    assert await found("kestrel") == ["kestrel"]
    assert await found("falcon meadow") == ["kestrel"]

    async def write(**values: Any) -> None:
        async with sessionmaker.begin() as session:
            await session.execute(update(Article).where(Article.id == article.id).values(**values))

    await write(title="Osprey spotted")
    assert await found("kestrel") == []
    assert await found("osprey") == ["kestrel"]
    assert await found("falcon") == ["kestrel"]

    await write(body="<p>A hawk over the marsh.</p>")
    assert await found("falcon") == [] and await found("meadow") == []
    assert await found("hawk marsh osprey") == ["kestrel"]

    await write(excerpt="Rare bird sighting")
    assert await found("rare sighting") == ["kestrel"]

    await write(status=ArticleStatus.DRAFT.value, published_at=None, version=Article.version + 1)
    assert await found("osprey") == []
    await write(status=ArticleStatus.PUBLISHED.value, published_at=utcnow() - timedelta(minutes=1))
    assert await found("osprey") == ["kestrel"]

    await write(published_at=utcnow() + timedelta(days=1))
    assert await found("osprey") == []
    await write(published_at=utcnow() - timedelta(minutes=1))

    async with sessionmaker.begin() as session:
        await session.execute(delete(Article).where(Article.id == article.id))
    assert await found("osprey") == [] and await found("hawk") == []

    # A new article reusing nothing of the old one is found by its own words only.
    await _article(sessionmaker, author, category, "heron", title="Heron", body="<p>Grey.</p>")
    assert await found("osprey") == []
    assert await found("heron grey") == ["heron"]


_WRITES = {
    "create": """
        mutation Create($input: CreateArticleInput!) {
          createArticle(input: $input) { article { id } errors { message } }
        }
    """,
    "update": """
        mutation Update($id: ID!, $input: UpdateArticleInput!) {
          updateArticle(id: $id, input: $input) { errors { message } }
        }
    """,
    "publish": "mutation P($id: ID!) { publishArticle(id: $id) { errors { message } } }",
    "unpublish": "mutation U($id: ID!) { unpublishArticle(id: $id) { errors { message } } }",
    "delete": "mutation D($id: ID!) { deleteArticle(id: $id) { errors { message } } }",
}


async def test_writes_through_the_api_are_searchable_at_once(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    editor = await bearer(sessionmaker, Role.EDITOR)

    async def write(mutation: str, **variables: Any) -> dict[str, Any]:
        body = await graphql(client, _WRITES[mutation], variables, headers=editor)
        assert "errors" not in body, body["errors"]
        (payload,) = body["data"].values()
        assert payload["errors"] == [], payload["errors"]
        result: dict[str, Any] = payload
        return result

    async def found(query: str, headers: dict[str, str] | None = None) -> list[str]:
        # With a token, drafts too (an editor may ask for them).
        statuses = {"filter": {"status": ["DRAFT", "PUBLISHED"]}} if headers else {}
        body = await graphql(client, SEARCH, {"query": query, **statuses}, headers=headers)
        assert "errors" not in body, body["errors"]
        return [node["slug"] for node in body["data"]["search"]["nodes"]]

    created = await write(
        "create",
        input={
            "title": "Puffin colony", "slug": "puffins", "body": "<p>Cliffs of <b>Skomer</b>.</p>",
            "authorId": encode_global_id("Author", author.id),
            "categoryId": encode_global_id("Category", category.id),
        },
    )  # fmt: skip
    article_id = created["article"]["id"]
    assert await found("puffin") == []  # a draft
    assert await found("puffin", editor) == ["puffins"]
    await write("publish", id=article_id)
    assert await found("puffin skomer") == ["puffins"]
    await write(
        "update", id=article_id, input={"title": "Gannet colony", "body": "<p>Bass Rock.</p>"}
    )
    assert await found("puffin") == [] and await found("skomer") == []
    assert await found("gannet bass rock") == ["puffins"]
    await write("unpublish", id=article_id)
    assert await found("gannet") == []
    assert await found("gannet", editor) == ["puffins"]
    await write("delete", id=article_id)
    assert await found("gannet", editor) == []


async def test_many_writes_leave_an_index_that_matches_the_table(
    sessionmaker: Sessions, engine: AsyncEngine, author: Author, category: Category, dialect: str
) -> None:
    rows = [
        {
            "slug": f"bulk-{n}", "title": f"Bulk {n} lynx" if n % 2 else f"Bulk {n}",
            "excerpt": "", "body": f"<p>row {n} <i>lynx</i></p>" if n % 3 else "<p>none</p>",
            "status": "published", "published_at": utcnow() - timedelta(days=1),
            "created_at": utcnow(), "updated_at": utcnow(), "version": 1, "word_count": 3,
            "author_id": author.id, "category_id": category.id,
        }
        for n in range(60)
    ]  # fmt: skip
    async with sessionmaker.begin() as session:
        await session.execute(insert(Article), rows)
        await session.execute(
            update(Article).where(Article.slug.like("bulk-1%")).values(body="<p>lynx</p>")
        )
        await session.execute(delete(Article).where(Article.slug.like("bulk-2%")))
    async with sessionmaker() as session:
        expected = set(
            await session.scalars(
                select(Article.slug).where(
                    Article.title.contains("lynx") | Article.body.contains("lynx")
                )
            )
        )
        page = await search_page(
            session, text=SearchText.parse("lynx"), article_filter=None, first=100, after=None,
            viewer=Viewer(), now=utcnow(),
        )  # fmt: skip
    assert {hit.article.slug for hit in page.hits} == expected
    if dialect == "sqlite":
        async with engine.begin() as connection:
            await connection.exec_driver_sql(
                "INSERT INTO article_search (article_search, rank) VALUES ('integrity-check', 1)"
            )


# -- bounded ranking (resolvers/search/bounds.py: only the newest matches are scored) -------


# PostgreSQL finds each candidate list by a walk or by the GIN index, as a probe decides
# (resolvers/search.py, _pg_candidates); every path must give the same lists.
_PATHS = ["probed", "walked", "walk-cut-short", "indexed"]


def _force_path(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    if path in ("walked", "walk-cut-short"):
        # Walking always looks cheaper, and sure to end in time.
        monkeypatch.setattr(postgresql_search, "_WALK_MARGIN", 0)
        monkeypatch.setattr(postgresql_search, "_WALK_COST", 0)
    if path == "walk-cut-short":
        monkeypatch.setattr(postgresql_search, "WALK_ROWS", 1)  # then the index finishes the list
    if path == "indexed":
        monkeypatch.setattr(postgresql_search, "_WALK_MARGIN", 10**9)


@pytest.fixture(params=_PATHS)
def small_windows(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, dialect: str
) -> None:
    """Candidate lists of three matches and two title matches, so a dozen articles exceed them."""
    if dialect == "sqlite" and request.param != "probed":
        pytest.skip("SQLite has one path: FTS5 hands its matches over newest first")
    _force_path(monkeypatch, request.param)
    monkeypatch.setattr(search_bounds, "CANDIDATES", 3)
    monkeypatch.setattr(search_bounds, "TITLE_CANDIDATES", 2)


async def _walk(client: httpx.AsyncClient, query: str, size: int, **arguments: Any) -> list[str]:
    walked: list[str] = []
    after: str | None = None
    while True:
        page = await _search(client, query, first=size, after=after, **arguments)
        walked += [node["slug"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            return walked
        after = page["pageInfo"]["endCursor"]


@pytest.mark.usefixtures("small_windows")
async def test_beyond_the_candidates_the_newest_matches_and_title_matches_are_ranked(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    # Created oldest first: ids follow creation, and the candidates are the highest ids.
    await _article(sessionmaker, author, category, "old-title", title="Glacier", days_ago=40)
    await _article(
        sessionmaker, author, category, "old-body", body="<p>A glacier.</p>", days_ago=30
    )
    for n in range(4):
        await _article(
            sessionmaker, author, category, f"new-body-{n}", body="<p>A glacier.</p>",
            days_ago=10 - n,
        )  # fmt: skip
    found = await _search(client, "glacier", first=100)
    slugs = [node["slug"] for node in found["nodes"]]
    # The old title match still ranks first; the newest three body matches follow, newest
    # first (equal scores); older body-only matches are outside the candidates.
    assert slugs == ["old-title", "new-body-3", "new-body-2", "new-body-1"]
    assert found["pageInfo"]["hasNextPage"] is False
    assert found["totalCount"] == 4  # what paging reaches: the candidates
    for size in (1, 2, 3):
        assert await _walk(client, "glacier", size) == slugs, size


@pytest.mark.usefixtures("small_windows")
async def test_within_the_candidates_the_ranking_is_exact(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    # Three matches (no more than the candidates): exactly today's full ranking.
    await _article(sessionmaker, author, category, "title", title="Fjord", days_ago=9)
    await _article(sessionmaker, author, category, "b1", body="<p>A fjord.</p>", days_ago=5)
    await _article(sessionmaker, author, category, "b2", body="<p>A fjord.</p>", days_ago=1)
    assert await _slugs(client, "fjord") == ["title", "b2", "b1"]


@pytest.mark.usefixtures("small_windows")
async def test_the_candidates_are_taken_after_the_filter_and_visibility(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    elsewhere = await make_category(sessionmaker, slug="arts")
    await _article(sessionmaker, author, category, "wanted-1", body="<p>Tundra.</p>", days_ago=9)
    await _article(sessionmaker, author, category, "wanted-2", body="<p>Tundra.</p>", days_ago=8)
    for n in range(4):
        await _article(
            sessionmaker, author, elsewhere, f"other-{n}", body="<p>Tundra.</p>", days_ago=n
        )
    for n in range(4):
        await _article(
            sessionmaker, author, category, f"draft-{n}", body="<p>Tundra.</p>",
            status=ArticleStatus.DRAFT,
        )  # fmt: skip
    found = await _search(client, "tundra", filter={"categorySlug": "science"})
    assert [node["slug"] for node in found["nodes"]] == ["wanted-2", "wanted-1"]
    assert found["totalCount"] == 2


@pytest.mark.usefixtures("small_windows")
async def test_the_total_count_is_what_paging_reaches(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category
) -> None:
    for n in range(7):
        await _article(sessionmaker, author, category, f"s{n}", body="<p>Steppe.</p>", days_ago=n)
    found = await _search(client, "steppe", first=100)
    assert len(found["nodes"]) == 3 and found["totalCount"] == 3
    # Past the end, where the page cannot tell, the count is the same.
    after = found["pageInfo"]["endCursor"]
    assert (await _search(client, "steppe", after=after))["totalCount"] == 3


_PROPERTY = hypothesis_settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_PROPERTY
@given(
    words=st.lists(st.sampled_from(_VOCABULARY), min_size=1, max_size=2, unique=True),
    decoration=st.sampled_from(["", "'s", "\u2019s", " the", "-"]),
    size=st.integers(1, 6),
)
@pytest.mark.usefixtures("small_windows")
async def test_paging_walks_one_result_set_exactly_once(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category,
    monkeypatch: pytest.MonkeyPatch, words: list[str], decoration: str, size: int,
) -> None:  # fmt: skip
    # Windows smaller than most queries' matches, so the bounded set is what is paged.
    monkeypatch.setattr(search_bounds, "CANDIDATES", 8)
    monkeypatch.setattr(search_bounds, "TITLE_CANDIDATES", 3)
    async with sessionmaker() as session:
        if not await session.scalar(select(func.count()).select_from(Article)):
            await _word_corpus(sessionmaker, author, category, seed=11)
    query = " ".join(word + decoration for word in words)
    whole = await _search(client, query, first=100)
    expected = [node["slug"] for node in whole["nodes"]]
    assert whole["totalCount"] == len(expected) <= 11
    walked: list[str] = []
    after: str | None = None
    while True:
        page = await _search(client, query, first=size, after=after)
        assert page["totalCount"] == len(expected)
        walked += [node["slug"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert walked == expected, (query, size)
    if after is not None:
        beyond = await _search(client, query, first=size, after=page["pageInfo"]["endCursor"])
        assert beyond["nodes"] == [] and beyond["totalCount"] == len(expected)


# -- statements and plans --------------------------------------------------------------------


async def test_a_search_costs_two_statements_whatever_the_page_size(
    client: httpx.AsyncClient, sessionmaker: Sessions, author: Author, category: Category,
    statements: StatementCounter,
) -> None:  # fmt: skip
    await _ranked_corpus(sessionmaker, author, category)
    for first in (0, 1, 12):
        statements.reset()
        found = await _search(client, "aurora", first=first)
        assert len(found["edges"]) == first and found["totalCount"] == 12
        # The page with the total, then the highlights of all its edges in one.
        assert statements.count == (2 if first else 1), statements.statements
    # Past the end the page cannot tell the total: one more statement counts.
    last = (await _search(client, "aurora", first=12))["pageInfo"]["endCursor"]
    statements.reset()
    found = await _search(client, "aurora", after=last)
    assert found["edges"] == [] and found["totalCount"] == 12
    assert statements.count == 2, statements.statements


async def _page_statement(
    client: httpx.AsyncClient, engine: AsyncEngine, query: str, expected: list[str]
) -> tuple[str, Any]:
    """The SQL (and parameters) of the statement that found a search's page."""
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Connection, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "ORDER BY" in statement:
            captured.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        assert await _slugs(client, query) == expected
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    [found] = captured
    return found


async def _plan_rows(engine: AsyncEngine, statement: str, parameters: Any) -> dict[str, int]:
    """Rows each CTE of a PostgreSQL plan returned when the statement ran."""
    async with engine.connect() as connection:
        result = await connection.exec_driver_sql(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters
        )
        plan = result.scalar_one()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    rows: dict[str, int] = {}

    def visit(node: dict[str, Any]) -> None:
        name = node.get("Subplan Name", "")
        if name.startswith("CTE "):
            rows[name.removeprefix("CTE ")] = node.get("Actual Rows", 0)
        for child in node.get("Plans", []):
            visit(child)

    visit(plan[0]["Plan"])
    return rows


async def test_the_search_uses_the_full_text_index(
    client: httpx.AsyncClient, sessionmaker: Sessions, engine: AsyncEngine,
    author: Author, category: Category, dialect: str,
) -> None:  # fmt: skip
    words = ["harbour", "market", "council", "river", "school", "budget", "festival", "bridge"]
    rows = [
        {
            "slug": f"filler-{n}", "title": f"{words[n % 8]} news {n}", "excerpt": "",
            "body": f"<p>{words[(n * 3) % 8]} and {words[(n * 5) % 8]} today.</p>",
            "status": "published", "published_at": utcnow() - timedelta(minutes=n),
            "created_at": utcnow(), "updated_at": utcnow(), "version": 1, "word_count": 5,
            "author_id": author.id, "category_id": category.id,
        }
        for n in range(3000)
    ]  # fmt: skip
    async with sessionmaker.begin() as session:
        await session.execute(insert(Article), rows)
    await _article(sessionmaker, author, category, "rare", title="Walrus")
    async with engine.begin() as connection:
        await connection.exec_driver_sql("ANALYZE")

    statement, parameters = await _page_statement(client, engine, "walrus", ["rare"])
    explain = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
    async with engine.connect() as connection:
        if dialect == "postgresql":
            # A few thousand small rows fit in a few pages, where reading them all is cheaper;
            # the question is which index the planner reaches for when it must not.
            await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        result = await connection.exec_driver_sql(explain + statement, parameters)
        plan = "\n".join(str(row[-1]) for row in result)
    if dialect == "sqlite":
        # The full-text query runs once; each match is then looked up by id, never an article
        # index walked with the full-text query run once per article.
        lines = [line.strip() for line in plan.splitlines()]
        fts = [line for line in lines if line.startswith("SCAN article_search VIRTUAL TABLE")]
        assert fts and ":M" in fts[0], plan  # idxStr "M": the MATCH constraint is used
        for line in lines:
            # The one other seek: the articles past a scheduled unpublish (Article.is_public),
            # read once for the whole query (a list subquery), not once per match.
            if line.startswith(("SCAN articles", "SEARCH articles")) and (
                "ix_articles_unpublish_at (unpublish_at<?)" not in line
            ):
                assert "(rowid=?)" in line or "(id=?" in line, plan
    else:
        assert "ix_articles_search_document" in plan, plan
        assert "Seq Scan" not in plan, plan


async def test_postgresql_walks_for_a_common_query_and_reads_the_index_for_a_rare_one(
    client: httpx.AsyncClient, sessionmaker: Sessions, engine: AsyncEngine,
    author: Author, category: Category, dialect: str, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    if dialect != "postgresql":
        pytest.skip("SQLite has one path: FTS5 hands its matches over newest first")
    monkeypatch.setattr(search_bounds, "CANDIDATES", 3)
    monkeypatch.setattr(search_bounds, "TITLE_CANDIDATES", 2)
    await _article(sessionmaker, author, category, "oldest", title="Puffin", days_ago=30)
    rows = [
        {
            "slug": f"news-{n}", "title": f"Tide report {n}", "excerpt": "",
            "body": "<p>Tide tables.</p>", "status": "published",
            "published_at": utcnow() - timedelta(minutes=400 - n), "created_at": utcnow(),
            "updated_at": utcnow(), "version": 1, "word_count": 2,
            "author_id": author.id, "category_id": category.id,
        }
        for n in range(400)
    ]  # fmt: skip
    async with sessionmaker.begin() as session:
        await session.execute(insert(Article), rows)
    async with engine.begin() as connection:
        await connection.exec_driver_sql("ANALYZE")

    # Every sampled article says "tide": the walk finds the newest three in three rows.
    newest = [f"news-{n}" for n in (399, 398, 397)]
    common = await _plan_rows(engine, *await _page_statement(client, engine, "tide", newest))
    assert common["walked_document"] == 3 and common["walked_title"] == 2, common
    # No sampled article says "puffin": nothing is walked, and the GIN index finds the one.
    rare = await _plan_rows(engine, *await _page_statement(client, engine, "puffin", ["oldest"]))
    assert rare["walked_document"] == 0 and rare["walked_title"] == 0, rare


# -- the migration ---------------------------------------------------------------------------


async def _count_matches(url: str, dialect: str, word: str) -> int:
    engine = create_engine(url)
    if dialect == "sqlite":
        statement = "SELECT count(*) FROM article_search WHERE article_search MATCH :word"
    else:
        statement = (
            "SELECT count(*) FROM articles "
            "WHERE search_document @@ plainto_tsquery('masthead_search', :word)"
        )
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(text(statement), {"word": word})).scalar_one())
    finally:
        await engine.dispose()


async def _insert_raw_article(url: str) -> None:
    engine = create_engine(url)
    statements = [
        "INSERT INTO authors (id, slug, name) VALUES (1, 'a', 'A')",
        "INSERT INTO categories (id, slug, name) VALUES (1, 'c', 'C')",
        "INSERT INTO articles (id, slug, title, excerpt, body, status, published_at, created_at,"
        " updated_at, version, word_count, author_id, category_id) VALUES (1, 'p', 'Pelican',"
        " '', '<p>Résumé</p>', 'published', '2020-01-01', '2020-01-01', '2020-01-01', 1, 1, 1, 1)",
    ]
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
async def scratch_url(dialect: str, tmp_path: Any) -> Any:
    """A database of its own (not the session's), which a test may migrate down and up."""
    if dialect == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"
        return
    admin = postgres_admin_url()
    assert admin is not None
    name = f"masthead_search_{uuid.uuid4().hex[:12]}"
    await admin_execute(admin, f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        await admin_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_the_migration_indexes_existing_rows_and_reverses(
    scratch_url: str, dialect: str
) -> None:
    # Alembic runs its own event loop: off this one, in a thread.
    await asyncio.to_thread(upgrade, scratch_url, "0001")
    await _insert_raw_article(scratch_url)
    await asyncio.to_thread(upgrade, scratch_url)
    assert await _count_matches(scratch_url, dialect, "pelican") == 1
    assert await _count_matches(scratch_url, dialect, "resume") == 1
    config = alembic_config(scratch_url)
    await asyncio.to_thread(command.downgrade, config, "0001")
    engine = create_engine(scratch_url)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(_search_objects)
    finally:
        await engine.dispose()
    assert names == []
    await asyncio.to_thread(upgrade, scratch_url)
    assert await _count_matches(scratch_url, dialect, "pelican") == 1


async def test_postgresql_keeps_an_articles_search_vector_in_its_row(
    client: httpx.AsyncClient, sessionmaker: Sessions, engine: AsyncEngine,
    author: Author, category: Category, dialect: str,
) -> None:  # fmt: skip
    if dialect != "postgresql":
        pytest.skip("SQLite keeps its search index in the FTS5 table")
    # Words that do not compress: a body of some 2.3 KB and a vector of some 3.5 KB, so the
    # row is past the 2 KB where PostgreSQL starts moving values out of line.
    words = [uuid.uuid4().hex[:8] for _ in range(250)]
    await _article(sessionmaker, author, category, "long", body=f"<p>{' '.join(words)}</p>")
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT attname::text, attstorage::text FROM pg_attribute"
                " WHERE attrelid = 'articles'::regclass AND attname LIKE 'search_%'"
            )
        )
        storage = {str(name): str(kind) for name, kind in rows.all()}
        toast = await connection.scalar(
            text("SELECT reltoastrelid::regclass::text FROM pg_class WHERE relname = 'articles'")
        )
        out_of_line = (
            await connection.exec_driver_sql(f"SELECT count(DISTINCT chunk_id) FROM {toast}")
        ).scalar_one()
    # Migration 0004: the body goes out of line; both vectors stay in the row.
    assert storage == {"search_document": "m", "search_title": "m"}
    assert out_of_line == 1
    assert await _slugs(client, words[-1]) == ["long"]


def _search_objects(connection: Connection) -> Sequence[str]:
    if database_of(connection) is SQLITE:
        query = "SELECT name FROM sqlite_master WHERE name LIKE '%search%'"
    else:
        query = (
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'articles' AND column_name LIKE '%search%'"
            " UNION ALL SELECT cfgname FROM pg_ts_config WHERE cfgname LIKE '%masthead%'"
            " UNION ALL SELECT proname FROM pg_proc WHERE proname LIKE 'masthead%'"
        )
    return [row[0] for row in connection.execute(text(query))]
