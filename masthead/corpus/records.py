"""Reading corpus records: each line checked, its keys and references resolved.

A :class:`RecordReader` turns lines into rows to write, refusing (with the line number)
anything the format or the database would not hold: a field the format does not know (never
dropped silently), a key given twice, a reference to a record neither earlier in the file
nor in the database, a cycle of categories. The keys seen so far are kept as bits, so a
million of them cost 125 KB.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db.models import Article, ArticleSlug, ArticleStatus, Author, Base, Category, Tag
from masthead.corpus.format import (
    ARTICLE,
    AUTHOR,
    CATEGORY,
    KINDS,
    MAX_KEY_NUMBER,
    TAG,
    RecordKind,
    parse_time,
)
from resolvers.articles.sanitize import sanitize_html
from resolvers.articles.text_metrics import word_count
from resolvers.slugs import is_url_safe

__all__ = ["TABLE_OF", "CorpusError", "IdSet", "RecordReader", "Row", "decode"]

_TABLES = Base.metadata.tables
TABLE_OF: dict[RecordKind, Table] = {
    AUTHOR: _TABLES[Author.__tablename__],
    CATEGORY: _TABLES[Category.__tablename__],
    TAG: _TABLES[Tag.__tablename__],
    ARTICLE: _TABLES[Article.__tablename__],
}
_FORMER_SLUGS = _TABLES[ArticleSlug.__tablename__]
# Ids below this are kept as bits (8 MB at most); the rare larger ones in a set.
_DENSE_IDS = 2**26
# A category's ancestors are walked to refuse cycles; a deeper chain means one already exists.
_MAX_DEPTH = 10_000


class CorpusError(Exception):
    """A line of the corpus that cannot be imported; nothing of the import was written."""

    def __init__(self, line_number: int, message: str) -> None:
        super().__init__(f"line {line_number}: {message}")
        self.line_number = line_number
        self.message = message


class IdSet:
    """A set of positive ids kept as bits, so a million keys cost 125 KB."""

    def __init__(self) -> None:
        self._bits = bytearray()
        self._sparse: set[int] = set()

    def add(self, number: int) -> None:
        if number >= _DENSE_IDS:
            self._sparse.add(number)
            return
        index = number >> 3
        if index >= len(self._bits):
            self._bits.extend(bytes(max(index + 1 - len(self._bits), len(self._bits))))
        self._bits[index] |= 1 << (number & 7)

    def __contains__(self, number: int) -> bool:
        if number >= _DENSE_IDS:
            return number in self._sparse
        index = number >> 3
        return index < len(self._bits) and bool(self._bits[index] & (1 << (number & 7)))


@dataclass
class Row:
    """One parsed record: the values of its row; for articles also its tags, pins and previous
    slugs, whether the file gives its creation time, and the version it gives (if any)."""

    line: int
    id: int
    values: dict[str, Any]
    tags: list[int] = field(default_factory=list)
    related: list[int] = field(default_factory=list)
    previous_slugs: list[str] = field(default_factory=list)
    created_at_given: bool = False
    version: int | None = None


@functools.cache
def _max_length(table: Table, column: str) -> int | None:
    length: int | None = getattr(table.c[column].type, "length", None)
    return length


class _Fields:
    """Typed access to one record's fields, raising :class:`CorpusError` on a bad value."""

    def __init__(self, record: dict[str, Any], line: int, kind: RecordKind) -> None:
        self.record = record
        self.line = line
        self.kind = kind

    def error(self, message: str) -> CorpusError:
        key = self.record.get("key")
        record = f"{self.kind.name} {key!r}" if isinstance(key, str) else f"{self.kind.name} record"
        return CorpusError(self.line, f"{record}: {message}")

    def get(self, name: str) -> Any:
        if name not in self.record:
            raise self.error(f"missing field {name!r}")
        return self.record[name]

    def has(self, name: str) -> bool:
        return name in self.record

    def optional_text(self, name: str) -> str | None:
        value = self.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(f"{name!r} must be a string or null")
        length = _max_length(TABLE_OF[self.kind], name)
        if length is not None and len(value) > length:
            raise self.error(f"{name!r} is longer than {length} characters")
        return value

    def text(self, name: str, *, required: bool = False) -> str:
        value = self.optional_text(name)
        if value is None:
            raise self.error(f"{name!r} must be a string")
        if required and not value.strip():
            raise self.error(f"{name!r} must not be empty")
        return value

    def slug(self) -> str:
        value = self.text("slug")
        self.check_slug("slug", value)
        return value

    def check_slug(self, what: str, value: str) -> None:
        if not is_url_safe(value):
            raise self.error(
                f"{what} {value!r} is not lower-case letters and digits joined by single hyphens"
            )

    def previous_slugs(self, current: str) -> list[str]:
        """Old slugs that still resolve to the article: URL-safe, none twice, none current."""
        values = self.get("previous_slugs")
        if not (isinstance(values, list) and all(isinstance(value, str) for value in values)):
            raise self.error("'previous_slugs' must be a list of slugs")
        length = _max_length(_FORMER_SLUGS, "slug")
        for value in values:
            self.check_slug("previous slug", value)
            if length is not None and len(value) > length:
                raise self.error(f"previous slug {value!r} is longer than {length} characters")
            if value == current:
                raise self.error(f"'previous_slugs' names the article's own slug {value!r}")
        if len(set(values)) != len(values):
            raise self.error("'previous_slugs' names the same slug twice")
        return values

    def version(self) -> int:
        value = self.get("version")
        # bool is an int to Python, not to JSON; the column is an INTEGER, as ids are.
        if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_KEY_NUMBER:
            return value
        raise self.error(f"'version' must be a whole number from 1 to {MAX_KEY_NUMBER}")

    def key(self, value: Any, kind: RecordKind, name: str) -> int:
        number = kind.number(value)
        if number is not None:
            return number
        raise self.error(
            f"{name} {value!r} should be {kind.prefix} and a number, like {kind.prefix}12"
        )

    def reference(self, name: str, kind: RecordKind, known: IdSet) -> int:
        value = self.get(name)
        number = self.key(value, kind, name)
        if number not in known:
            raise self.error(
                f"unknown {name} {value!r}: no such {kind.name} earlier in the file"
                " or in the database"
            )
        return number

    def key_list(self, name: str, kind: RecordKind) -> list[int]:
        values = self.get(name)
        if not isinstance(values, list):
            raise self.error(f"{name!r} must be a list of {kind.name} keys")
        numbers = [self.key(value, kind, name) for value in values]
        if len(set(numbers)) != len(numbers):
            raise self.error(f"{name!r} names the same {kind.name} twice")
        return numbers

    def time(self, name: str, *, nullable: bool) -> datetime | None:
        value = self.get(name)
        if value is None and nullable:
            return None
        try:
            return parse_time(value)
        except ValueError as error:
            raise self.error(f"{name!r} {error}") from None


