"""Relay pagination with keyset cursors.

A cursor records the sort key of the row it stands for (its sort values and id), never an
offset, so it keeps its place when rows are inserted or deleted before it: a cursor whose
row is gone still pages on from where that row stood.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import ColumnElement, Select, literal_column, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from resolvers.errors import BadUserInput
from resolvers.global_ids import MAX_PK

__all__ = [
    "MAX_PAGE_SIZE",
    "Page",
    "PageRequest",
    "SortKey",
    "Window",
    "decode_cursor",
    "encode_cursor",
    "literal_limit",
]

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20

ValueKind = Literal["datetime", "str", "int"]
Row = TypeVar("Row")


def encode_cursor(payload: list[Any]) -> str:
    """An opaque cursor: the JSON list, base64url without padding."""
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    """The list inside a cursor; BAD_USER_INPUT for anything that is not one of ours."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadUserInput(f"Malformed cursor {cursor!r}.") from None
    if not isinstance(payload, list):
        raise BadUserInput(f"Malformed cursor {cursor!r}.")
    return payload


def literal_limit(n: int) -> ColumnElement[Any]:
    """A LIMIT rendered into the SQL text: a bound LIMIT makes PostgreSQL plan afresh per call."""
    return literal_column(str(int(n)))


@dataclass(frozen=True)
class SortKey:
    """An order a connection can be walked in: columns all ascending or all descending."""

    name: str
    columns: tuple[InstrumentedAttribute[Any] | ColumnElement[Any], ...]
    kinds: tuple[ValueKind, ...]
    descending: bool
    # How to read a row's sort values, when the columns are expressions, not attributes.
    row_values: Callable[[Any], tuple[Any, ...]] | None = None
    # How a cursor's values become the columns' values, when the cursor holds what a stored
    # key is computed from rather than the key itself.
    column_values: Callable[[tuple[Any, ...]], tuple[Any, ...]] | None = None

    def order_by(self, *, reverse: bool = False) -> list[ColumnElement[Any]]:
        descending = self.descending != reverse
        return [column.desc() if descending else column.asc() for column in self.columns]

    def after(self, values: tuple[Any, ...], *, reverse: bool = False) -> ColumnElement[bool]:
        """Rows that come after ``values`` in this order (before, when ``reverse``)."""
        key = tuple_(*self.columns)
        if self.descending != reverse:
            return key < tuple_(*values)
        return key > tuple_(*values)

    def encode(self, row: Any) -> str:
        values = (
            self.row_values(row)
            if self.row_values is not None
            else [getattr(row, str(column.key)) for column in self.columns]
        )
        return encode_cursor(
            [self.name, *(v.isoformat() if isinstance(v, datetime) else v for v in values)]
        )

    def decode(self, cursor: str) -> tuple[Any, ...]:
        """The columns' values at ``cursor``; BAD_USER_INPUT for a malformed or foreign one."""
        payload = decode_cursor(cursor)
        if len(payload) != len(self.kinds) + 1:
            raise BadUserInput(f"Malformed cursor {cursor!r}.")
        if payload[0] != self.name:
            raise BadUserInput(
                f"Cursor {cursor!r} belongs to another list or order, not this {self.name} one."
            )
        values = tuple(
            _value(kind, v, cursor) for kind, v in zip(self.kinds, payload[1:], strict=True)
        )
        return values if self.column_values is None else self.column_values(values)


def _value(kind: ValueKind, value: Any, cursor: str) -> Any:
    # Only values we could have written: anything else would be bound into the query and make
    # the database fail it (PostgreSQL refuses NUL in text, ints past 32 bits, mixed zones).
    if kind == "int" and type(value) is int and 0 <= value <= MAX_PK:
        return value
    if kind == "str" and isinstance(value, str) and "\x00" not in value:
        return value
    if kind == "datetime" and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if moment.tzinfo is None:
                return moment
    raise BadUserInput(f"Malformed cursor {cursor!r}.")


@dataclass(frozen=True)
class PageRequest:
    """The Relay arguments as given; hashable, so it can be part of a loader key."""

    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None
    default_size: int = DEFAULT_PAGE_SIZE

    def window(self, sort: SortKey) -> Window:
        """Validate against ``sort``: sizes in 0..100, cursors of this order."""
        for name, size in (("first", self.first), ("last", self.last)):
            if size is not None and not 0 <= size <= MAX_PAGE_SIZE:
                raise BadUserInput(f"`{name}` must be between 0 and {MAX_PAGE_SIZE}, got {size}.")
        if self.first is not None and self.last is not None:
            raise BadUserInput("Pass `first` or `last`, not both.")
        after = sort.decode(self.after) if self.after is not None else None
        before = sort.decode(self.before) if self.before is not None else None
        if self.last is not None:
            return Window(size=self.last, backward=True, after=after, before=before)
        size = self.first if self.first is not None else self.default_size
        return Window(size=size, backward=False, after=after, before=before)


@dataclass(frozen=True)
class Window:
    """A validated page: ``size`` rows forward from ``after`` or backward from ``before``."""

    size: int
    backward: bool
    after: tuple[Any, ...] | None
    before: tuple[Any, ...] | None

    def conditions(self, sort: SortKey) -> list[ColumnElement[bool]]:
        conditions = []
        if self.after is not None:
            conditions.append(sort.after(self.after))
        if self.before is not None:
            conditions.append(sort.after(self.before, reverse=True))
        return conditions

    def order_by(self, sort: SortKey) -> list[ColumnElement[Any]]:
        """Walking order: the sort itself, reversed when paging backward."""
        return sort.order_by(reverse=self.backward)

    def apply(self, statement: Select[Any], sort: SortKey) -> Select[Any]:
        """Keyset, order and a LIMIT one past the page (to learn whether more follow)."""
        return (
            statement.where(*self.conditions(sort))
            .order_by(*self.order_by(sort))
            .limit(literal_limit(self.size + 1))
        )

    def page(self, rows: Sequence[Row], sort: SortKey) -> Page[Row]:
        """The page from rows fetched by :meth:`apply` (``size + 1`` at most, walking order)."""
        more = len(rows) > self.size
        kept = list(rows[: self.size])
        if self.backward:
            kept.reverse()
            return Page(kept, sort, has_next_page=self.before is not None, has_previous_page=more)
        return Page(kept, sort, has_next_page=more, has_previous_page=self.after is not None)


@dataclass
class Page(Generic[Row]):
    """One page of a connection, in display order."""

    rows: list[Row]
    sort: SortKey
    has_next_page: bool
    has_previous_page: bool

    def cursor(self, row: Row) -> str:
        return self.sort.encode(row)
