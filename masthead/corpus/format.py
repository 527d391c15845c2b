"""The corpus format, defined once: JSON Lines of author, category, tag and article records.

Each line is one record: ``type``, ``key``, then the kind's fields in a fixed order, then
the optional ones it carries (articles only: what an export keeps that a generated corpus
leaves out). A key is the kind's prefix and the row's id (``a12``, ``c3``, ``t40``,
``p12345``); references to other records are their keys. Times are UTC to the second,
``2024-05-01T09:30:00Z``. The importer, the exporter and the demo content all read and
write it through this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

__all__ = [
    "ARTICLE",
    "AUTHOR",
    "CATEGORY",
    "KINDS",
    "MAX_KEY_NUMBER",
    "TAG",
    "TIME_EXAMPLE",
    "RecordKind",
    "format_time",
    "parse_time",
]

# Ids are INTEGER columns on both databases.
MAX_KEY_NUMBER = 2**31 - 1
TIME_EXAMPLE = "2024-05-01T09:30:00Z"
_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z")
_KEY_NUMBER = re.compile(r"[1-9][0-9]*")


@dataclass(frozen=True)
class RecordKind:
    """One type of record: its name, the prefix of its keys, its fields in order."""

    name: str
    prefix: str
    fields: tuple[str, ...]
    optional: tuple[str, ...] = ()

    def key(self, number: int) -> str:
        return f"{self.prefix}{number}"

    def number(self, key: object) -> int | None:
        """The id a key of this kind names, or None if it is not one."""
        if not (isinstance(key, str) and key.startswith(self.prefix)):
            return None
        digits = key[len(self.prefix) :]
        if _KEY_NUMBER.fullmatch(digits) and int(digits) <= MAX_KEY_NUMBER:
            return int(digits)
        return None

    @cached_property
    def _names(self) -> frozenset[str]:
        return frozenset({"type", "key", *self.fields, *self.optional})

    def unknown(self, record: dict[str, Any]) -> list[str]:
        """The names in ``record`` that no record of this kind has, in the record's order."""
        known = self._names
        return [name for name in record if name not in known]

    def describe(self) -> str:
        """The fields a record of this kind has, for error messages."""
        a_or_an = "an" if self.name[0] in "aeiou" else "a"
        described = f"{a_or_an} {self.name} record has {', '.join(self.fields)}"
        if self.optional:
            described += f" and optionally {', '.join(self.optional)}"
        return described

    def record(self, number: int, **fields: Any) -> dict[str, Any]:
        """A record of this kind: its fields, then the optional ones given, in format order."""
        if not set(self.fields) <= set(fields) <= {*self.fields, *self.optional}:
            raise ValueError(self.describe())
        return {"type": self.name, "key": self.key(number)} | {
            name: fields[name] for name in (*self.fields, *self.optional) if name in fields
        }


AUTHOR = RecordKind("author", "a", ("slug", "name", "bio", "avatar_url"))
CATEGORY = RecordKind("category", "c", ("slug", "name", "description", "parent"))
TAG = RecordKind("tag", "t", ("slug", "name"))
ARTICLE = RecordKind(
    "article",
    "p",
    (
        "slug",
        "title",
        "excerpt",
        "body",
        "status",
        "published_at",
        "updated_at",
        "author",
        "category",
        "tags",
        "related",
    ),
    # Old slugs that still resolve, the row's creation time and version, and a scheduled
    # unpublish (exported only when one is scheduled).
    optional=("previous_slugs", "created_at", "version", "unpublish_at"),
)
# In dependency order: a record only names records of kinds before it (and articles).
KINDS = {kind.name: kind for kind in (AUTHOR, CATEGORY, TAG, ARTICLE)}


def format_time(value: datetime | None) -> str | None:
    """A naive UTC time (or None) as the format writes it."""
    if value is None:
        return None
    return value.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def parse_time(value: object) -> datetime:
    """The naive UTC time ``value`` names; ValueError saying why it does not."""
    match = _TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"must be a time like {TIME_EXAMPLE}")
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError as error:
        raise ValueError(f"is not a valid time: {error}") from None
