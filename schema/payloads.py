"""What mutations return: the written object, or the reasons nothing was written."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import strawberry

from db import models
from resolvers.errors import UserError as _UserError
from resolvers.global_ids import encode_global_id
from resolvers.transaction import Outcome
from schema.types import Article, Author, Category, Tag

__all__ = [
    "ArticlePayload",
    "AuthorPayload",
    "CategoryPayload",
    "DeletePayload",
    "TagPayload",
    "UserError",
]

Row = TypeVar("Row")
NodeT = TypeVar("NodeT")


@strawberry.type(
    description="Why a write was refused. Nothing of the write was kept when any is returned."
)
class UserError:
    field: list[str] | None = strawberry.field(
        description='Path to the offending field inside the input (`["title"]`, '
        '`["tagIds", "2"]`), or the argument\'s name (`["id"]`, `["expectedVersion"]`).'
    )
    message: str = strawberry.field(description="What is wrong, for people.")
    code: str = strawberry.field(
        description="What is wrong, for programs: `REQUIRED`, `INVALID`, `NOT_FOUND`, "
        "`DUPLICATE`, `CYCLE`, `IN_USE` or `CONFLICT`."
    )

    @classmethod
    def from_error(cls, error: _UserError) -> UserError:
        field = list(error.field) if error.field is not None else None
        return cls(field=field, message=error.message, code=error.code.value)


def _errors(outcome: Outcome[Row]) -> list[UserError]:
    return [UserError.from_error(error) for error in outcome.errors]


def _converted(outcome: Outcome[Row], convert: Callable[[Row], NodeT]) -> NodeT | None:
    return convert(outcome.value) if outcome.value is not None else None


@strawberry.type(description="The article written, or why nothing was written.")
class ArticlePayload:
    article: Article | None = strawberry.field(description="The article as stored; null on errors.")
    errors: list[UserError] = strawberry.field(description="Empty when the write happened.")

    @classmethod
    def of(cls, outcome: Outcome[models.Article]) -> ArticlePayload:
        return cls(article=_converted(outcome, Article.from_row), errors=_errors(outcome))


@strawberry.type(description="The category written, or why nothing was written.")
class CategoryPayload:
    category: Category | None = strawberry.field(
        description="The category as stored; null on errors."
    )
    errors: list[UserError] = strawberry.field(description="Empty when the write happened.")

    @classmethod
    def of(cls, outcome: Outcome[models.Category]) -> CategoryPayload:
        return cls(category=_converted(outcome, Category.from_row), errors=_errors(outcome))


@strawberry.type(description="The author written, or why nothing was written.")
class AuthorPayload:
    author: Author | None = strawberry.field(description="The author as stored; null on errors.")
    errors: list[UserError] = strawberry.field(description="Empty when the write happened.")

    @classmethod
    def of(cls, outcome: Outcome[models.Author]) -> AuthorPayload:
        return cls(author=_converted(outcome, Author.from_row), errors=_errors(outcome))


@strawberry.type(description="The tag written, or why nothing was written.")
class TagPayload:
    tag: Tag | None = strawberry.field(description="The tag as stored; null on errors.")
    errors: list[UserError] = strawberry.field(description="Empty when the write happened.")

    @classmethod
    def of(cls, outcome: Outcome[models.Tag]) -> TagPayload:
        return cls(tag=_converted(outcome, Tag.from_row), errors=_errors(outcome))


@strawberry.type(description="The id of what was deleted, or why nothing was.")
class DeletePayload:
    deleted_id: strawberry.ID | None = strawberry.field(
        description="Global id of the deleted object; null on errors."
    )
    errors: list[UserError] = strawberry.field(description="Empty when the delete happened.")

    @classmethod
    def of(cls, outcome: Outcome[int], type_name: str) -> DeletePayload:
        deleted = outcome.value
        deleted_id = strawberry.ID(encode_global_id(type_name, deleted)) if deleted else None
        return cls(deleted_id=deleted_id, errors=_errors(outcome))
