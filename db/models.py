"""SQLAlchemy models: the content tables Masthead stores.

Times are stored as naive UTC (``TIMESTAMP WITHOUT TIME ZONE`` on PostgreSQL, ISO text on
SQLite) so that both databases compare them the same way; the GraphQL layer adds the zone.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    and_,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates
from sqlalchemy.sql.elements import ColumnElement

from db.dialects import code_point_string
from db.name_keys import name_key

__all__ = [
    "ApiToken",
    "Article",
    "ArticleSlug",
    "ArticleStatus",
    "ArticleTag",
    "Author",
    "Base",
    "CacheInvalidation",
    "Category",
    "DeliveryStatus",
    "OutboxEvent",
    "RelatedEntry",
    "RelatedList",
    "RelatedPin",
    "Tag",
    "Webhook",
    "WebhookDelivery",
    "public_at",
    "utcnow",
]


def public_at(
    now: datetime, status: str, published_at: datetime | None, unpublish_at: datetime | None
) -> bool:
    """:meth:`Article.is_public` for one article's values, in Python."""
    return (
        status == ArticleStatus.PUBLISHED.value
        and published_at is not None
        and published_at <= now
        and (unpublish_at is None or unpublish_at > now)
    )


def utcnow() -> datetime:
    """Now, as the naive UTC datetime the tables store."""
    return datetime.now(UTC).replace(tzinfo=None)


class ArticleStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class DeliveryStatus(enum.StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)


class _Named:
    """A row listed by name: ``name_key`` (``db.name_keys``) is set whenever ``name`` is.

    Writes through the ORM get it here; Core writes (the corpus import) set it themselves.
    """

    name: Mapped[str] = mapped_column(String(200), index=True)
    name_key: Mapped[bytes] = mapped_column(LargeBinary)

    @validates("name")
    def _key_name(self, _attribute: str, name: str) -> str:
        self.name_key = name_key(name)
        return name


