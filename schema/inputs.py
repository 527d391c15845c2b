"""GraphQL input types."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from db.models import ArticleStatus as _Status
from resolvers.articles.reads import ArticleFilter as _Filter
from schema.types import ArticleStatus

__all__ = ["ArticleFilter"]


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


@strawberry.input(description="Narrows a list of articles; every given condition must hold.")
class ArticleFilter:
    category_slug: str | None = strawberry.field(
        default=None, description="In this category or any of its subcategories."
    )
    author_slug: str | None = strawberry.field(default=None, description="By this author.")
    tag_slugs: list[str] | None = strawberry.field(
        default=None, description="Carrying all of these tags."
    )
    published_after: datetime | None = strawberry.field(
        default=None, description="Published strictly after this time."
    )
    published_before: datetime | None = strawberry.field(
        default=None, description="Published strictly before this time."
    )
    status: list[ArticleStatus] | None = strawberry.field(
        default=None, description="Editors only: these statuses (drafts included)."
    )

    def resolved(self) -> _Filter:
        return _Filter(
            category_slug=self.category_slug,
            author_slug=self.author_slug,
            tag_slugs=tuple(self.tag_slugs) if self.tag_slugs is not None else None,
            published_after=_naive_utc(self.published_after),
            published_before=_naive_utc(self.published_before),
            statuses=tuple(_Status(s.name.lower()) for s in self.status)
            if self.status is not None
            else None,
        )