def decode(line: int, source: str) -> tuple[RecordKind, dict[str, Any]]:
    """The kind and fields of the record on ``line``."""
    try:
        record = json.loads(source)
    except json.JSONDecodeError as error:
        raise CorpusError(line, f"invalid JSON: {error.msg} at column {error.colno}") from None
    if not isinstance(record, dict):
        raise CorpusError(line, "a record must be a JSON object")
    type_name = record.get("type")
    kind = KINDS.get(type_name) if isinstance(type_name, str) else None
    if kind is None:
        raise CorpusError(line, f"unknown record type {type_name!r} (expected {', '.join(KINDS)})")
    return kind, record


class RecordReader:
    """What the file and the database hold so far, and the records read against it."""

    def __init__(self) -> None:
        # Keys that appeared in this file, to refuse a key given twice.
        self.seen: dict[str, IdSet] = {name: IdSet() for name in KINDS}
        # Keys a reference may name: rows in the database plus records seen in this file.
        # Articles are looked up in the database per batch instead: there can be millions.
        self.known: dict[str, IdSet] = {kind.name: IdSet() for kind in (AUTHOR, CATEGORY, TAG)}
        self.parents: dict[int, int | None] = {}
        # Article references not resolved when read: the importer checks them per batch.
        self.unresolved: set[int] = set()
        self.counts: dict[str, int] = defaultdict(int)

    async def load_existing(self, connection: AsyncConnection) -> None:
        """Learn the keys the database holds already."""
        for kind in (AUTHOR, TAG):
            rows = await connection.execute(select(TABLE_OF[kind].c.id))
            for (row_id,) in rows:
                self.known[kind.name].add(row_id)
        categories = TABLE_OF[CATEGORY]
        rows = await connection.execute(select(categories.c.id, categories.c.parent_id))
        for row_id, parent_id in rows:
            self.known[CATEGORY.name].add(row_id)
            self.parents[row_id] = parent_id

    def read(self, kind: RecordKind, record: dict[str, Any], line: int) -> Row:
        """The row ``record`` makes, once every field, key and reference in it checks out."""
        fields = _Fields(record, line, kind)
        unknown = kind.unknown(record)
        if unknown:
            names = ", ".join(repr(name) for name in unknown)
            plural = "s" if len(unknown) > 1 else ""
            raise fields.error(f"unknown field{plural} {names} ({kind.describe()})")
        number = fields.key(fields.get("key"), kind, "key")
        if number in self.seen[kind.name]:
            raise fields.error("the key appears twice in the file")
        row = self._parse(kind, fields, number)
        self.seen[kind.name].add(number)
        if kind is not ARTICLE:
            self.known[kind.name].add(number)
        self.counts[kind.name] += 1
        return row

    def take_unresolved(self) -> set[int]:
        """The article references still to check, forgotten here once handed over."""
        wanted, self.unresolved = self.unresolved, set()
        return wanted

    def _parse(self, kind: RecordKind, fields: _Fields, number: int) -> Row:
        line = fields.line
        if kind is AUTHOR:
            values: dict[str, Any] = {
                "id": number,
                "slug": fields.slug(),
                "name": fields.text("name", required=True),
                "bio": fields.optional_text("bio"),
                "avatar_url": fields.optional_text("avatar_url"),
            }
            return Row(line, number, values)
        if kind is CATEGORY:
            values = {
                "id": number,
                "slug": fields.slug(),
                "name": fields.text("name", required=True),
                "description": fields.optional_text("description"),
                "parent_id": self._parent(fields, number),
            }
            self.parents[number] = values["parent_id"]
            return Row(line, number, values)
        if kind is TAG:
            values = {
                "id": number,
                "slug": fields.slug(),
                "name": fields.text("name", required=True),
            }
            return Row(line, number, values)
        return self._parse_article(fields, number)

    def _parent(self, fields: _Fields, number: int) -> int | None:
        if fields.get("parent") is None:
            return None
        parent = fields.reference("parent", CATEGORY, self.known[CATEGORY.name])
        ancestor: int | None = parent
        for _ in range(_MAX_DEPTH):
            if ancestor is None:
                return parent
            if ancestor == number:
                break
            ancestor = self.parents.get(ancestor)
        raise fields.error(f"parent {fields.record['parent']!r} would make a cycle of categories")

    def _parse_article(self, fields: _Fields, number: int) -> Row:
        # Sanitized like every other write (SPEC "Writing"); clean bodies come through unchanged.
        body = sanitize_html(fields.text("body"))
        status = fields.text("status").lower()
        if status not in (ArticleStatus.DRAFT.value, ArticleStatus.PUBLISHED.value):
            raise fields.error(f"status {fields.record['status']!r} is not published or draft")
        published_at = fields.time("published_at", nullable=True)
        updated_at = fields.time("updated_at", nullable=False)
        slug = fields.slug()
        unpublish_at = (
            fields.time("unpublish_at", nullable=True) if fields.has("unpublish_at") else None
        )
        if unpublish_at is not None and (
            status != ArticleStatus.PUBLISHED.value
            or published_at is None
            or unpublish_at <= published_at
        ):
            raise fields.error(
                "'unpublish_at' is for a published article, and comes after its published_at"
            )
        created_at_given = fields.has("created_at")
        created_at = fields.time("created_at", nullable=False) if created_at_given else None
        version = fields.version() if fields.has("version") else None
        values = {
            "id": number,
            "slug": slug,
            "title": fields.text("title", required=True),
            "excerpt": fields.text("excerpt"),
            "body": body,
            "status": status,
            "published_at": published_at,
            "unpublish_at": unpublish_at,
            "updated_at": updated_at,
            "created_at": created_at or published_at or updated_at,
            "version": version or 1,
            "word_count": word_count(body),
            "author_id": fields.reference("author", AUTHOR, self.known[AUTHOR.name]),
            "category_id": fields.reference("category", CATEGORY, self.known[CATEGORY.name]),
        }
        tags = fields.key_list("tags", TAG)
        known_tags = self.known[TAG.name]
        for tag in tags:
            if tag not in known_tags:
                raise fields.error(
                    f"unknown tag {TAG.key(tag)!r}: no such tag earlier in the file"
                    " or in the database"
                )
        related = fields.key_list("related", ARTICLE)
        if number in related:
            raise fields.error("an article cannot pin itself as related")
        seen = self.seen[ARTICLE.name]
        self.unresolved.update(pin for pin in related if pin not in seen)
        previous = fields.previous_slugs(slug) if fields.has("previous_slugs") else []
        return Row(
            fields.line,
            number,
            values,
            tags,
            related,
            previous_slugs=previous,
            created_at_given=created_at_given,
            version=version,
        )
