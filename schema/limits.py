"""What a document may ask for: depth, aliases, cost and list sizes, measured before it runs.

One walk of the document measures all four, each fragment once (its measure is kept and
multiplied wherever it is spread), so the walk is linear in the document's size however
fragments fan out. A document over a cap is refused before validation and before any SQL.

Cost counts the objects an answer can hold. A field returning an object costs 1 plus what
is selected inside it; a list costs its size times that. A list's size is its ``first`` or
``last`` argument (the default page size when neither is given); the ``nodes`` and
``edges`` of a connection take the size of the connection's page; other lists are estimated
by :data:`LIST_ESTIMATES`. Leaves cost nothing; introspection neither costs nor nests. So a
page of 100 articles, each with its author, category, tags and ``relatedPosts(first: 20)``
with their authors, costs 5,301; ``articles(first: 100)`` with ``relatedPosts(first: 20)``
three levels down costs 842,101.

List-valued arguments and input fields hold at most :data:`LIST_CAPS` items (a list of
enum values at most as many as the enum has, others :data:`MAX_LIST_ITEMS`), and no text
argument holds NUL or a lone surrogate.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    get_named_type,
    value_from_ast_untyped,
)
from graphql.pyutils import Undefined
from starlette.responses import Response
from strawberry.extensions import SchemaExtension

from resolvers.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from schema.context import Allowance, Context

__all__ = [
    "LIST_CAPS",
    "LIST_ESTIMATES",
    "MAX_LIST_ITEMS",
    "Limits",
    "Measure",
    "Measures",
    "QueryLimits",
    "measure",
]

# Sizes assumed for lists without a page size: what a real page shows at most.
LIST_ESTIMATES: Mapping[str, int] = {"tags": 10, "children": 20, "ancestors": 10}
_DEFAULT_ESTIMATE = 20
# Items a list-valued argument or input field may hold. tagSlugs asks for articles with all
# of the tags, each one more condition: no article has more than a handful.
LIST_CAPS: Mapping[str, int] = {"tagSlugs": 10, "tagIds": 20, "relatedIds": 20}
MAX_LIST_ITEMS = 100
_PAGING = ("first", "last")


@dataclass(frozen=True)
class Limits:
    max_depth: int = 12
    max_aliases: int = 30
    max_cost: int = 10_000
    # Fields selected, spreads written out: no page needs thousands, but a fragment spread
    # twice in each of n nested fragments selects 2^n.
    max_fields: int = 2_000


@dataclass(frozen=True)
class Measure:
    """Cost, depth (a root field with only leaves is 1), aliases, and fields selected,
    all counted through fragments as if each spread were written out."""

    cost: int = 0
    depth: int = 0
    aliases: int = 0
    fields: int = 0

    def __add__(self, other: Measure) -> Measure:
        return Measure(
            self.cost + other.cost,
            max(self.depth, other.depth),
            self.aliases + other.aliases,
            self.fields + other.fields,
        )


class _Refused(Exception):
    """An argument value refused before anything runs (BAD_USER_INPUT)."""


class _TooNested(Exception):
    """Selections or fragment spreads nested deeper than any page needs."""


# Selection sets and fragment spreads nested, whatever their fields: far past the depth cap,
# and far below Python's recursion limit (a chain of 500 fragments is 4,000 tokens).
_MAX_NESTING = 64


# Text no database stores: PostgreSQL refuses NUL in text, and a lone surrogate is no
# character at all (it cannot be encoded). Refused everywhere alike, lookups included.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _check_text(name: str, value: str) -> None:
    found = _UNSTORABLE.search(value)
    if found is not None:
        raise _Refused(
            f"`{name}` holds U+{ord(found.group()):04X}, which is not text that can be stored."
        )


class _Walk:
    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any]
    ) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = {
            node.name.value: node
            for node in document.definitions
            if isinstance(node, FragmentDefinitionNode)
        }
        self.measured: dict[tuple[str, int | None], Measure] = {}
        self.nesting = 0

    def selections(
        self, node: SelectionSetNode, parent: GraphQLNamedType | None, page: int | None
    ) -> Measure:
        self.nesting += 1
        if self.nesting > _MAX_NESTING:
            raise _TooNested
        try:
            return self._selections(node, parent, page)
        finally:
            self.nesting -= 1

    def _selections(
        self, node: SelectionSetNode, parent: GraphQLNamedType | None, page: int | None
    ) -> Measure:
        total = Measure()
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(selection.selection_set, inner, page)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value, page)
        return total

    def fragment(self, name: str, page: int | None) -> Measure:
        key = (name, page)
        if key not in self.measured:
            definition = self.fragments.get(name)
            # Held at zero while it is walked: a cycle (which validation refuses) ends here.
            self.measured[key] = Measure()
            if definition is not None:
                parent = self.schema.get_type(definition.type_condition.name.value)
                self.measured[key] = self.selections(definition.selection_set, parent, page)
        return self.measured[key]

    def field(self, node: FieldNode, parent: GraphQLNamedType | None, page: int | None) -> Measure:
        name = node.name.value
        aliases = 1 if node.alias is not None else 0
        fields = (
            parent.fields if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType) else {}
        )
        definition: GraphQLField | None = fields.get(name)
        if definition is not None:
            self.check_lists(node, definition)
        if node.selection_set is None:
            return Measure(0, 0, aliases, 1)
        child_type = get_named_type(definition.type) if definition is not None else None
        paged = definition is not None and any(arg in definition.args for arg in _PAGING)
        size = self.page_size(node, definition) if paged and definition is not None else None
        if definition is not None and _is_list(definition.type):
            own = size if size is not None else (page if page is not None else _estimate(name))
            inner = self.selections(node.selection_set, child_type, None)
        else:
            own = 1
            inner = self.selections(node.selection_set, child_type, size)
        if name.startswith("__"):
            # Introspection reads no data and its nesting is the schema's: neither counts.
            return Measure(0, 0, aliases + inner.aliases, 1 + inner.fields)
        if definition is None:
            own = 0  # an unknown field: validation refuses it
        return Measure(
            own * (1 + inner.cost), inner.depth + 1, aliases + inner.aliases, 1 + inner.fields
        )

    def page_size(self, node: FieldNode, definition: GraphQLField) -> int:
        given = (
            _whole(self.argument(node, name, definition.args[name].default_value))
            for name in _PAGING
            if name in definition.args
        )
        sizes = [size for size in given if size is not None]
        # A size out of range is refused by the field itself, with the range in its message.
        size = max(sizes, default=DEFAULT_PAGE_SIZE)
        return min(max(size, 0), MAX_PAGE_SIZE)

    def argument(self, node: FieldNode, name: str, default: Any) -> Any:
        for argument in node.arguments or ():
            if argument.name.value == name:
                return self.value(argument.value)
        return None if default is Undefined else default

    def value(self, node: ValueNode) -> Any:
        if isinstance(node, VariableNode):
            return self.variables.get(node.name.value)
        if isinstance(node, IntValueNode):
            return int(node.value)
        return value_from_ast_untyped(node, dict(self.variables))

    def check_lists(self, node: FieldNode, definition: GraphQLField) -> None:
        for argument in node.arguments or ():
            arg = definition.args.get(argument.name.value)
            if arg is not None:
                self.check_value(argument.name.value, arg.type, argument.value)

    def check_value(self, name: str, kind: GraphQLInputType, node: ValueNode) -> None:
        if isinstance(node, VariableNode):
            _check_python(name, kind, self.variables.get(node.name.value))
            return
        if isinstance(node, StringValueNode):
            _check_text(name, node.value)
            return
        if isinstance(kind, GraphQLNonNull):
            self.check_value(name, kind.of_type, node)
        elif isinstance(kind, GraphQLList) and isinstance(node, ListValueNode):
            _check_length(name, kind, len(node.values))
            for item in node.values:
                self.check_value(name, kind.of_type, item)
        elif isinstance(kind, GraphQLInputObjectType) and isinstance(node, ObjectValueNode):
            for field in node.fields:
                input_field = kind.fields.get(field.name.value)
                if input_field is not None:
                    self.check_value(field.name.value, input_field.type, field.value)


def _whole(value: Any) -> int | None:
    """An Int argument's value as GraphQL would coerce it (a variable may be 100.0)."""
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    return None


