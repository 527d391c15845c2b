"""The changes feed (``Query.changes``): the outbox read in commit order, as the caller may
see it.

Each event is a change of one node: a removal for ``article.unpublished``, ``article.deleted``
and a deleted category, author or tag, an upsert otherwise. The node is loaded as the caller
may see it now (anonymous callers: public articles only; null when it is gone or hidden
since), in one statement per node type whatever the page size. Events are numbered in
commit order (``outbox``), so a builder that keeps the last cursor and asks again gets
exactly what changed since, in order; applying them in order (upsert, remove) rebuilds the
site.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Article, Author, Category, OutboxEvent, Tag
from resolvers.access.viewer import Viewer
from resolvers.articles.reads import visibility
from resolvers.events.types import EventType
from resolvers.pagination import Page, PageRequest, SortKey

__all__ = ["CHANGE_ORDER", "ChangeKind", "ChangeRow", "change_count", "changes_page"]

CHANGE_ORDER = SortKey("CHANGES", (OutboxEvent.id,), ("int",), descending=False)
"""Oldest first: commit order."""

_REMOVALS = frozenset({EventType.ARTICLE_UNPUBLISHED, EventType.ARTICLE_DELETED})
_MODELS: dict[str, type[Article | Author | Category | Tag]] = {
    "Article": Article,
    "Author": Author,
    "Category": Category,
    "Tag": Tag,
}


class ChangeKind(enum.StrEnum):
    UPSERT = "UPSERT"
    REMOVE = "REMOVE"


@dataclass(frozen=True)
class ChangeRow:
    id: int  # the event's number: the cursor
    kind: ChangeKind
    typename: str
    subject_id: int
    slug: str | None
    occurred_at: datetime
    node: Article | Author | Category | Tag | None


def _kind(event: OutboxEvent) -> ChangeKind:
    if EventType(event.type) in _REMOVALS:
        return ChangeKind.REMOVE
    if event.subject_type != "Article":
        data = orjson.loads(event.body)["data"][event.subject_type.lower()]
        if data["deleted"]:
            return ChangeKind.REMOVE
    return ChangeKind.UPSERT


async def _nodes(
    session: AsyncSession, events: Sequence[OutboxEvent], viewer: Viewer, now: datetime
) -> dict[tuple[str, int], Article | Author | Category | Tag]:
    """The nodes of the events as the viewer may see them now, one statement per type."""
    wanted: dict[str, set[int]] = {}
    for event in events:
        wanted.setdefault(event.subject_type, set()).add(event.subject_id)
    found: dict[tuple[str, int], Article | Author | Category | Tag] = {}
    for typename, ids in wanted.items():
        model = _MODELS[typename]
        statement = select(model).where(model.id.in_(sorted(ids)))
        if model is Article:
            statement = statement.where(visibility(viewer, now))
        rows: Sequence[Any] = (await session.scalars(statement)).all()
        for row in rows:
            found[(typename, row.id)] = row
    return found


async def changes_page(
    session: AsyncSession, *, request: PageRequest, viewer: Viewer, now: datetime
) -> Page[ChangeRow]:
    """One page of changes after ``request.after``, oldest first."""
    window = request.window(CHANGE_ORDER)
    statement = window.apply(select(OutboxEvent), CHANGE_ORDER)
    events = list(await session.scalars(statement))
    nodes = await _nodes(session, events[: window.size], viewer, now)
    rows = [
        ChangeRow(
            event.id,
            _kind(event),
            event.subject_type,
            event.subject_id,
            event.subject_slug,
            event.occurred_at,
            nodes.get((event.subject_type, event.subject_id)),
        )
        for event in events
    ]
    return window.page(rows, CHANGE_ORDER)


async def change_count(session: AsyncSession, *, after: int | None) -> int:
    """How many changes follow the cursor's (all of them without one)."""
    statement = select(func.count()).select_from(OutboxEvent)
    if after is not None:
        statement = statement.where(OutboxEvent.id > after)
    return await session.scalar(statement) or 0
