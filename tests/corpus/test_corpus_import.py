"""Importing and exporting the content corpus (SPEC "Command line": ``masthead import`` and
``masthead export``): counts and rows, idempotence by key, the byte-for-byte round trip, bad
lines reported by number with nothing written, the commands run as a user runs them, and the
bulk path (new articles many to a statement, indexes built at the end) giving what keeping up
row by row gives, with nothing of an interrupted import left behind."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.dialects import SQLITE, database_of
from db.engine import create_engine, create_sessionmaker
from db.migration import upgrade
from db.models import Article, ArticleSlug, ArticleTag, Author, Category, RelatedPin, Tag
from masthead.app import close, create_app
from masthead.corpus.exporter import export_corpus
from masthead.corpus.importer import CorpusError, import_corpus
from masthead.settings import Settings
from resolvers.articles.text_metrics import word_count
from tests.support.cli import ROOT, masthead
from tests.support.databases import scratch_database
from tests.support.factories import make_author
from tests.support.graphql import data
from tests.support.shared_corpus import GENERATOR, QUERIES

Sessions = async_sessionmaker[AsyncSession]
Record = dict[str, Any]

ARTICLES = 300


@pytest.fixture(scope="session")
def corpus_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated corpus of 300 articles (6 authors, 40 categories, 300 tags)."""
    if not GENERATOR.exists():
        pytest.skip(f"the shared corpus generator is not at {GENERATOR} (MASTHEAD_CORPUS_DIR)")
    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    subprocess.run(
        [sys.executable, str(GENERATOR), "--articles", str(ARTICLES), "--out", str(path)],
        check=True,
        capture_output=True,
    )
    return path


@pytest.fixture
async def sessionmaker(database_url: str) -> AsyncIterator[Sessions]:
    """Sessions as ``masthead import`` opens them: the CLI's engine, without the deadlines
    of serving (a request's 1.5 s statement timeout), which an import's batches may pass
    on a loaded machine without anything being wrong."""
    engine = create_engine(database_url)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def corpus(corpus_path: Path) -> str:
    return corpus_path.read_text(encoding="utf-8")


def _records(text: str) -> list[Record]:
    return [json.loads(line) for line in text.splitlines()]


def _lines(records: list[Record]) -> list[str]:
    return [json.dumps(record, ensure_ascii=False, separators=(",", ":")) for record in records]


def _text(records: list[Record]) -> str:
    return "".join(line + "\n" for line in _lines(records))


def _as_exported(record: Record) -> Record:
    """A record as the export writes it: a generated article gains what the export keeps."""
    if record["type"] != "article":
        return record
    created_at = record["published_at"] or record["updated_at"]
    return record | {"previous_slugs": [], "created_at": created_at, "version": 1}


def _exported(corpus: str) -> str:
    return _text([_as_exported(record) for record in _records(corpus)])


def _index(records: list[Record], key: str) -> int:
    return next(i for i, record in enumerate(records) if record["key"] == key)


async def _export(sessionmaker: Sessions) -> str:
    out = io.StringIO()
    await export_corpus(sessionmaker, out)
    return out.getvalue()


async def _versions(sessionmaker: Sessions) -> dict[int, int]:
    async with sessionmaker() as session:
        rows = await session.execute(select(Article.id, Article.version))
        return {article_id: version for article_id, version in rows}


async def _count(sessionmaker: Sessions, model: type[Any]) -> int:
    async with sessionmaker() as session:
        total = await session.execute(select(func.count()).select_from(model))
        return total.scalar_one()


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")