def _is_list(kind: Any) -> bool:
    while isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    return isinstance(kind, GraphQLList)


def _estimate(name: str) -> int:
    return LIST_ESTIMATES.get(name, _DEFAULT_ESTIMATE)


def _cap(name: str, kind: GraphQLList[Any]) -> int:
    item = get_named_type(kind.of_type)
    if isinstance(item, GraphQLEnumType):
        return len(item.values)
    return LIST_CAPS.get(name, MAX_LIST_ITEMS)


def _check_length(name: str, kind: GraphQLList[Any], length: int) -> None:
    cap = _cap(name, kind)
    if length > cap:
        raise _Refused(f"`{name}` may hold at most {cap} items, got {length}.")


def _check_python(name: str, kind: GraphQLInputType, value: Any) -> None:
    """The same checks on a variable's value."""
    if isinstance(value, str):
        _check_text(name, value)
    elif isinstance(kind, GraphQLNonNull):
        _check_python(name, kind.of_type, value)
    elif isinstance(kind, GraphQLList) and isinstance(value, list):
        _check_length(name, kind, len(value))
        for item in value:
            _check_python(name, kind.of_type, item)
    elif isinstance(kind, GraphQLInputObjectType) and isinstance(value, dict):
        for field_name, item in value.items():
            input_field = kind.fields.get(field_name)
            if input_field is not None:
                _check_python(field_name, input_field.type, item)


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [
        node for node in document.definitions if isinstance(node, OperationDefinitionNode)
    ]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((node for node in operations if node.name and node.name.value == name), None)


