"""The Mutation root (SPEC, Writing): thin fields that run one write in one transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Concatenate, ParamSpec, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import utcnow
from resolvers.articles import writes as article_writes
from resolvers.taxonomy import writes as taxonomy_writes
from resolvers.transaction import Actor, Outcome, in_one_transaction
from schema.mutation_inputs import (
    AuthorInput,
    CategoryInput,
    CreateArticleInput,
    TagInput,
    UpdateArticleInput,
    UpdateAuthorInput,
    UpdateCategoryInput,
    UpdateTagInput,
)
from schema.payloads import (
    ArticlePayload,
    AuthorPayload,
    CategoryPayload,
    DeletePayload,
    TagPayload,
)
from schema.types import Info

__all__ = ["Mutation"]

T = TypeVar("T")
P = ParamSpec("P")

_ARTICLE_ID = Annotated[strawberry.ID, strawberry.argument(description="Global id of the article.")]
_CATEGORY_ID = Annotated[
    strawberry.ID, strawberry.argument(description="Global id of the category.")
]
_AUTHOR_ID = Annotated[strawberry.ID, strawberry.argument(description="Global id of the author.")]
_TAG_ID = Annotated[strawberry.ID, strawberry.argument(description="Global id of the tag.")]


async def _write(
    info: Info,
    write: Callable[Concatenate[AsyncSession, Actor, P], Awaitable[T]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> Outcome[T]:
    """Run ``write`` in one transaction, then let the rest of the operation read what it wrote."""
    context = info.context
    actor = Actor(context.viewer, utcnow())
    outcome = await in_one_transaction(
        context.sessionmaker, lambda session: write(session, actor, *args, **kwargs)
    )
    if outcome.value is not None:
        # The request's loaders may hold rows from before the write; what follows must see it.
        context.renew(actor.now)
    return outcome


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


@strawberry.type(
    description="Writes. Every field needs an API token (`Authorization: Bearer <token>`): "
    "without one the error is `UNAUTHENTICATED`, with a role that may not do it `FORBIDDEN`. "
    "Each field is one transaction: it wholly happens or, with payload `errors`, not at all."
)
class Mutation:
    @strawberry.mutation(
        description="Create an article as a draft. Writers only for their own author."
    )
    async def create_article(
        self,
        info: Info,
        input: Annotated[CreateArticleInput, strawberry.argument(description="The article.")],
    ) -> ArticlePayload:
        outcome = await _write(info, article_writes.create_article, fields=input.resolved())
        return ArticlePayload.of(outcome)

    @strawberry.mutation(
        description="Change an article; `version` increments. Writers only their own drafts."
    )
    async def update_article(
        self,
        info: Info,
        id: _ARTICLE_ID,
        input: Annotated[UpdateArticleInput, strawberry.argument(description="The changes.")],
        expected_version: Annotated[
            int | None,
            strawberry.argument(
                description="The version the change was made on: if the article has changed "
                "since, nothing is written and the error is `CONFLICT`."
            ),
        ] = None,
    ) -> ArticlePayload:
        outcome = await _write(
            info,
            article_writes.update_article,
            article_id=id,
            fields=input.resolved(),
            expected_version=expected_version,
        )
        return ArticlePayload.of(outcome)

    @strawberry.mutation(
        description="Publish an article, now or at `publishAt` (editors and admins only)."
    )
    async def publish_article(
        self,
        info: Info,
        id: _ARTICLE_ID,
        publish_at: Annotated[
            datetime | None,
            strawberry.argument(
                description="When it becomes public: a future time schedules it. Default: now "
                "(an article already public keeps its publication time)."
            ),
        ] = None,
    ) -> ArticlePayload:
        outcome = await _write(
            info, article_writes.publish_article, article_id=id, publish_at=_naive_utc(publish_at)
        )
        return ArticlePayload.of(outcome)

    @strawberry.mutation(
        description="Make an article a draft again, now or at `at` (editors and admins only)."
    )
    async def unpublish_article(
        self,
        info: Info,
        id: _ARTICLE_ID,
        at: Annotated[
            datetime | None,
            strawberry.argument(
                description="A future time schedules the unpublish (an embargo's end, a "
                "licence's expiry): public until then, hidden from every read at that instant. "
                "Default: now."
            ),
        ] = None,
    ) -> ArticlePayload:
        outcome = await _write(
            info, article_writes.unpublish_article, article_id=id, at=_naive_utc(at)
        )
        return ArticlePayload.of(outcome)

    @strawberry.mutation(description="Delete an article (editors and admins only).")
    async def delete_article(self, info: Info, id: _ARTICLE_ID) -> DeletePayload:
        outcome = await _write(info, article_writes.delete_article, article_id=id)
        return DeletePayload.of(outcome, "Article")

    @strawberry.mutation(
        description="Replace an article's editor-pinned related articles, in order. Drafts may "
        "be pinned: they show in `relatedPosts` once public."
    )
    async def set_related_posts(
        self,
        info: Info,
        id: _ARTICLE_ID,
        related_ids: Annotated[
            list[strawberry.ID],
            strawberry.argument(
                description=f"Global ids of the related articles, at most "
                f"{article_writes.MAX_RELATED_PINS}; never the article itself."
            ),
        ],
    ) -> ArticlePayload:
        outcome = await _write(
            info, article_writes.set_related_posts, article_id=id, related_ids=related_ids
        )
        return ArticlePayload.of(outcome)

    @strawberry.mutation(description="Create a category (admins only).")
    async def create_category(
        self,
        info: Info,
        input: Annotated[CategoryInput, strawberry.argument(description="The category.")],
    ) -> CategoryPayload:
        outcome = await _write(info, taxonomy_writes.create_category, fields=input.resolved())
        return CategoryPayload.of(outcome)

    @strawberry.mutation(
        description="Change a category (admins only); it may not become its own ancestor."
    )
    async def update_category(
        self,
        info: Info,
        id: _CATEGORY_ID,
        input: Annotated[UpdateCategoryInput, strawberry.argument(description="The changes.")],
    ) -> CategoryPayload:
        outcome = await _write(
            info, taxonomy_writes.update_category, category_id=id, fields=input.resolved()
        )
        return CategoryPayload.of(outcome)

    @strawberry.mutation(
        description="Delete a category without articles or subcategories (admins only)."
    )
    async def delete_category(self, info: Info, id: _CATEGORY_ID) -> DeletePayload:
        outcome = await _write(info, taxonomy_writes.delete_category, category_id=id)
        return DeletePayload.of(outcome, "Category")

    @strawberry.mutation(description="Create an author (admins only).")
    async def create_author(
        self,
        info: Info,
        input: Annotated[AuthorInput, strawberry.argument(description="The author.")],
    ) -> AuthorPayload:
        outcome = await _write(info, taxonomy_writes.create_author, fields=input.resolved())
        return AuthorPayload.of(outcome)

    @strawberry.mutation(description="Change an author (admins only).")
    async def update_author(
        self,
        info: Info,
        id: _AUTHOR_ID,
        input: Annotated[UpdateAuthorInput, strawberry.argument(description="The changes.")],
    ) -> AuthorPayload:
        outcome = await _write(
            info, taxonomy_writes.update_author, author_id=id, fields=input.resolved()
        )
        return AuthorPayload.of(outcome)

    @strawberry.mutation(
        description="Delete an author without articles (admins only); its writer tokens go too."
    )
    async def delete_author(self, info: Info, id: _AUTHOR_ID) -> DeletePayload:
        outcome = await _write(info, taxonomy_writes.delete_author, author_id=id)
        return DeletePayload.of(outcome, "Author")

    @strawberry.mutation(description="Create a tag (admins only).")
    async def create_tag(
        self,
        info: Info,
        input: Annotated[TagInput, strawberry.argument(description="The tag.")],
    ) -> TagPayload:
        outcome = await _write(info, taxonomy_writes.create_tag, fields=input.resolved())
        return TagPayload.of(outcome)

    @strawberry.mutation(description="Change a tag (admins only).")
    async def update_tag(
        self,
        info: Info,
        id: _TAG_ID,
        input: Annotated[UpdateTagInput, strawberry.argument(description="The changes.")],
    ) -> TagPayload:
        outcome = await _write(info, taxonomy_writes.update_tag, tag_id=id, fields=input.resolved())
        return TagPayload.of(outcome)

    @strawberry.mutation(
        description="Delete a tag (admins only); it is taken off its articles, which are "
        "written (`version` increments)."
    )
    async def delete_tag(self, info: Info, id: _TAG_ID) -> DeletePayload:
        outcome = await _write(info, taxonomy_writes.delete_tag, tag_id=id)
        return DeletePayload.of(outcome, "Tag")
