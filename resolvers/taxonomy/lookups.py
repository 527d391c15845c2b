"""Authors, categories and tags: lookups by slug and name-ordered pages."""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from sqlalchemy import Row, Select, Table, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from db.dialects import database_of
from db.models import Author, Category, Tag
from db.name_keys import name_key
from resolvers.pagination import Page, PageRequest, SortKey

__all__ = ["by_slug", "categories", "could_be_slug", "count", "name_order", "name_page"]

Named = TypeVar("Named", Author, Category, Tag)


def name_order(model: type[Named]) -> tuple[InstrumentedAttribute[Any], ...]:
    """The columns every list of ``model`` by name is sorted on (``db.name_keys``)."""
    return (model.name_key, model.id)


def _name_and_id(row: Author | Category | Tag) -> tuple[Any, ...]:
    return (row.name, row.id)


def _key_and_id(values: tuple[Any, ...]) -> tuple[Any, ...]:
    name, row_id = values
    return (name_key(name), row_id)


def _name_sort(model: type[Named]) -> SortKey:
    # The cursor holds the name, its key computed again on decoding: a cursor reads as the row
    # it stands for, and those clients already hold (a name and an id) keep their place.
    return SortKey(
        model.__tablename__,
        name_order(model),
        ("str", "int"),
        descending=False,
        row_values=_name_and_id,
        column_values=_key_and_id,
    )


def could_be_slug(slug: str) -> bool:
    """False for text no row holds; PostgreSQL refuses NUL in text and would fail the query."""
    return "\x00" not in slug


async def by_slug(session: AsyncSession, model: type[Named], slug: str) -> Row[Any] | None:
    """The table's row (read like the model), only read: no ORM object is made."""
    if not could_be_slug(slug):
        return None
    connection = await session.connection()
    table: Table = model.__table__  # type: ignore[assignment]  # a mapped table
    found = await database_of(session).kept_rows(connection, _by_slug(table), {"slug": slug})
    return found[0] if found else None


@functools.cache
def _by_slug(table: Table) -> Select[Any]:
    return select(table).where(table.c.slug == bindparam("slug"))


async def name_page(session: AsyncSession, model: type[Named], request: PageRequest) -> Page[Named]:
    """A page of ``model`` rows ordered by name as people read it (then id)."""
    sort = _name_sort(model)
    window = request.window(sort)
    rows = (await session.scalars(window.apply(select(model), sort))).all()
    return window.page(rows, sort)


async def count(session: AsyncSession, model: type[Named]) -> int:
    total = await session.scalar(select(func.count()).select_from(model))
    return total or 0


async def categories(session: AsyncSession, *, roots_only: bool) -> list[Category]:
    statement = select(Category).order_by(*name_order(Category))
    if roots_only:
        statement = statement.where(Category.parent_id.is_(None))
    return list((await session.scalars(statement)).all())
