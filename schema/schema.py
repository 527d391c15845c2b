"""The Masthead GraphQL schema."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from graphql import GraphQLError, NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, MaskErrors, SchemaExtension

from resolvers.errors import ClientError
from schema.query import Query
from schema.types import Article, Author, Category, Tag

__all__ = ["build_schema", "schema"]


def _is_unexpected(error: GraphQLError) -> bool:
    """Validation errors and errors the caller caused are shown; anything else is masked."""
    original = error.original_error
    return original is not None and not isinstance(original, ClientError | GraphQLError)


class _MaskUnexpected(MaskErrors):
    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR"}
        return masked


def build_schema(*, introspection: bool = True) -> strawberry.Schema:
    """The schema; production can switch introspection off (``MASTHEAD_INTROSPECTION``)."""
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: _MaskUnexpected(should_mask_error=_is_unexpected, error_message="Internal error.")
    ]
    if not introspection:
        extensions.append(lambda: AddValidationRules([NoSchemaIntrospectionCustomRule]))
    return strawberry.Schema(
        query=Query, types=[Article, Author, Category, Tag], extensions=extensions
    )


schema = build_schema()
