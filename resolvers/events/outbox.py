"""The outbox: each event is written in the transaction of the change it describes.

A write calls :func:`article_event` or :func:`taxonomy_event` with what it made stale
(``resolvers.cache_tags.Staleness``, to which they add the changes feed's tag), then
:func:`write` right after recording that
staleness (``cache_invalidations.record``): the event's row and one pending delivery per
active webhook taking its type are then part of the write's commit, or of nothing. Writes
that record hold the invalidation log's sequence until they commit, so event ids follow the
order of commits. (A delete prepares its event before deleting, while the article's former
slugs can still be read.)

An article event is about what anonymous readers see: ``article.published`` when it becomes
public, ``article.updated`` when a public article is written, ``article.unpublished`` when
it stops being public, ``article.deleted`` when a public one is deleted. A draft's writes,
and a scheduled article's before its instant, fire none.
"""

from __future__ import annotations

import asyncio
import uuid
import weakref
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from sqlalchemy import DateTime, Integer, String, event, insert, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from db.models import (
    Article,
    ArticleSlug,
    Author,
    Category,
    DeliveryStatus,
    OutboxEvent,
    Tag,
    Webhook,
    WebhookDelivery,
)
from resolvers.cache_tags import CHANGES, ArticleState, Staleness
from resolvers.events.types import EventType
from resolvers.global_ids import encode_global_id

__all__ = [
    "Event",
    "TaxonomyType",
    "article_event",
    "article_event_type",
    "iso",
    "taxonomy_event",
    "write",
]

TaxonomyType = Literal["Category", "Author", "Tag"]

_TAXONOMY_EVENTS = {
    "Category": EventType.CATEGORY_CHANGED,
    "Author": EventType.AUTHOR_CHANGED,
    "Tag": EventType.TAG_CHANGED,
}


# Workers of this process waiting for work: set when a transaction that wrote events
# commits, so they deliver at once instead of at their next look (other processes' workers
# find the work when they next look).
_WAKEUPS: weakref.WeakSet[asyncio.Event] = weakref.WeakSet()
_WROTE_EVENTS = "masthead.events.written"


def wakeup() -> asyncio.Event:
    """An event set whenever a transaction of this process that wrote events commits."""
    woken = asyncio.Event()
    _WAKEUPS.add(woken)
    return woken


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.info.pop(_WROTE_EVENTS, False):
        for woken in list(_WAKEUPS):
            woken.set()


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_WROTE_EVENTS, None)


@dataclass(frozen=True)
class Event:
    """An event ready to be written: its type, subject and body."""

    type: EventType
    subject_type: str
    subject_id: int
    subject_slug: str | None
    occurred_at: datetime
    event_id: str
    body: str


def iso(moment: datetime | None) -> str | None:
    """A stored (naive UTC) time as ISO 8601 with its zone."""
    return moment.replace(tzinfo=UTC).isoformat() if moment is not None else None


def article_event_type(
    before: ArticleState | None, after: ArticleState | None, now: datetime
) -> EventType | None:
    """What a write taking the article from ``before`` to ``after`` (None: not there) tells
    integrations, or None when anonymous readers see no change."""
    was_public = before is not None and before.public(now)
    is_public = after is not None and after.public(now)
    if is_public:
        return EventType.ARTICLE_UPDATED if was_public else EventType.ARTICLE_PUBLISHED
    if not was_public:
        return None
    return EventType.ARTICLE_DELETED if after is None else EventType.ARTICLE_UNPUBLISHED


async def article_event(
    session: AsyncSession,
    article: Article,
    *,
    event_type: EventType | None,
    stale: Staleness,
    now: datetime,
) -> Event | None:
    """The event of a write to ``article`` (as written, or as it was before a delete)."""
    if event_type is None:
        return None
    previous = await session.scalars(
        select(ArticleSlug.slug)
        .where(ArticleSlug.article_id == article.id)
        .order_by(ArticleSlug.position)
    )
    data = {
        "article": {
            "id": encode_global_id("Article", article.id),
            "slug": article.slug,
            "previousSlugs": list(previous),
            "title": article.title,
            "status": article.status.upper(),
            "publishedAt": iso(article.published_at),
            "version": article.version,
        }
    }
    affected = await _affected(session, stale, article_slugs=(article.slug,))
    return _event(event_type, "Article", article.id, article.slug, data, affected, stale, now)


