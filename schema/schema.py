"""The Masthead GraphQL schema."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Sequence

import strawberry
from graphql import ASTValidationRule, GraphQLError, NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from db.failures import DatabaseFailure, database_failure
from resolvers.errors import ClientError
from schema.changes import ChangesQuery
from schema.execution import LeanExecutor, call_resolvers_directly
from schema.extension_hooks import LeanExtensionsRunner
from schema.limits import Limits, Measures, QueryLimits
from schema.mutation import Mutation as ContentMutation
from schema.query import Query as ReadQuery
from schema.search import SearchQuery
from schema.subscription import Subscription
from schema.types import Article, Author, Category, Tag
from schema.webhooks import Webhook, WebhookDelivery, WebhookMutation, WebhookQuery

__all__ = ["build_schema", "schema"]

# Distinct documents whose parse and validation are kept: a site's frontends send a few
# dozen; unbounded, anyone could grow the process with unique texts.
_CACHED_DOCUMENTS = 256
_DEFAULT_LIMITS = Limits()


@strawberry.type(
    description="Everything a reader can ask for; anonymous readers see public articles."
)
class Query(ReadQuery, SearchQuery, WebhookQuery, ChangesQuery):
    pass


@strawberry.type(description=ContentMutation.__strawberry_definition__.description)  # type: ignore[attr-defined]
class Mutation(ContentMutation, WebhookMutation):
    pass


def _is_unexpected(error: GraphQLError) -> bool:
    """Validation errors and errors the caller caused are shown; anything else is masked."""
    original = error.original_error
    return original is not None and not isinstance(original, ClientError | GraphQLError)


# graphql-core's validation suggests names close to a misspelt one: with introspection off
# that would hand out the schema one guess at a time.
_SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")


_DATABASE_FAILURES = {
    DatabaseFailure.UNAVAILABLE: "The database is unavailable; try again shortly.",
    DatabaseFailure.TIMEOUT: "The database did not answer in time; try again shortly.",
}


class _MaskUnexpected(MaskErrors):
    """Masks the unexpected, and gives every error an ``extensions.code`` to branch on;
    without introspection, drops the names validation would suggest."""

    def __init__(self, *, suggest: bool) -> None:
        super().__init__(should_mask_error=_is_unexpected, error_message="Internal error.")
        self.suggest = suggest

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        failure = database_failure(error.original_error)
        if failure is not None:
            # The service's failure, not the request's: say so, and that a retry may work.
            return GraphQLError(
                _DATABASE_FAILURES[failure],
                nodes=error.nodes,
                path=error.path,
                extensions={"code": failure.value},
            )
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR"}
        return masked

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = super()._process_errors(errors)
        for error in processed:
            if not (error.extensions or {}).get("code"):
                # Errors without an original exception come from parsing or validation.
                syntax = error.message.startswith("Syntax Error")
                code = "GRAPHQL_PARSE_FAILED" if syntax else "GRAPHQL_VALIDATION_FAILED"
                error.extensions = {**(error.extensions or {}), "code": code}
            if not self.suggest:
                error.message = _SUGGESTION.sub("", error.message)
        return processed


class _ParserCache(ParserCache):
    """Strawberry's parse cache, less its handling of a document that does not parse: raised
    from the extension, the syntax error would escape Strawberry's parse-error handling (no
    code, no 400). Left unparsed, Strawberry parses it again itself and reports it."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        with contextlib.suppress(GraphQLError):
            context.graphql_document = self.cached_parse_document(
                context.query, **context.parse_options
            )
        yield


class _Schema(strawberry.Schema):
    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> LeanExtensionsRunner:
        return LeanExtensionsRunner(execution_context=execution_context, extensions=extensions)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Only the unexpected deserve a logged traceback; the caller's mistakes are answered.
        super().process_errors([e for e in errors if _is_unexpected(e)], execution_context)


def build_schema(
    *,
    introspection: bool = True,
    limits: Limits = _DEFAULT_LIMITS,
    max_tokens: int = 5000,
    max_batch: int = 10,
    extensions: Sequence[Callable[[], SchemaExtension]] = (),
) -> strawberry.Schema:
    """The schema; production can switch introspection off (``MASTHEAD_INTROSPECTION``).

    ``extensions`` run outermost, before errors are masked (the HTTP layer adds its own).

    Tokens are capped while parsing, depth, aliases, fields, cost and list sizes
    (``schema.limits``) before validation: a document over a cap is refused before any SQL
    runs, and the measuring is linear in its size.
    """
    # The rules are made once, so every request validates with the same rule classes and
    # a document validated before is answered from the cache: graphql-core's validation
    # walks the whole document, a sizeable share of a cheap request.
    rules: list[type[ASTValidationRule]] = []
    if not introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    measures = Measures(maxsize=_CACHED_DOCUMENTS)
    every: list[Callable[[], SchemaExtension]] = [
        *extensions,
        lambda: _MaskUnexpected(suggest=introspection),
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        # Keyed by the text and the token cap, so a cached document was measured by it.
        lambda: _ParserCache(maxsize=_CACHED_DOCUMENTS),
        lambda: QueryLimits(limits=limits, measures=measures),
        lambda: AddValidationRules(rules),
        lambda: ValidationCache(maxsize=_CACHED_DOCUMENTS),
    ]
    built = _Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Article, Author, Category, Tag, Webhook, WebhookDelivery],
        extensions=every,
        config=StrawberryConfig(batching_config={"max_operations": max_batch}),
        execution_context_class=LeanExecutor,
    )
    call_resolvers_directly(built)
    return built


schema = build_schema()