def _with_defaults(
    operation: OperationDefinitionNode, variables: Mapping[str, Any] | None
) -> dict[str, Any]:
    given = dict(variables or {})
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name not in given and definition.default_value is not None:
            given[name] = value_from_ast_untyped(definition.default_value)
    return given


def measure(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
) -> Measure | None:
    """The operation's measure; None when there is no such operation (validation says why).

    Raises ``GraphQLError`` (``BAD_USER_INPUT``) for a list over its cap or unstorable text.
    """
    operation = _operation(document, operation_name)
    if operation is None:
        return None
    walk = _Walk(schema, document, _with_defaults(operation, variables))
    root = {
        "query": schema.query_type,
        "mutation": schema.mutation_type,
        "subscription": schema.subscription_type,
    }[operation.operation.value]
    try:
        found = walk.selections(operation.selection_set, root, None)
    except _Refused as error:
        raise GraphQLError(str(error), extensions={"code": "BAD_USER_INPUT"}) from None
    except _TooNested:
        raise GraphQLError(
            f"Selections and fragments are nested more than {_MAX_NESTING} deep.",
            extensions={"code": "GRAPHQL_VALIDATION_FAILED"},
        ) from None
    return found


# A key longer than this is measured every time: the kept keys stay small, whatever the
# requests hold (a document text plus its variables).
_MAX_KEY_CHARS = 8192