async def taxonomy_event(
    session: AsyncSession,
    type_name: TaxonomyType,
    row: Category | Author | Tag,
    *,
    deleted: bool,
    stale: Staleness,
    now: datetime,
) -> Event:
    """The event of a create, update or delete of a category, author or tag."""
    data = {
        type_name.lower(): {
            "id": encode_global_id(type_name, row.id),
            "slug": row.slug,
            "name": row.name,
            "deleted": deleted,
        }
    }
    own = {"Category": "categories", "Author": "authors", "Tag": "tags"}[type_name]
    affected = await _affected(session, stale, **{own: (row.slug,)})
    return _event(
        _TAXONOMY_EVENTS[type_name], type_name, row.id, row.slug, data, affected, stale, now
    )


async def write(session: AsyncSession, event: Event | None) -> None:
    """Write the event and its pending deliveries, in the caller's transaction."""
    if event is None:
        return
    session.info[_WROTE_EVENTS] = True
    event_pk: int = (
        await session.execute(
            insert(OutboxEvent)
            .values(
                event_id=event.event_id,
                type=event.type.value,
                occurred_at=event.occurred_at,
                subject_type=event.subject_type,
                subject_id=event.subject_id,
                subject_slug=event.subject_slug,
                body=event.body,
            )
            .returning(OutboxEvent.id)
        )
    ).scalar_one()
    subscribed = select(
        Webhook.id,
        literal(event_pk, Integer),
        literal(DeliveryStatus.PENDING.value, String),
        literal(0, Integer),
        literal(event.occurred_at, DateTime),
        literal(event.occurred_at, DateTime),
    ).where(Webhook.active.is_(True), Webhook.events.contains(f",{event.type.name},"))
    await session.execute(
        insert(WebhookDelivery).from_select(
            ["webhook_id", "event_id", "status", "attempts", "created_at", "next_attempt_at"],
            subscribed,
        )
    )


def _event(
    event_type: EventType,
    subject_type: str,
    subject_id: int,
    subject_slug: str | None,
    data: dict[str, Any],
    affected: dict[str, list[str]],
    stale: Staleness,
    now: datetime,
) -> Event:
    event_id = f"evt_{uuid.uuid4().hex}"
    stale.lists.add(CHANGES)  # the feed shows it: recorded with the rest (written before)
    body = {
        "id": event_id,
        "type": event_type.value,
        "occurredAt": iso(now),
        "data": data,
        "affected": affected,
        "cacheTags": sorted(stale.cache_tags()),
    }
    return Event(
        event_type,
        subject_type,
        subject_id,
        subject_slug,
        now,
        event_id,
        orjson.dumps(body).decode(),
    )


async def _affected(
    session: AsyncSession,
    stale: Staleness,
    *,
    article_slugs: Collection[str] = (),
    categories: Collection[str] = (),
    authors: Collection[str] = (),
    tags: Collection[str] = (),
) -> dict[str, list[str]]:
    """The slugs of every page the change alters, in one statement (the subject's own slug
    given, so a deleted one is named too)."""
    found: dict[str, set[str]] = {
        "articles": set(article_slugs),
        "categories": set(categories),
        "authors": set(authors),
        "tags": set(tags),
    }
    wanted: list[tuple[str, type[Article | Category | Author | Tag], set[int]]] = [
        ("articles", Article, stale.articles | stale.related_lists),
        ("categories", Category, stale.categories | stale.category_lists),
        ("authors", Author, stale.authors | stale.author_lists),
        ("tags", Tag, stale.tags | stale.tag_lists),
    ]
    parts = [
        select(literal(kind, String).label("kind"), model.slug.label("slug")).where(
            model.id.in_(sorted(ids))
        )
        for kind, model, ids in wanted
        if ids
    ]
    if parts:
        statement = parts[0] if len(parts) == 1 else union_all(*parts)
        for kind, slug in await session.execute(statement):
            found[kind].add(slug)
    return {kind: sorted(slugs) for kind, slugs in found.items()}
