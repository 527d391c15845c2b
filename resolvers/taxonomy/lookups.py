"""Authors, categories and tags: lookups by slug and name-ordered pages."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Author, Category, Tag
from resolvers.pagination import Page, PageRequest, SortKey

__all__ = ["by_slug", "categories", "could_be_slug", "count", "name_page"]

Named = TypeVar("Named", Author, Category, Tag)


def _name_sort(model: type[Named]) -> SortKey:
    return SortKey(model.__tablename__, (model.name, model.id), ("str", "int"), descending=False)


def could_be_slug(slug: str) -> bool:
    """False for text no row holds; PostgreSQL refuses NUL in text and would fail the query."""
    return "\x00" not in slug


async def by_slug(session: AsyncSession, model: type[Named], slug: str) -> Named | None:
    if not could_be_slug(slug):
        return None
    found: Named | None = await session.scalar(select(model).where(model.slug == slug))
    return found


async def name_page(session: AsyncSession, model: type[Named], request: PageRequest) -> Page[Named]:
    """A page of ``model`` rows ordered by name (then id)."""
    sort = _name_sort(model)
    window = request.window(sort)
    rows = (await session.scalars(window.apply(select(model), sort))).all()
    return window.page(rows, sort)


async def count(session: AsyncSession, model: type[Named]) -> int:
    total = await session.scalar(select(func.count()).select_from(model))
    return total or 0


async def categories(session: AsyncSession, *, roots_only: bool) -> list[Category]:
    statement = select(Category).order_by(Category.name, Category.id)
    if roots_only:
        statement = statement.where(Category.parent_id.is_(None))
    return list((await session.scalars(statement)).all())