async def test_import_writes_every_record_as_a_row(sessionmaker: Sessions, corpus: str) -> None:
    records = _records(corpus)
    result = await import_corpus(sessionmaker, corpus.splitlines())

    assert (result.authors, result.categories, result.tags, result.articles) == (6, 40, 300, 300)
    assert result.changed == result.records == len(records)
    articles = [record for record in records if record["type"] == "article"]
    assert await _count(sessionmaker, Author) == 6
    assert await _count(sessionmaker, Category) == 40
    assert await _count(sessionmaker, Tag) == 300
    assert await _count(sessionmaker, Article) == ARTICLES
    assert await _count(sessionmaker, ArticleTag) == sum(len(a["tags"]) for a in articles)
    assert await _count(sessionmaker, RelatedPin) == sum(len(a["related"]) for a in articles)

    draft = next(a for a in articles if a["status"] == "draft")
    pinning = next(a for a in articles if a["related"])
    async with sessionmaker() as session:
        for record in (articles[0], draft, pinning):
            row = await session.get_one(Article, int(record["key"][1:]))
            assert row.slug == record["slug"]
            assert row.status == record["status"]
            assert row.published_at == _time(record["published_at"])
            assert row.updated_at == _time(record["updated_at"])
            assert row.created_at == (row.published_at or row.updated_at)
            assert row.version == 1
            assert row.word_count == word_count(record["body"]) > 0
            assert row.author_id == int(record["author"][1:])
            assert row.category_id == int(record["category"][1:])
        assert draft["published_at"] is None
        pins = await session.scalars(
            select(RelatedPin.related_id)
            .where(RelatedPin.article_id == int(pinning["key"][1:]))
            .order_by(RelatedPin.position)
        )
        assert [f"p{pin}" for pin in pins] == pinning["related"]
        child = await session.get_one(Category, 9)
        assert child.parent_id == 1


async def test_export_gives_back_the_imported_records(sessionmaker: Sessions, corpus: str) -> None:
    await import_corpus(sessionmaker, corpus.splitlines(keepends=True))
    exported = await _export(sessionmaker)
    # The generated fields come back byte for byte, followed by what the export keeps.
    assert exported == _exported(corpus)
    last = _records(corpus)[-1]
    kept = f'"previous_slugs":[],"created_at":"{last["published_at"] or last["updated_at"]}"'
    assert exported.splitlines()[-1] == corpus.splitlines()[-1][:-1] + f',{kept},"version":1}}'


async def test_importing_twice_changes_nothing(sessionmaker: Sessions, corpus: str) -> None:
    await import_corpus(sessionmaker, corpus.splitlines(), batch_size=64)
    exported, versions = await _export(sessionmaker), await _versions(sessionmaker)

    again = await import_corpus(sessionmaker, corpus.splitlines(), batch_size=64)

    assert again.changed == 0
    assert again.records == len(corpus.splitlines())
    assert await _export(sessionmaker) == exported
    assert await _versions(sessionmaker) == versions


async def test_a_changed_record_updates_its_row_and_version(
    sessionmaker: Sessions, corpus: str
) -> None:
    await import_corpus(sessionmaker, corpus.splitlines())
    records = _records(corpus)
    articles = [record for record in records if record["type"] == "article"]
    renamed = next(a for a in articles if a["status"] == "published" and len(a["tags"]) > 1)
    retagged = next(a for a in articles[2:] if a is not renamed and a["tags"] and not a["related"])
    old_slug = renamed["slug"]
    renamed.update(slug=f"{old_slug}-renamed", title="A New Title", tags=renamed["tags"][1:])
    retagged.update(tags=[], related=["p1", "p2"])
    records[_index(records, "a1")]["name"] = "Renamed Author"

    result = await import_corpus(sessionmaker, _lines(records))

    assert result.changed == 3
    expected = [_as_exported(record) for record in records]
    expected[_index(records, renamed["key"])] |= {"previous_slugs": [old_slug], "version": 2}
    expected[_index(records, retagged["key"])]["version"] = 2
    assert await _export(sessionmaker) == _text(expected)
    versions = await _versions(sessionmaker)
    changed_ids = {int(renamed["key"][1:]), int(retagged["key"][1:])}
    assert {article_id for article_id, version in versions.items() if version != 1} == changed_ids
    assert all(versions[article_id] == 2 for article_id in changed_ids)
    async with sessionmaker() as session:
        # A published article's old slug keeps resolving (SPEC "Content model").
        moved = await session.get_one(ArticleSlug, old_slug)
        assert moved.article_id == int(renamed["key"][1:])