class Measures:
    """Measures already taken, by document text, operation and variables; the oldest are
    dropped past ``maxsize``. Refusals are not kept: they are measured again."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._kept: OrderedDict[tuple[str, str | None, bytes], Measure | None] = OrderedDict()

    def measure(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        text: str | None,
        operation_name: str | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> Measure | None:
        """:func:`measure`, of ``document`` parsed from ``text`` (None: not kept)."""
        key = _key(text, operation_name, variables)
        if key is None:
            return measure(schema, document, operation_name, variables)
        if key in self._kept:
            self._kept.move_to_end(key)
            return self._kept[key]
        found = self._kept[key] = measure(schema, document, operation_name, variables)
        if len(self._kept) > self.maxsize:
            self._kept.popitem(last=False)
        return found


def _key(
    text: str | None, operation_name: str | None, variables: Mapping[str, Any] | None
) -> tuple[str, str | None, bytes] | None:
    if text is None:
        return None
    try:
        # Keys sorted: the same variables in another order are the same measure.
        encoded = orjson.dumps(variables, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None
    if len(text) + len(encoded) > _MAX_KEY_CHARS:
        return None
    return text, operation_name, encoded


class QueryLimits(SchemaExtension):
    """Refuses a document over a cap before it is validated; reports ``extensions.cost``.

    ``measures`` keeps what a document sent again measured before (one per schema)."""

    def __init__(self, *, limits: Limits, measures: Measures) -> None:
        self.limits = limits
        self.measures = measures
        self.measured: Measure | None = None
        self.allowance: Allowance | None = None

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None:
            graphql_schema = context.schema._schema  # Strawberry keeps graphql-core's schema here
            try:
                self.measured = self.measures.measure(
                    graphql_schema,
                    document,
                    context.query,
                    context.operation_name,
                    context.variables,
                )
            except GraphQLError as refused:
                code = (refused.extensions or {}).get("code", "BAD_USER_INPUT")
                raise self._refuse(refused.message, code) from None
            self._refuse_over_caps()
        yield
        # Validation passed (its errors are data, not raised): only then is the cost spent.
        if document is not None and not context.pre_execution_errors:
            await self._spend(self.measured)

    @staticmethod
    def _refuse(message: str, code: str) -> GraphQLError:
        """A refusal; the HTTP layer gives it its status (4xx, 429 for the rate limit)."""
        return GraphQLError(message, extensions={"code": code})

    async def _spend(self, found: Measure | None) -> None:
        """Take the cost from the client's budget; refuse with 429 once it is spent."""
        context = self.execution_context.context
        if found is None or not isinstance(context, Context) or context.budget is None:
            return
        allowance = self.allowance = await context.budget.spend(found.cost)
        response = context.response if isinstance(context.response, Response) else None
        if response is not None:
            response.headers["RateLimit-Limit"] = str(allowance.limit)
            response.headers["RateLimit-Remaining"] = str(allowance.remaining)
            response.headers["RateLimit-Reset"] = str(allowance.reset_seconds)
        if not allowance.allowed:
            if response is not None:
                response.headers["Retry-After"] = str(max(allowance.reset_seconds, 1))
            raise self._refuse(
                f"The rate limit of {allowance.limit} cost a minute is spent: this query costs "
                f"{found.cost}, {allowance.remaining} is left; try again in "
                f"{max(allowance.reset_seconds, 1)} s.",
                "RATE_LIMITED",
            )

    def _refuse_over_caps(self) -> None:
        found, limits = self.measured, self.limits
        if found is None:
            return
        name = self.execution_context.operation_name or "anonymous"
        if found.depth > limits.max_depth:
            raise self._refuse(
                f"'{name}' exceeds maximum operation depth of {limits.max_depth}",
                "GRAPHQL_VALIDATION_FAILED",
            )
        if found.aliases > limits.max_aliases:
            raise self._refuse(
                f"{found.aliases} aliases found. Allowed: {limits.max_aliases}",
                "GRAPHQL_VALIDATION_FAILED",
            )
        if found.fields > limits.max_fields:
            raise self._refuse(
                f"The document selects {found.fields} fields once its fragments are spread, "
                f"more than the {limits.max_fields} allowed.",
                "GRAPHQL_VALIDATION_FAILED",
            )
        if found.cost > limits.max_cost:
            raise self._refuse(
                f"The query costs {found.cost}, more than the {limits.max_cost} allowed: ask "
                "for smaller pages (`first`) or fewer nested lists.",
                "MAX_COST_EXCEEDED",
            )

    def get_results(self) -> dict[str, Any]:
        if self.measured is None:
            return {}
        cost: dict[str, Any] = {
            "requestedQueryCost": self.measured.cost,
            "maximumAvailable": self.limits.max_cost,
        }
        if self.allowance is not None:
            cost["throttleStatus"] = {
                "currentlyAvailable": self.allowance.remaining,
                # Per second, as Shopify gives it: the budget comes back over a minute.
                "restoreRate": round(self.allowance.limit / 60, 2),
            }
        return {"cost": cost}
