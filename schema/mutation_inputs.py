"""GraphQL input types of the mutations (SPEC, Writing); ``resolved()`` hands them to resolvers/."""

from __future__ import annotations

from typing import TypeVar

import strawberry

from resolvers.write_inputs import (
    UNCHANGED,
    ArticleFields,
    AuthorFields,
    CategoryFields,
    TagFields,
    Unchanged,
)

__all__ = [
    "AuthorInput",
    "CategoryInput",
    "CreateArticleInput",
    "TagInput",
    "UpdateArticleInput",
    "UpdateAuthorInput",
    "UpdateCategoryInput",
    "UpdateTagInput",
]

_NEW_NAME = "New display name; must not be empty (null is refused)."
_NEW_SLUG = "New URL-safe unique name (lower-case letters, digits, single hyphens)."

_SLUG = (
    "URL-safe unique name (lower-case letters, digits, single hyphens). When not given: "
    "generated from the name on create, kept on update."
)


T = TypeVar("T")


def _given(value: T | None) -> T | Unchanged | None:
    """A field left out of the input (as opposed to given as null) is UNCHANGED."""
    return UNCHANGED if value is strawberry.UNSET else value


@strawberry.input(description="A new article. It starts as a draft.")
class CreateArticleInput:
    title: str = strawberry.field(description="Headline; must not be empty.")
    slug: str | None = strawberry.field(
        default=None,
        description="URL-safe unique name (lower-case letters, digits, single hyphens); "
        "generated from the title when not given.",
    )
    excerpt: str | None = strawberry.field(
        default=None,
        description="Plain-text summary; derived from the body (its first sentence) when "
        "not given.",
    )
    body: str = strawberry.field(
        description="HTML body; sanitized on write (scripts, event handlers, `javascript:` URLs "
        "and styles are removed)."
    )
    author_id: strawberry.ID = strawberry.field(description="Global id of its author.")
    category_id: strawberry.ID = strawberry.field(description="Global id of its category.")
    tag_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Global ids of its tags."
    )

    def resolved(self) -> ArticleFields:
        return _article_fields(self)


@strawberry.input(description="Changes to an article: only the fields given (not null) change.")
class UpdateArticleInput:
    title: str | None = strawberry.field(
        default=None,
        description="New headline. A draft whose slug came from its title follows it; a "
        "published article's slug never moves with its title.",
    )
    slug: str | None = strawberry.field(
        default=None,
        description="New slug; a published article's former slug keeps resolving to it.",
    )
    excerpt: str | None = strawberry.field(
        default=None, description="New plain-text summary; empty to derive it from the body."
    )
    body: str | None = strawberry.field(default=None, description="New HTML body (sanitized).")
    author_id: strawberry.ID | None = strawberry.field(
        default=None, description="Global id of the new author."
    )
    category_id: strawberry.ID | None = strawberry.field(
        default=None, description="Global id of the new category."
    )
    tag_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Global ids of all its tags (replacing the current ones)."
    )

    def resolved(self) -> ArticleFields:
        return _article_fields(self)


def _article_fields(input: CreateArticleInput | UpdateArticleInput) -> ArticleFields:
    return ArticleFields(
        title=input.title,
        slug=input.slug,
        excerpt=input.excerpt,
        body=input.body,
        author_id=input.author_id,
        category_id=input.category_id,
        tag_ids=input.tag_ids,
    )


@strawberry.input(description="A new category.")
class CategoryInput:
    name: str = strawberry.field(description="Display name; must not be empty.")
    slug: str | None = strawberry.field(default=strawberry.UNSET, description=_SLUG)
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="What the category covers."
    )
    parent_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="Global id of the parent category; null for a top-level category.",
    )

    def resolved(self) -> CategoryFields:
        return CategoryFields(
            name=self.name,
            slug=_given(self.slug),
            description=_given(self.description),
            parent_id=_given(self.parent_id),
        )


@strawberry.input(description="A new author.")
class AuthorInput:
    name: str = strawberry.field(description="Display name; must not be empty.")
    slug: str | None = strawberry.field(default=strawberry.UNSET, description=_SLUG)
    bio: str | None = strawberry.field(default=strawberry.UNSET, description="Short biography.")
    avatar_url: str | None = strawberry.field(
        default=strawberry.UNSET, description="Portrait image URL (http or https)."
    )

    def resolved(self) -> AuthorFields:
        return AuthorFields(
            name=self.name,
            slug=_given(self.slug),
            bio=_given(self.bio),
            avatar_url=_given(self.avatar_url),
        )


@strawberry.input(description="A new tag.")
class TagInput:
    name: str = strawberry.field(description="Display name; must not be empty.")
    slug: str | None = strawberry.field(default=strawberry.UNSET, description=_SLUG)

    def resolved(self) -> TagFields:
        return TagFields(name=self.name, slug=_given(self.slug))


@strawberry.input(
    description="Changes to a category: fields left out are kept, null clears a nullable one."
)
class UpdateCategoryInput:
    name: str | None = strawberry.field(default=strawberry.UNSET, description=_NEW_NAME)
    slug: str | None = strawberry.field(default=strawberry.UNSET, description=_NEW_SLUG)
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="What the category covers; null clears it."
    )
    parent_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET,
        description="Global id of the new parent category; null makes it top-level.",
    )

    def resolved(self) -> CategoryFields:
        return CategoryFields(
            name=_given(self.name),
            slug=_given(self.slug),
            description=_given(self.description),
            parent_id=_given(self.parent_id),
        )


@strawberry.input(
    description="Changes to an author: fields left out are kept, null clears a nullable one."
)
class UpdateAuthorInput:
    name: str | None = strawberry.field(default=strawberry.UNSET, description=_NEW_NAME)
    slug: str | None = strawberry.field(default=strawberry.UNSET, description=_NEW_SLUG)
    bio: str | None = strawberry.field(
        default=strawberry.UNSET, description="Short biography; null clears it."
    )
    avatar_url: str | None = strawberry.field(
        default=strawberry.UNSET, description="Portrait image URL (http or https); null clears it."
    )

    def resolved(self) -> AuthorFields:
        return AuthorFields(
            name=_given(self.name),
            slug=_given(self.slug),
            bio=_given(self.bio),
            avatar_url=_given(self.avatar_url),
        )


@strawberry.input(description="Changes to a tag: fields left out are kept.")
class UpdateTagInput:
    name: str | None = strawberry.field(default=strawberry.UNSET, description=_NEW_NAME)
    slug: str | None = strawberry.field(default=strawberry.UNSET, description=_NEW_SLUG)

    def resolved(self) -> TagFields:
        return TagFields(name=_given(self.name), slug=_given(self.slug))