async def test_related_articles_may_come_later_in_the_file(sessionmaker: Sessions) -> None:
    # An export of pins an editor set in any order must import again.
    lines = [
        '{"type":"author","key":"a1","slug":"ann","name":"Ann","bio":null,"avatar_url":null}',
        '{"type":"category","key":"c1","slug":"news","name":"News","description":null,'
        '"parent":null}',
        *(
            f'{{"type":"article","key":"p{n}","slug":"story-{n}","title":"Story {n}",'
            f'"excerpt":"","body":"<p>Words.</p>","status":"published",'
            f'"published_at":"2024-01-0{n}T10:00:00Z","updated_at":"2024-01-0{n}T10:00:00Z",'
            f'"author":"a1","category":"c1","tags":[],"related":{related}}}'
            for n, related in ((1, '["p2"]'), (2, '["p1"]'))
        ),
    ]
    await import_corpus(sessionmaker, lines)
    assert await _export(sessionmaker) == _text([_as_exported(json.loads(line)) for line in lines])
    assert (await import_corpus(sessionmaker, lines)).changed == 0
    swapped = [*lines[:3], lines[3].replace('["p1"]', "[]")]
    assert (await import_corpus(sessionmaker, [*swapped[:2], *swapped[2:][::-1]])).changed == 1
    assert await _versions(sessionmaker) == {1: 1, 2: 2}
    # p1 existed, and now pins p3, which only comes later: its pins wait for the end.
    p3 = lines[3].replace('"p2"', '"p3"').replace("story-2", "story-3").replace('["p1"]', "[]")
    later = [*lines[:2], lines[2].replace('["p2"]', '["p2","p3"]'), p3]
    assert (await import_corpus(sessionmaker, later, batch_size=1)).changed == 2
    assert await _versions(sessionmaker) == {1: 2, 2: 2, 3: 1}

    with pytest.raises(CorpusError) as raised:
        await import_corpus(sessionmaker, [*lines[:2], lines[2].replace('["p2"]', '["p9"]')])
    assert raised.value.line_number == 3
    assert "'p9'" in raised.value.message


async def test_ids_given_later_follow_the_imported_keys(
    sessionmaker: Sessions, corpus: str
) -> None:
    await import_corpus(sessionmaker, corpus.splitlines())
    author = await make_author(sessionmaker)
    assert author.id == 7


def _bad_json(records: list[Record], line: int) -> list[str]:
    lines = _lines(records)
    lines[line] = lines[line][:-5]
    return lines


def _edit(change: Callable[[list[Record], int], None]) -> Callable[[list[Record], int], list[str]]:
    def edited(records: list[Record], line: int) -> list[str]:
        change(records, line)
        return _lines(records)

    return edited


def _set(field: str, value: Any) -> Callable[[list[Record], int], list[str]]:
    return _edit(lambda records, line: records[line].__setitem__(field, value))


def _slug_of(offset: int) -> Callable[[list[Record], int], list[str]]:
    return _edit(lambda records, line: records[line].update(slug=records[line - offset]["slug"]))


def _previous_slug_of(offset: int) -> Callable[[list[Record], int], list[str]]:
    """The line claims, as a slug it had before, the current slug of an earlier article."""

    def change(records: list[Record], line: int) -> None:
        records[line]["previous_slugs"] = [records[line - offset]["slug"]]

    return _edit(change)


def _slug_left_by(offset: int) -> Callable[[list[Record], int], list[str]]:
    """An earlier article had the line's slug before (and it still resolves to that one)."""

    def change(records: list[Record], line: int) -> None:
        records[line - offset]["previous_slugs"] = [records[line]["slug"]]

    return _edit(change)


def _previous_slug_shared(offset: int) -> Callable[[list[Record], int], list[str]]:
    """The line and an earlier article both claim to have had the same slug before."""

    def change(records: list[Record], line: int) -> None:
        records[line - offset]["previous_slugs"] = ["an-old-address"]
        records[line]["previous_slugs"] = ["an-old-address"]

    return _edit(change)


