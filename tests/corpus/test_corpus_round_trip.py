"""A lossless export (SPEC "Command line": ``masthead export``): what the API made of the
content (old slugs that keep resolving, creation times, versions) survives export, import into
an empty database and export again byte for byte; import restores it, never dropping a field
it does not know nor letting two articles claim the same slug, current or former."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Article, ArticleSlug, Base, Category
from masthead.corpus.exporter import export_corpus
from masthead.corpus.importer import CorpusError, import_corpus
from resolvers.access.viewer import Role
from resolvers.global_ids import encode_global_id
from tests.support.auth import bearer
from tests.support.cli import masthead
from tests.support.graphql import data, graphql

Sessions = async_sessionmaker[AsyncSession]
Record = dict[str, Any]

ARTICLE_BY_SLUG = """
query ArticleBySlug($slug: String!) { article(slug: $slug) { slug version createdAt } }
"""
CREATE_ARTICLE = """
mutation Create($input: CreateArticleInput!) {
  createArticle(input: $input) { article { id slug version } errors { code } }
}
"""
UPDATE_ARTICLE = """
mutation Update($id: ID!, $input: UpdateArticleInput!) {
  updateArticle(id: $id, input: $input) { article { slug version } errors { field code } }
}
"""
PUBLISH_ARTICLE = """
mutation Publish($id: ID!, $publishAt: DateTime) {
  publishArticle(id: $id, publishAt: $publishAt) { article { version } errors { code } }
}
"""

SITE: list[Record] = [
    {"type": "author", "key": "a1", "slug": "ann", "name": "Ann", "bio": None, "avatar_url": None},
    {
        "type": "category",
        "key": "c1",
        "slug": "news",
        "name": "News",
        "description": None,
        "parent": None,
    },
    {
        "type": "category",
        "key": "c2",
        "slug": "local",
        "name": "Local",
        "description": "Around town.",
        "parent": "c1",
    },
    {"type": "tag", "key": "t1", "slug": "budget", "name": "budget"},
    {"type": "tag", "key": "t2", "slug": "tenders", "name": "tenders"},
]


def _article(number: int, slug: str, **fields: Any) -> Record:
    published = fields.pop("status", "published") == "published"
    return {
        "type": "article",
        "key": f"p{number}",
        "slug": slug,
        "title": f"Story {number}",
        "excerpt": "Words.",
        "body": "<p>Words.</p>",
        "status": "published" if published else "draft",
        "published_at": f"2024-01-0{number}T10:00:00Z" if published else None,
        "updated_at": f"2024-01-0{number}T12:00:00Z",
        "author": "a1",
        "category": "c2",
        "tags": ["t1"],
        "related": [],
    } | fields


def _lines(records: list[Record]) -> list[str]:
    return [json.dumps(record, ensure_ascii=False, separators=(",", ":")) for record in records]


def _by_key(text: str) -> dict[str, Record]:
    return {record["key"]: record for record in map(json.loads, text.splitlines())}


async def _export(sessionmaker: Sessions) -> str:
    out = io.StringIO()
    await export_corpus(sessionmaker, out)
    return out.getvalue()


async def _empty(sessionmaker: Sessions) -> None:
    """Delete every row, leaving the migrated tables as a new database has them."""
    async with sessionmaker.begin() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name == Category.__tablename__:
                # Subcategories first: a parent may not go while a child names it.
                await session.execute(delete(Category).where(Category.parent_id.is_not(None)))
            await session.execute(delete(table))
        assert await session.scalar(select(func.count()).select_from(Article)) == 0


async def _article_row(sessionmaker: Sessions, article_id: int) -> Article:
    async with sessionmaker() as session:
        return await session.get_one(Article, article_id)


async def _former_slugs(sessionmaker: Sessions) -> dict[str, int]:
    async with sessionmaker() as session:
        rows = await session.execute(select(ArticleSlug.slug, ArticleSlug.article_id))
        return {slug: article_id for slug, article_id in rows}


async def _previous_slugs(sessionmaker: Sessions, key: str = "p1") -> list[str]:
    """The ``previous_slugs`` the export writes for the article ``key``."""
    previous: list[str] = _by_key(await _export(sessionmaker))[key]["previous_slugs"]
    return previous


async def _mutate(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    body = await graphql(client, query, variables, headers=headers)
    assert "errors" not in body, body["errors"]
    (payload,) = body["data"].values()
    assert payload["errors"] == [], payload["errors"]
    result: dict[str, Any] = payload["article"]
    return result


async def test_export_import_export_is_byte_identical_and_old_slugs_resolve(
    sessionmaker: Sessions, client: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    records = [
        *SITE,
        _article(1, "first-story"),
        _article(2, "second-story", related=["p1"], tags=["t1", "t2"]),
        _article(3, "draft-story", status="draft"),
    ]
    await import_corpus(sessionmaker, _lines(records))
    editor = await bearer(sessionmaker, Role.EDITOR)
    first, draft = encode_global_id("Article", 1), encode_global_id("Article", 3)
    # A published article renamed twice keeps both old slugs; a draft keeps none.
    for slug in ("first-story-renamed", "first-story-final"):
        await _mutate(client, UPDATE_ARTICLE, {"id": first, "input": {"slug": slug}}, editor)
    await _mutate(client, UPDATE_ARTICLE, {"id": draft, "input": {"slug": "draft-2"}}, editor)
    # Created now, scheduled for later: its creation time is neither of its other times.
    created = await _mutate(
        client,
        CREATE_ARTICLE,
        {
            "input": {
                "title": "Made through the API",
                "body": "<p>Fresh.</p>",
                "authorId": encode_global_id("Author", 1),
                "categoryId": encode_global_id("Category", 1),
            }
        },
        editor,
    )
    variables = {"id": created["id"], "publishAt": "2030-01-01T06:00:00Z"}
    await _mutate(client, PUBLISH_ARTICLE, variables, editor)
    made = await _article_row(sessionmaker, 4)

    exported = await _export(sessionmaker)

    lines = _by_key(exported)
    assert lines["p1"]["slug"] == "first-story-final"
    assert lines["p1"]["previous_slugs"] == ["first-story", "first-story-renamed"]
    assert lines["p1"]["created_at"] == "2024-01-01T10:00:00Z"
    assert lines["p1"]["version"] == 3
    assert (lines["p3"]["previous_slugs"], lines["p3"]["version"]) == ([], 2)
    assert lines["p4"]["created_at"] == made.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert lines["p4"]["published_at"] == "2030-01-01T06:00:00Z"
    assert (lines["p4"]["previous_slugs"], lines["p4"]["version"]) == ([], 2)
    assert "unpublish_at" not in lines["p4"]

    # Read back into the database it came from, the export changes nothing (times are kept to
    # the second, the API's to the microsecond).
    assert (await import_corpus(sessionmaker, exported.splitlines())).changed == 0
    assert await _export(sessionmaker) == exported

    await _empty(sessionmaker)
    # As a user runs it: the file written, imported by the command, exported by the command.
    path = tmp_path / "site.jsonl"
    path.write_text(exported, encoding="utf-8")
    imported = masthead("import", str(path), database_url=database_url)
    assert imported.returncode == 0, imported.stderr
    # The progress bar counts the articles written, and how fast.
    articles = exported.count('"type":"article"')
    assert re.search(rf"\b{articles} articles, [\d,]+ articles/s", imported.stderr), imported.stderr
    again = masthead("export", "-", database_url=database_url)
    assert again.returncode == 0, again.stderr
    assert again.stdout.encode("utf-8") == exported.encode("utf-8")
    assert await _export(sessionmaker) == exported

    # Every old slug of the published article leads to it, with its version and creation time.
    for old in ("first-story", "first-story-renamed", "first-story-final"):
        found = await data(client, ARTICLE_BY_SLUG, {"slug": old})
        assert found["article"]["slug"] == "first-story-final"
        assert found["article"]["version"] == 3
        assert found["article"]["createdAt"].startswith("2024-01-01T10:00:00")
    assert await _former_slugs(sessionmaker) == {"first-story": 1, "first-story-renamed": 1}
    row = await _article_row(sessionmaker, 4)
    assert row.created_at == made.created_at.replace(microsecond=0)
    assert row.version == 2
    # A restored former slug is as taken for writes as one the API kept (the export holds
    # no tokens: the old one went with the emptied database).
    editor = await bearer(sessionmaker, Role.EDITOR)
    second = encode_global_id("Article", 2)
    body = await graphql(
        client, UPDATE_ARTICLE, {"id": second, "input": {"slug": "first-story"}}, headers=editor
    )
    assert body["data"]["updateArticle"]["errors"] == [{"field": ["slug"], "code": "DUPLICATE"}]

    assert (await import_corpus(sessionmaker, exported.splitlines())).changed == 0
    assert await _export(sessionmaker) == exported


async def test_versions_and_creation_times_are_restored_and_never_go_back(
    sessionmaker: Sessions,
) -> None:
    restored = _article(1, "story", created_at="2023-12-01T08:00:00Z", version=5)
    result = await import_corpus(sessionmaker, _lines([*SITE, restored]))
    assert result.changed == result.records == 6
    row = await _article_row(sessionmaker, 1)
    assert (row.version, row.created_at.isoformat()) == (5, "2023-12-01T08:00:00")
    exported = await _export(sessionmaker)
    assert _by_key(exported)["p1"] == restored | {"previous_slugs": []}

    async def changed_by(record: Record) -> int:
        return (await import_corpus(sessionmaker, _lines([*SITE, record]))).changed

    async def version_and_creation() -> tuple[int, str]:
        row = await _article_row(sessionmaker, 1)
        return row.version, row.created_at.isoformat()

    assert await changed_by(restored) == 0
    # An older version in the file does not take the article back: a stale editor would win.
    assert await changed_by(restored | {"version": 3}) == 0
    assert await version_and_creation() == (5, "2023-12-01T08:00:00")
    retitled = restored | {"title": "New title"}
    assert await changed_by(retitled) == 1
    assert await version_and_creation() == (6, "2023-12-01T08:00:00")
    assert await changed_by(retitled | {"version": 9}) == 1
    assert await version_and_creation() == (9, "2023-12-01T08:00:00")
    assert await changed_by(retitled | {"version": 9, "created_at": "2023-11-30T07:00:00Z"}) == 1
    assert await version_and_creation() == (10, "2023-11-30T07:00:00")
    # Without the optional fields a record keeps what the row has.
    assert await changed_by(_article(1, "story", title="New title")) == 0
    assert await version_and_creation() == (10, "2023-11-30T07:00:00")


async def test_a_version_waits_for_pins_to_articles_later_in_the_file(
    sessionmaker: Sessions,
) -> None:
    await import_corpus(sessionmaker, _lines([*SITE, _article(1, "one")]))
    # p1 now pins p2, which comes after it, and changes its tags: one write, one step up.
    lines = _lines([*SITE, _article(1, "one", related=["p2"], tags=["t2"]), _article(2, "two")])
    assert (await import_corpus(sessionmaker, lines, batch_size=1)).changed == 2
    assert (await _article_row(sessionmaker, 1)).version == 2
    # Given a version above what the changes make, the article ends on that one.
    lines = _lines(
        [*SITE, _article(1, "one", related=["p3"], version=7), _article(3, "three", version=4)]
    )
    assert (await import_corpus(sessionmaker, lines, batch_size=1)).changed == 2
    assert (await _article_row(sessionmaker, 1)).version == 7
    assert (await _article_row(sessionmaker, 3)).version == 4
    assert (await import_corpus(sessionmaker, lines, batch_size=1)).changed == 0


async def test_previous_slugs_are_added_and_never_dropped(
    sessionmaker: Sessions, client: httpx.AsyncClient
) -> None:
    await import_corpus(sessionmaker, _lines([*SITE, _article(1, "story"), _article(2, "other")]))

    kept = _article(1, "story", previous_slugs=["story-draft-title", "an-older-address"])
    result = await import_corpus(sessionmaker, _lines([*SITE, kept, _article(2, "other")]))

    assert result.changed == 1
    assert await _former_slugs(sessionmaker) == {"story-draft-title": 1, "an-older-address": 1}
    assert (await _article_row(sessionmaker, 1)).version == 2
    found = await data(client, ARTICLE_BY_SLUG, {"slug": "an-older-address"})
    assert found["article"]["slug"] == "story"
    # Written oldest first, as the file gave them (not in slug order).
    assert await _previous_slugs(sessionmaker) == ["story-draft-title", "an-older-address"]
    # A file that names fewer of them breaks no link: what resolved still does.
    fewer = _article(1, "story", previous_slugs=["an-older-address"])
    assert (await import_corpus(sessionmaker, _lines([*SITE, fewer]))).changed == 0
    assert (await import_corpus(sessionmaker, _lines([*SITE, _article(1, "story")]))).changed == 0
    assert len(await _former_slugs(sessionmaker)) == 2
    # Taking a former slug back makes it current, and the slug it leaves resolves instead,
    # as the newest.
    back = _article(1, "an-older-address", previous_slugs=["story"])
    assert (await import_corpus(sessionmaker, _lines([*SITE, back]))).changed == 1
    assert await _former_slugs(sessionmaker) == {"story-draft-title": 1, "story": 1}
    assert await _previous_slugs(sessionmaker) == ["story-draft-title", "story"]
    # Slugs the article holds keep their place, wherever the file puts them; the others
    # follow them in the file's order.
    more = _article(
        1, "an-older-address", previous_slugs=["story", "zz-top", "story-draft-title", "aa-new"]
    )
    assert (await import_corpus(sessionmaker, _lines([*SITE, more]))).changed == 1
    assert await _previous_slugs(sessionmaker) == [
        "story-draft-title", "story", "zz-top", "aa-new"
    ]  # fmt: skip


async def test_a_later_export_extends_an_older_copy_in_order(sessionmaker: Sessions) -> None:
    # The copy has the article at "hazel", having left "walnut" then "pecan"; the site it
    # came from went on to "almond", then "cashew".
    older = _article(1, "hazel", previous_slugs=["walnut", "pecan"])
    await import_corpus(sessionmaker, _lines([*SITE, older]))
    later = _article(1, "cashew", previous_slugs=["walnut", "pecan", "hazel", "almond"])
    assert (await import_corpus(sessionmaker, _lines([*SITE, later]))).changed == 1
    assert await _previous_slugs(sessionmaker) == ["walnut", "pecan", "hazel", "almond"]
    assert (await import_corpus(sessionmaker, _lines([*SITE, later]))).changed == 0


async def test_renames_list_former_slugs_oldest_first_through_a_round_trip(
    sessionmaker: Sessions, client: httpx.AsyncClient
) -> None:
    # Slugs whose alphabetical order is not the order they were left in.
    other = _article(2, "other", previous_slugs=["other-older", "other-old"])
    await import_corpus(sessionmaker, _lines([*SITE, _article(1, "zebra"), other]))
    story = encode_global_id("Article", 1)
    editor = await bearer(sessionmaker, Role.EDITOR)

    async def renamed(slug: str) -> list[str]:
        await _mutate(client, UPDATE_ARTICLE, {"id": story, "input": {"slug": slug}}, editor)
        return await _previous_slugs(sessionmaker)

    assert await renamed("mango") == ["zebra"]
    assert await renamed("apple") == ["zebra", "mango"]
    assert await renamed("kiwi") == ["zebra", "mango", "apple"]
    # Taken back, a slug leaves the list; left again, it is the newest.
    assert await renamed("mango") == ["zebra", "apple", "kiwi"]
    assert await renamed("fig") == ["zebra", "apple", "kiwi", "mango"]
    assert await renamed("zebra") == ["apple", "kiwi", "mango", "fig"]
    assert await renamed("lime") == ["apple", "kiwi", "mango", "fig", "zebra"]

    exported = await _export(sessionmaker)
    assert _by_key(exported)["p2"]["previous_slugs"] == ["other-older", "other-old"]
    assert (await import_corpus(sessionmaker, exported.splitlines())).changed == 0
    assert await _export(sessionmaker) == exported
    await _empty(sessionmaker)
    await import_corpus(sessionmaker, exported.splitlines())
    assert await _export(sessionmaker) == exported
    # The restored order goes on where it was: the next slug left is the newest (a new
    # token, as the emptied database took the old one with it).
    editor = await bearer(sessionmaker, Role.EDITOR)
    assert await renamed("pear") == ["apple", "kiwi", "mango", "fig", "zebra", "lime"]


async def test_a_slug_the_database_holds_for_another_article_is_refused(
    sessionmaker: Sessions, client: httpx.AsyncClient
) -> None:
    await import_corpus(
        sessionmaker,
        _lines([*SITE, _article(1, "alpha", previous_slugs=["old-alpha"]), _article(2, "beta")]),
    )
    editor = await bearer(sessionmaker, Role.EDITOR)
    beta = encode_global_id("Article", 2)
    await _mutate(client, UPDATE_ARTICLE, {"id": beta, "input": {"slug": "beta-2"}}, editor)
    before = await _export(sessionmaker)
    line = len(SITE) + 1
    former = "as a former slug, which still resolves to it"
    cases = {
        "previous slug 'old-alpha' is already used by article 'p1' " + former: _article(
            3, "gamma", previous_slugs=["old-alpha"]
        ),
        "previous slug 'beta' is already used by article 'p2' " + former: _article(
            3, "gamma", previous_slugs=["beta"]
        ),
        "previous slug 'alpha' is already used by article 'p1'": _article(
            3, "gamma", previous_slugs=["alpha"]
        ),
        "slug 'beta' is already used by article 'p2' " + former: _article(3, "beta"),
        "article 'p1': previous slug 'beta-2' is already used by article 'p2'": _article(
            1, "alpha", previous_slugs=["beta-2"]
        ),
    }
    for message, record in cases.items():
        with pytest.raises(CorpusError) as raised:
            await import_corpus(sessionmaker, _lines([*SITE, record]))
        assert str(raised.value).startswith(f"line {line}: article '{record['key']}': ")
        assert raised.value.message.endswith(message)
        assert await _export(sessionmaker) == before

    # Several bad lines in one batch: the first of them is reported, as if read one by one.
    several = [
        _article(3, "gamma", previous_slugs=["alpha"]),
        _article(4, "delta", previous_slugs=["old-alpha"]),
        _article(5, "epsilon", previous_slugs=["gamma"]),
    ]
    with pytest.raises(CorpusError) as raised:
        await import_corpus(sessionmaker, _lines([*SITE, *several]))
    assert raised.value.line_number == line
    assert raised.value.message.endswith("previous slug 'alpha' is already used by article 'p1'")


async def test_an_unknown_field_is_refused_naming_it_and_its_line(
    sessionmaker: Sessions, database_url: str, tmp_path: Path
) -> None:
    # "unpublish_at": null says nothing is scheduled, which this site holds without the field.
    none_scheduled = _article(1, "story", unpublish_at=None)
    await import_corpus(sessionmaker, _lines([*SITE, none_scheduled]))
    assert "unpublish_at" not in _by_key(await _export(sessionmaker))["p1"]
    # A scheduled unpublish goes out and comes back.
    expiring = _article(1, "story", unpublish_at="2031-05-01T00:00:00Z")
    await import_corpus(sessionmaker, _lines([*SITE, expiring]))
    exported = await _export(sessionmaker)
    assert _by_key(exported)["p1"]["unpublish_at"] == "2031-05-01T00:00:00Z"
    assert (await import_corpus(sessionmaker, exported.splitlines())).changed == 0
    await import_corpus(sessionmaker, _lines([*SITE, none_scheduled]))

    records = [*SITE, _article(1, "story", summary="Short.")]
    path = tmp_path / "unknown.jsonl"
    path.write_text("\n".join(_lines(records)) + "\n", encoding="utf-8")
    before = await _export(sessionmaker)

    result = masthead("import", str(path), database_url=database_url)

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "line 6: article 'p1': unknown field 'summary' (an article record has slug, title,"
        " excerpt, body, status, published_at, updated_at, author, category, tags, related and"
        " optionally previous_slugs, created_at, version, unpublish_at)"
    )
    assert await _export(sessionmaker) == before

    tagged = [*SITE[:3], SITE[3] | {"colour": "red"}]
    with pytest.raises(CorpusError) as raised:
        await import_corpus(sessionmaker, _lines(tagged))
    assert str(raised.value) == (
        "line 4: tag 't1': unknown field 'colour' (a tag record has slug, name)"
    )
