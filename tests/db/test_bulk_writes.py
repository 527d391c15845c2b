"""The bulk writer an import puts new articles through (``db.dialects.BulkWriter``): rows
stored exactly as an INSERT stores them, on both databases; and on SQLite, where it gives the
full-text index each body's text itself, that text exactly what the index's own view gives,
or removing the article later would take out the wrong words."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.dialects import database_of, search_text
from db.models import Article, Base
from tests.support.factories import make_author, make_category

Sessions = async_sessionmaker[AsyncSession]
_ARTICLES = Base.metadata.tables[Article.__tablename__]

BODIES = [
    "",
    "plain words",
    "<p>one</p>\n<p>two</p>",
    "<p>a<em>b</em>c</p>",
    "ends in a tag<br>",
    "<br>starts with one",
    "an unclosed <tag and the rest",
    "a > b, then <p>c</p> > d",
    "<<p>>doubled<</p>>",
    '<a href="https://example.org/?a=1&amp;b=2" title="x>y">link</a> after',
    "<p>&lt;tag&gt; &quot;quoted&quot; &#39;single&#39; a&nbsp;b &amp;lt; &amp;amp;</p>",
    "&amp;&amp; &lt &gt;&gt; &#39 &nbsp",
    "<p>Zoë, Łukasz and Müller: “curly” — dash</p>",
    "<p>tab\tand\nnewline</p>   <p> spaced </p>",
    "<",
    ">",
    "<>",
    "<p></p>",
]

# Text made mostly of what the stripping looks at: brackets, entities and their pieces.
_PIECES = [*"<>&;/\"' apé\n", "&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&nbsp;", "<p>", "</p>"]
_MARKUP = st.lists(st.sampled_from(_PIECES), max_size=30).map("".join)


async def _view_text(sessionmaker: Sessions, bodies: list[str]) -> list[str]:
    """What the view ``article_search_text`` (migration 0002) gives for each body."""
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    async with sessionmaker() as session:
        await session.execute(
            insert(Article),
            [
                {
                    "slug": f"body-{number}",
                    "title": "Title",
                    "excerpt": "",
                    "body": body,
                    "status": "draft",
                    "author_id": author.id,
                    "category_id": category.id,
                }
                for number, body in enumerate(bodies)
            ],
        )
        ids = (await session.scalars(select(Article.id).order_by(Article.id))).all()
        found = await session.execute(text("SELECT id, body FROM article_search_text"))
        stripped: dict[int, str] = {article_id: body for article_id, body in found}
        await session.rollback()
    return [stripped[article_id] for article_id in ids]


# SQLite only: PostgreSQL computes its search vectors itself, in generated columns.
_ON_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@_ON_SQLITE
async def test_a_body_is_given_the_text_the_search_view_gives(sessionmaker: Sessions) -> None:
    assert [search_text(body) for body in BODIES] == await _view_text(sessionmaker, BODIES)


@_ON_SQLITE
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(bodies=st.lists(_MARKUP, min_size=1, max_size=20))
async def test_any_markup_is_stripped_as_the_view_strips_it(
    sessionmaker: Sessions, bodies: list[str]
) -> None:
    assert [search_text(body) for body in bodies] == await _view_text(sessionmaker, bodies)


def _articles(first: int, author_id: int, category_id: int, *, nul: bool) -> list[dict[str, Any]]:
    """Articles holding each kind of value a column takes, under ids from ``first``."""
    published = datetime(2024, 5, 1, 9, 30)
    title = "A NUL\x00in the title" if nul else "Zoë\u2019s \u201cquoted\u201d title"
    return [
        {
            "id": first + number,
            "slug": f"bulk-{first + number}",
            "title": title if number == 0 else f"Title {number}",
            "excerpt": "Ünïcode, tabs\tand \\ backslashes",
            "body": "<p>One &amp; two</p>\n<p>three</p>",
            "status": "published" if number % 2 else "draft",
            "published_at": published + timedelta(microseconds=number) if number % 2 else None,
            "updated_at": published + timedelta(days=number, microseconds=123456),
            "created_at": published,
            "version": number + 1,
            "word_count": 3,
            "author_id": author_id,
            "category_id": category_id,
        }
        for number in range(4)
    ]


@pytest.mark.parametrize("nul", [False, True])
async def test_rows_written_in_bulk_are_stored_as_an_insert_stores_them(
    sessionmaker: Sessions, dialect: str, nul: bool
) -> None:
    if nul and dialect != "sqlite":
        pytest.skip("PostgreSQL's text cannot hold NUL, whichever way it is written")
    author = await make_author(sessionmaker)
    category = await make_category(sessionmaker)
    bulk = _articles(1, author.id, category.id, nul=nul)
    one_by_one = _articles(101, author.id, category.id, nul=nul)
    columns = list(bulk[0])
    async with sessionmaker.begin() as session:
        await database_of(session).begin_write(session)
        connection = await session.connection()
        writer = database_of(connection).bulk_writer(connection)
        await writer.insert(_ARTICLES, columns, [tuple(row.values()) for row in bulk])
        await connection.execute(insert(_ARTICLES), one_by_one)
    async with sessionmaker() as session:
        # The values as stored, not as the column types read them back.
        stored = (await session.execute(text("SELECT * FROM articles ORDER BY id"))).all()
    assert len(stored) == 8
    written, inserted = stored[:4], stored[4:]
    for left, right in zip(written, inserted, strict=True):
        keyed = dict(left._mapping), dict(right._mapping)
        for row in keyed:
            row.pop("id")
            row.pop("slug")
        assert keyed[0] == keyed[1]