_ARTICLE_FIELDS = (
    "an article record has slug, title, excerpt, body, status, published_at, updated_at,"
    " author, category, tags, related and optionally previous_slugs, created_at, version,"
    " unpublish_at"
)
_FORMER = "as a former slug, which still resolves to it"


# Each breaks the record on the given line (0-based) of the generated corpus; lines 346 on
# are articles (6 authors, 40 categories, 300 tags come first).
BAD_LINES: dict[str, tuple[Callable[[list[Record], int], list[str]], int, str]] = {
    "invalid JSON": (_bad_json, 500, "invalid JSON"),
    "unknown type": (_set("type", "video"), 500, "unknown record type 'video'"),
    "missing field": (_edit(lambda r, i: r[i].pop("title")), 500, "missing field 'title'"),
    "unknown category": (_set("category", "c99"), 500, "unknown category 'c99'"),
    "unknown parent": (_set("parent", "c41"), 30, "unknown parent 'c41'"),
    "unknown author": (_set("author", "a7"), 500, "unknown author 'a7'"),
    "unknown tag": (_set("tags", ["t1", "t301"]), 500, "unknown tag 't301'"),
    "bad key": (_set("key", "p0"), 500, "key 'p0' should be p and a number"),
    "repeated key": (_set("key", "p100"), 500, "the key appears twice"),
    "bad slug": (_set("slug", "Not-A-Slug"), 500, "slug 'Not-A-Slug' is not"),
    "bad time": (_set("updated_at", "2024-13-01T00:00:00Z"), 500, "not a valid time"),
    "bad status": (_set("status", "archived"), 500, "status 'archived'"),
    "slug of the same batch": (_slug_of(3), 500, "is already used by article"),
    "slug of an earlier batch": (_slug_of(120), 500, "is already used by article"),
    "slug of an author": (_slug_of(2), 4, "is already used by author 'a3'"),
    # A field the format does not know is refused in every kind of record, never dropped.
    "unknown author field": (
        _set("twitter", "@ann"),
        0,
        "author 'a1': unknown field 'twitter' (an author record has slug, name, bio, avatar_url)",
    ),
    "unknown category field": (
        _set("colour", "red"),
        10,
        "category 'c5': unknown field 'colour' (a category record has slug, name,"
        " description, parent)",
    ),
    "unknown tag field": (
        _set("weight", 3),
        100,
        "tag 't55': unknown field 'weight' (a tag record has slug, name)",
    ),
    "unknown article fields": (
        _edit(lambda r, i: r[i].update(summary="", lang="en")),
        500,
        f"article 'p155': unknown fields 'summary', 'lang' ({_ARTICLE_FIELDS})",
    ),
    "previous slugs not a list": (
        _set("previous_slugs", "old"),
        500,
        "'previous_slugs' must be a list of slugs",
    ),
    "bad previous slug": (_set("previous_slugs", ["Old Slug"]), 500, "previous slug 'Old Slug'"),
    "long previous slug": (_set("previous_slugs", ["a" * 301]), 500, "longer than 300"),
    "previous slug twice": (_set("previous_slugs", ["old", "old"]), 500, "the same slug twice"),
    "own slug as previous": (
        _edit(lambda r, i: r[i].update(previous_slugs=["old", r[i]["slug"]])),
        500,
        "'previous_slugs' names the article's own slug",
    ),
    "bad created_at": (_set("created_at", None), 500, "'created_at' must be a time like"),
    "version zero": (_set("version", 0), 500, "'version' must be a whole number from 1"),
    "version true": (_set("version", True), 500, "'version' must be a whole number from 1"),
    "version text": (_set("version", "3"), 500, "'version' must be a whole number from 1"),
    "unpublish before publication": (
        _set("unpublish_at", "1990-01-01T00:00:00Z"),
        500,
        "'unpublish_at' is for a published article, and comes after its published_at",
    ),
    # An article's former slugs resolve to it: no other article may hold them, either way.
    "previous slug of the same batch": (
        _previous_slug_of(3),
        500,
        "article 'p155': previous slug 'vietnam-weighs-new-rules-on-contract-awards-48' is"
        " already used by article 'p152'",
    ),
    "previous slug of an earlier batch": (
        _previous_slug_of(120),
        500,
        "previous slug 'defence-procurement-edged-up-as-demand-cools-z' is already used by"
        " article 'p35'",
    ),
    "slug left by an article of the same batch": (
        _slug_left_by(3),
        500,
        "article 'p155': slug 'inside-the-race-to-fix-wheat-futures-4b' is already used by"
        f" article 'p152' {_FORMER}",
    ),
    "slug left by an article of an earlier batch": (
        _slug_left_by(120),
        500,
        "slug 'inside-the-race-to-fix-wheat-futures-4b' is already used by article 'p35'"
        f" {_FORMER}",
    ),
    "previous slug shared in the same batch": (
        _previous_slug_shared(3),
        500,
        f"previous slug 'an-old-address' is already used by article 'p152' {_FORMER}",
    ),
    "previous slug shared with an earlier batch": (
        _previous_slug_shared(120),
        500,
        f"previous slug 'an-old-address' is already used by article 'p35' {_FORMER}",
    ),
}


