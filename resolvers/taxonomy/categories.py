"""The category tree: subtrees, children, ancestors."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import CTE, Boolean, ColumnElement, Integer, Select, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute, aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from db.models import Category
from resolvers.taxonomy.lookups import name_order

__all__ = ["ancestors", "ancestry", "children", "in_subtree", "subtree"]


def subtree(roots: Sequence[int] | Select[Any]) -> CTE:
    """``(root_id, category_id)`` for every category in the subtree of each root, roots included.

    Built once per list of ids and kept (a category page asks for the same few again and
    again): building it cost a tenth of such a page's CPU. Statements share it unchanged.
    """
    if isinstance(roots, Select):
        return _subtree(roots)
    return _subtree_of(tuple(roots))


@functools.lru_cache(maxsize=512)
def _subtree_of(roots: tuple[int, ...]) -> CTE:
    return _subtree(roots)


def _subtree(roots: Sequence[int] | Select[Any]) -> CTE:
    # One root (a category's page) is an equality: a plain bound value, where an IN list is
    # rendered on every execution and keeps the statement off the driver (Database.kept_rows).
    which = (
        Category.id == roots[0]
        if not isinstance(roots, Select) and len(roots) == 1
        else Category.id.in_(roots)
    )
    anchor = select(Category.id.label("root_id"), Category.id.label("category_id")).where(which)
    tree = anchor.cte("subtree", recursive=True)
    child = aliased(Category)
    return tree.union_all(
        select(tree.c.root_id, child.id).where(child.parent_id == tree.c.category_id)
    )


def ancestry(category_ids: Sequence[int]) -> CTE:
    """``id`` of each of these categories and of every category above them."""
    start = select(Category.id.label("id"), Category.parent_id.label("parent_id")).where(
        Category.id.in_(category_ids)
    )
    chain = start.cte("ancestry", recursive=True)
    above = aliased(Category)
    # UNION: two starting categories under one root meet there, and count it once.
    return chain.union(select(above.id, above.parent_id).where(above.id == chain.c.parent_id))


class _InIds(FunctionElement[bool]):
    """``column IN (ids)``, written for each database's planner (see :func:`in_subtree`)."""

    type = Boolean()
    inherit_cache = True
    name = "in_ids"


@compiles(_InIds)
def _in_ids(element: _InIds, compiler: SQLCompiler, **kw: Any) -> str:
    column, ids = element.clauses
    return f"{compiler.process(column, **kw)} IN {compiler.process(ids, **kw)}"


@compiles(_InIds, "postgresql")
def _in_ids_array(element: _InIds, compiler: SQLCompiler, **kw: Any) -> str:
    column, ids = element.clauses
    return f"{compiler.process(column, **kw)} = ANY(ARRAY{compiler.process(ids, **kw)})"


def in_subtree(
    column: ColumnElement[int] | InstrumentedAttribute[int], root: Select[Any]
) -> ColumnElement[bool]:
    """``column`` holds a category of the subtree under ``root`` (a one-id select).

    On PostgreSQL the subtree becomes an array, computed once: as ``IN`` over the recursive
    CTE, the planner guesses one fixed subtree size whatever the tree, costs a scan of it per
    article, and on a large corpus turns a search in one category from a walk of the primary
    key into a full scan and sort (bench/results/search.md).
    """
    tree = subtree(root)
    return _InIds(column, select(tree.c.category_id).scalar_subquery())


async def children(session: AsyncSession, parent_ids: Sequence[int]) -> dict[int, list[Category]]:
    rows = await session.scalars(
        select(Category).where(Category.parent_id.in_(parent_ids)).order_by(*name_order(Category))
    )
    grouped: dict[int, list[Category]] = {parent_id: [] for parent_id in parent_ids}
    for row in rows:
        assert row.parent_id is not None
        grouped[row.parent_id].append(row)
    return grouped


async def ancestors(
    session: AsyncSession, category_ids: Sequence[int]
) -> dict[int, list[Category]]:
    """Each category's ancestors, root first (breadcrumb order), itself excluded."""
    anchor = select(
        Category.id.label("start_id"),
        Category.parent_id.label("ancestor_id"),
        literal(0, Integer).label("depth"),
    ).where(Category.id.in_(category_ids), Category.parent_id.is_not(None))
    chain = anchor.cte("chain", recursive=True)
    parent = aliased(Category)
    chain = chain.union_all(
        select(chain.c.start_id, parent.parent_id, chain.c.depth + 1).where(
            parent.id == chain.c.ancestor_id, parent.parent_id.is_not(None)
        )
    )
    query = (
        select(chain.c.start_id, Category)
        .join(Category, Category.id == chain.c.ancestor_id)
        .order_by(chain.c.start_id, chain.c.depth.desc())
    )
    grouped: dict[int, list[Category]] = {category_id: [] for category_id in category_ids}
    for start_id, category in await session.execute(query):
        grouped[start_id].append(category)
    return grouped
