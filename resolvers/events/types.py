"""The event types, as GraphQL names them (``ARTICLE_PUBLISHED``) and as deliveries carry
them (``article.published``)."""

from __future__ import annotations

import enum

__all__ = ["EventType"]


class EventType(enum.StrEnum):
    ARTICLE_PUBLISHED = "article.published"
    ARTICLE_UPDATED = "article.updated"
    ARTICLE_UNPUBLISHED = "article.unpublished"
    ARTICLE_DELETED = "article.deleted"
    CATEGORY_CHANGED = "category.changed"
    AUTHOR_CHANGED = "author.changed"
    TAG_CHANGED = "tag.changed"

    @classmethod
    def named(cls, name: str) -> EventType:
        """The type of a GraphQL or stored name (``ARTICLE_PUBLISHED``); KeyError if none."""
        return cls[name]