@pytest.mark.parametrize("case", list(BAD_LINES))
async def test_a_bad_line_is_reported_and_nothing_is_written(
    sessionmaker: Sessions, corpus: str, case: str
) -> None:
    breaking, line, message = BAD_LINES[case]
    lines = breaking(_records(corpus), line)

    with pytest.raises(CorpusError) as raised:
        await import_corpus(sessionmaker, lines, batch_size=64)

    assert raised.value.line_number == line + 1
    assert message in raised.value.message
    assert str(raised.value).startswith(f"line {line + 1}: ")
    for model in (Author, Category, Tag, Article, ArticleTag, RelatedPin, ArticleSlug):
        assert await _count(sessionmaker, model) == 0


async def test_a_bad_line_leaves_an_earlier_import_as_it_was(
    sessionmaker: Sessions, corpus: str
) -> None:
    await import_corpus(sessionmaker, corpus.splitlines())
    before, versions = await _export(sessionmaker), await _versions(sessionmaker)
    records = _records(corpus)
    # Changes in earlier batches are already written when the bad line is reached.
    records[_index(records, "a2")]["name"] = "Changed"
    records[_index(records, "p3")].update(title="Changed", tags=[], related=["p1"])
    records[_index(records, "p250")]["slug"] = records[_index(records, "p10")]["slug"]

    with pytest.raises(CorpusError) as raised:
        await import_corpus(sessionmaker, _lines(records), batch_size=50)

    assert raised.value.line_number == _index(records, "p250") + 1
    assert await _export(sessionmaker) == before
    assert await _versions(sessionmaker) == versions


async def test_a_category_cannot_become_its_own_ancestor(sessionmaker: Sessions) -> None:
    lines = [
        '{"type":"category","key":"c1","slug":"a","name":"A","description":null,"parent":null}',
        '{"type":"category","key":"c2","slug":"b","name":"B","description":null,"parent":"c1"}',
    ]
    await import_corpus(sessionmaker, lines)
    with pytest.raises(CorpusError) as raised:
        await import_corpus(sessionmaker, [lines[0].replace('"parent":null', '"parent":"c2"')])
    assert raised.value.line_number == 1
    assert "cycle" in raised.value.message


async def test_the_commands_import_and_export(
    database_url: str, corpus_path: Path, corpus: str, tmp_path: Path
) -> None:
    imported = masthead("import", str(corpus_path), database_url=database_url)
    assert imported.returncode == 0, imported.stderr
    assert "300 articles" in imported.stderr

    exported = tmp_path / "export.jsonl"
    result = masthead("export", str(exported), database_url=database_url)
    assert result.returncode == 0, result.stderr
    assert exported.read_text(encoding="utf-8") == _exported(corpus)

    to_stdout = masthead("export", "-", database_url=database_url)
    assert to_stdout.returncode == 0, to_stdout.stderr
    assert to_stdout.stdout == _exported(corpus)