class Author(_Named, Base):
    __tablename__ = "authors"
    __table_args__ = (Index("ix_authors_name_key", "name_key", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(code_point_string(200), unique=True)
    bio: Mapped[str | None] = mapped_column(Text)
    avatar_url: Mapped[str | None] = mapped_column(String(1000))


class Category(_Named, Base):
    __tablename__ = "categories"
    __table_args__ = (Index("ix_categories_name_key", "name_key", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(code_point_string(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="RESTRICT"), index=True
    )


class Tag(_Named, Base):
    __tablename__ = "tags"
    __table_args__ = (Index("ix_tags_name_key", "name_key", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(code_point_string(200), unique=True)


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'published')", name="status"),
        # Every listing filters on status first and walks one of these orders, so the
        # composite indexes lead with the filter columns (usable with bound parameters too).
        Index("ix_articles_status_published", "status", "published_at", "id"),
        Index("ix_articles_status_updated", "status", "updated_at", "id"),
        Index("ix_articles_status_title", "status", "title", "id"),
        Index("ix_articles_category_published", "category_id", "status", "published_at", "id"),
        Index("ix_articles_author_published", "author_id", "status", "published_at", "id"),
        # relatedPosts checks thousands of candidates by id: this index answers those checks
        # alone, without reading the rows (a plain composite, since SQLite has no INCLUDE).
        Index("ix_articles_id_public", "id", "status", "published_at", "category_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(code_point_string(300), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    excerpt: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=ArticleStatus.DRAFT.value)
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    # A scheduled unpublish: public until then (null: none scheduled).
    unpublish_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    # A scheduled publish whose ``article.published`` event is still to fire: its
    # publication time (``resolvers.events.schedule``); null otherwise.
    announce_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    word_count: Mapped[int] = mapped_column(Integer, default=0)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id", ondelete="RESTRICT"))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="RESTRICT"))

    @classmethod
    def is_public(cls, now: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
        """Published, its time come, and not past a scheduled unpublish: what anonymous
        readers may see.

        The unpublish is checked as ``id NOT IN (articles past their unpublish time)``: a
        seek into ``ix_articles_unpublish_at`` finding the few whose instant has come and
        that the worker has not unpublished yet (``resolvers.events.schedule``), then a check
        of the id, which every index of the table holds; so lists and counts are still
        answered from their indexes alone, without reading each row's ``unpublish_at``.
        """
        past_unpublish = select(Article.id).where(Article.unpublish_at <= now).correlate(None)
        return and_(
            cls.status == ArticleStatus.PUBLISHED.value,
            cls.published_at <= now,
            cls.id.not_in(past_unpublish),
        )


class ArticleTag(Base):
    __tablename__ = "article_tags"
    __table_args__ = (Index("ix_article_tags_tag_article", "tag_id", "article_id"),)

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(
        ForeignKey("tags.id", ondelete="RESTRICT"), primary_key=True
    )


class RelatedPin(Base):
    """An editor-pinned related article, shown first in ``relatedPosts`` in ``position`` order."""

    __tablename__ = "related_pins"
    __table_args__ = (Index("ix_related_pins_related", "related_id"),)

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    related_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))


class RelatedList(Base):
    """An article's kept related-posts ranking (``resolvers.articles.related_lists``).

    Its entries hold every scored candidate ranked at or above the floor, the key
    ``(floor_score, floor_published_at, floor_id)`` of the last one kept when the list was
    computed; a floor score of 0 means the list holds every scored candidate there is.
    ``category_id`` is the article's category when the list was computed: a list is dropped
    when its article's category or tags change, so it stays the article's category.
    """

    __tablename__ = "related_lists"
    __table_args__ = (Index("ix_related_lists_category_floor", "category_id", "floor_score"),)

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[int] = mapped_column(Integer)
    floor_score: Mapped[int] = mapped_column(Integer)
    floor_published_at: Mapped[datetime | None] = mapped_column(DateTime)
    floor_id: Mapped[int | None] = mapped_column(Integer)


class RelatedEntry(Base):
    """One scored candidate of a kept related list, with its ranking key."""

    __tablename__ = "related_entries"
    __table_args__ = (Index("ix_related_entries_related", "related_id"),)

    article_id: Mapped[int] = mapped_column(
        ForeignKey("related_lists.article_id", ondelete="CASCADE"), primary_key=True
    )
    related_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    score: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(DateTime)


class ArticleSlug(Base):
    """A slug a published article used to have: it keeps resolving to the article.

    ``position`` orders an article's former slugs, oldest first: each slug it leaves goes
    after those it holds (``resolvers.articles.former_slugs``); numbers may skip, only their
    order means something. An order rather than the time a slug was left, because an import
    restores a list of slugs oldest first whose times the corpus format does not carry:
    invented times would tie or drift, an order stays exact whatever reads it back.
    """

    __tablename__ = "article_slugs"
    # Unique, so two slugs never share a place and the order is total; it also serves the
    # lookups by article (the foreign key, the export).
    __table_args__ = (
        Index("ix_article_slugs_article_id_position", "article_id", "position", unique=True),
    )

    slug: Mapped[str] = mapped_column(code_point_string(300), primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)


class ApiToken(Base):
    """An API token for writes: only a hash of the secret is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("authors.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)


class CacheInvalidation(Base):
    """When a cache tag last went stale: the invalidation log (``resolvers.cache_invalidations``).

    ``tag_key`` is a 32-bit hash of the tag; the row of key 0 is the log's own sequence, whose
    ``seq`` is the number the latest write was given. A write that makes a tag stale sets its
    row's ``seq`` to its own number, in its own transaction; ``changed_at`` lets rows older
    than any kept answer be pruned.
    """

    __tablename__ = "cache_invalidations"
    __table_args__ = (Index("ix_cache_invalidations_changed_at", "changed_at"),)

    tag_key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[datetime] = mapped_column(DateTime)


class Webhook(Base):
    """Where to send events (``resolvers.events``): ``events`` holds the event types it
    takes, comma-separated and between commas (``,ARTICLE_PUBLISHED,TAG_CHANGED,``), so
    one ``LIKE`` finds the webhooks of a type. ``secret`` signs deliveries, so it is kept
    as given, not hashed."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[str] = mapped_column(String(400))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    secret: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class OutboxEvent(Base):
    """An event, written in the transaction of the change it describes (the outbox).

    ``id`` orders events as their changes were committed (the writes that make them hold
    the invalidation log's sequence until their commit); ``event_id`` is the id receivers
    see; ``body`` is the JSON body sent, byte for byte, to every webhook; ``subject_*`` name
    the node the event is about.
    """

    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    type: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(DateTime)
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int] = mapped_column(Integer)
    subject_slug: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)


class WebhookDelivery(Base):
    """One event sent to one webhook: ``PENDING`` until a 2xx answer (``DELIVERED``) or the
    last attempt failed (``FAILED``). A pending delivery is due at ``next_attempt_at``; a
    worker sending it sets that past its attempt's deadline first, so a worker that dies
    mid-attempt leaves it due again (``resolvers.events.worker``)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('PENDING', 'DELIVERED', 'FAILED')", name="status"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook", "webhook_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_events.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    response_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)