async def test_the_import_command_reports_a_bad_line(
    database_url: str, corpus: str, tmp_path: Path
) -> None:
    lines = corpus.splitlines()
    lines[400] = lines[400].replace('"category":"c', '"category":"c9')
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = masthead("import", str(bad), database_url=database_url)

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("line 401: article 'p55': unknown category")


# The bulk path: new articles written many rows to a statement, and into a database without
# articles, indexes and foreign keys built once at the end (db.dialects.BulkWriter.defer).

_SQLITE_SCHEMA = (
    "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
    " ORDER BY type, name"
)
_POSTGRESQL_SCHEMA = """
SELECT 'index', indexname, tablename, indexdef FROM pg_indexes
 WHERE schemaname = current_schema()
UNION ALL
SELECT 'constraint', conname, conrelid::regclass::text,
       pg_get_constraintdef(oid) || CASE WHEN convalidated THEN '' ELSE ' NOT VALID' END
  FROM pg_constraint WHERE connamespace = current_schema()::regnamespace
UNION ALL
SELECT 'trigger', tgname, tgrelid::regclass::text, pg_get_triggerdef(oid) FROM pg_trigger
 WHERE NOT tgisinternal
UNION ALL
SELECT 'unusable index', indexrelid::regclass::text, indrelid::regclass::text, ''
  FROM pg_index WHERE NOT (indisvalid AND indisready AND indislive)
ORDER BY 1, 2
"""


async def _schema(sessionmaker: Sessions) -> list[tuple[Any, ...]]:
    """Every index, constraint and trigger, as the database describes it."""
    async with sessionmaker() as session:
        sqlite = database_of(session) is SQLITE
        rows = await session.execute(text(_SQLITE_SCHEMA if sqlite else _POSTGRESQL_SCHEMA))
        return [tuple(row) for row in rows]


async def _assert_sound(sessionmaker: Sessions) -> None:
    """SQLite's own checks of its file and of the search index against the articles."""
    async with sessionmaker.begin() as session:
        if database_of(session) is not SQLITE:
            return
        assert (await session.execute(text("PRAGMA integrity_check"))).scalar_one() == "ok"
        assert (await session.execute(text("PRAGMA foreign_key_check"))).all() == []
        # Raises unless the index holds exactly what the articles' text gives.
        await session.execute(
            text("INSERT INTO article_search (article_search, rank) VALUES ('integrity-check', 1)")
        )


async def _assert_empty(sessionmaker: Sessions) -> None:
    for model in (Author, Category, Tag, Article, ArticleTag, RelatedPin, ArticleSlug):
        assert await _count(sessionmaker, model) == 0


async def test_an_import_into_no_articles_ends_with_the_schema_it_began_with(
    sessionmaker: Sessions, corpus: str
) -> None:
    migrated = await _schema(sessionmaker)
    lines = corpus.splitlines()

    with pytest.raises(CorpusError):
        await import_corpus(sessionmaker, [*lines[:-1], lines[-1][:-5]], batch_size=64)
    assert await _schema(sessionmaker) == migrated
    await _assert_empty(sessionmaker)

    def interrupted() -> Iterator[str]:
        yield from lines[:-50]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await import_corpus(sessionmaker, interrupted(), batch_size=64)
    assert await _schema(sessionmaker) == migrated
    await _assert_empty(sessionmaker)

    await import_corpus(sessionmaker, lines, batch_size=64)
    assert await _schema(sessionmaker) == migrated
    assert await _export(sessionmaker) == _exported(corpus)
    await _assert_sound(sessionmaker)


@asynccontextmanager
async def _site(database_url: str) -> AsyncIterator[tuple[Sessions, httpx.AsyncClient]]:
    """Sessions on ``database_url`` as the CLI opens them, and a client of the app's API."""
    app = create_app(Settings(database_url=database_url, _env_file=None))  # type: ignore[call-arg]  # pydantic-settings init kwarg
    engine = create_engine(database_url)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield create_sessionmaker(engine), http
    finally:
        await engine.dispose()
        await close(app)


def _reference_operations() -> dict[str, str]:
    return {path.stem: path.read_text(encoding="utf-8") for path in QUERIES.glob("*.graphql")}


_SEARCH = """
query Search($query: String!) {
  search(query: $query, first: 10) {
    totalCount
    edges { score highlights node { slug } }
  }
}
"""


async def _answers(client: httpx.AsyncClient, records: list[Record]) -> list[dict[str, Any]]:
    """What the reference operations and search give for a sample of the corpus."""
    articles = [record for record in records if record["type"] == "article"]
    published = [record for record in articles if record["status"] == "published"]
    sample = [*published[::37], *(record for record in published if record["related"])]
    operations = _reference_operations()
    answers = [await data(client, operations["Home"])]
    for record in sample:
        answers.append(await data(client, operations["ArticlePage"], {"slug": record["slug"]}))
    for category in (record for record in records if record["type"] == "category"):
        answers.append(await data(client, operations["CategoryPage"], {"slug": category["slug"]}))
    for record in sample:
        words = record["title"].split()
        for query in (words[0], " ".join(words[-2:]), record["excerpt"]):
            answers.append(await data(client, _SEARCH, {"query": query}))
    return answers


async def test_the_bulk_build_gives_what_keeping_up_row_by_row_gives(
    database_url: str, dialect: str, corpus: str, tmp_path: Path
) -> None:
    if not QUERIES.exists():
        pytest.skip(f"the reference operations are not at {QUERIES} (MASTHEAD_CORPUS_DIR)")
    records = _records(corpus)
    lines = corpus.splitlines()
    first_articles = _index(records, "p1") + 100
    async with _site(database_url) as (stepwise, client):
        # A hundred articles first; then the rest join them, in batches that also hold
        # articles already there, every index, trigger and foreign key kept up as they go.
        await import_corpus(stepwise, lines[:first_articles], batch_size=64)
        kept_up = await _schema(stepwise)
        result = await import_corpus(stepwise, lines, batch_size=64)
        assert (result.articles, result.changed) == (ARTICLES, ARTICLES - 100)
        assert await _schema(stepwise) == kept_up
        exported = await _export(stepwise)
        answers = await _answers(client, records)
        await _assert_sound(stepwise)

    async with scratch_database(dialect, tmp_path) as url:
        await asyncio.to_thread(upgrade, url)
        async with _site(url) as (at_once, client):
            await import_corpus(at_once, lines, batch_size=64)
            assert await _schema(at_once) == kept_up
            assert await _export(at_once) == exported == _exported(corpus)
            assert await _answers(client, records) == answers
            await _assert_sound(at_once)


async def test_a_killed_import_leaves_the_database_as_it_was(
    sessionmaker: Sessions, database_url: str, corpus: str
) -> None:
    migrated = await _schema(sessionmaker)
    environment = {**os.environ, "MASTHEAD_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "masthead.cli", "import", "--batch-size", "50", "-"]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stderr is not None
    stdin, stderr = process.stdin, process.stderr
    written = threading.Event()

    def watch() -> None:
        progress = b""
        while chunk := os.read(stderr.fileno(), 65536):
            progress += chunk
            if b"200 articles" in progress:
                written.set()

    watching = threading.Thread(target=watch)
    watching.start()
    try:
        # All but the last line: the import writes batch after batch, then waits for more.
        stdin.write(corpus[: corpus.rindex("\n", 0, -1) + 1].encode())
        stdin.flush()
        assert written.wait(60), "the import never wrote 200 articles"
    finally:
        process.kill()
        process.wait()
        watching.join()
        stdin.close()
        stderr.close()

    assert await _schema(sessionmaker) == migrated
    await _assert_empty(sessionmaker)
    await _assert_sound(sessionmaker)
    await import_corpus(sessionmaker, corpus.splitlines())
    assert await _export(sessionmaker) == _exported(corpus)
