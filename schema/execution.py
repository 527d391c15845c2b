"""The executor: graphql-core's, with a short path for fields that only read an attribute.

Most fields of a content page are plain attributes shown as scalars (``title``, ``slug``,
``name``): Home asks for about 225 fields, 160 of them such leaves. For each, graphql-core
builds a resolve info (14 values), asks for argument values, calls Strawberry's wrapper,
which calls the field's ``get_result``, which calls ``getattr``, then dispatches the value
through ``complete_value`` to ``complete_leaf_value``. Here a field that Strawberry marks as
basic (no resolver, no extension, no permission) and whose type is a scalar or an enum
reads the attribute and coerces it to output directly: the same value, for a fraction of
the calls (``bench/results/per_request.md``).

Anything out of the ordinary takes graphql-core's own path, which then gives the answer
or the error exactly as before: arguments on the field, field middleware, an attribute
that raises, a null for a non-null type, a value the scalar refuses.

Fields with a resolver of their own but no arguments, no field extension (permissions are
extensions) and no exception handler get a resolve function that calls the resolver
straight (:func:`call_resolvers_directly`): Strawberry's wraps each call in five layers
(its info, the arguments' conversion, the extensions' chain, two closures), the same
calls whatever the field. The resolver is given what Strawberry would give it: the source
as ``self`` (or as its ``root``/``parent`` parameter) and Strawberry's ``Info``.
"""

from __future__ import annotations

import weakref
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    Undefined,
)
from strawberry import Schema
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import Info
from strawberry.types.field import StrawberryField

__all__ = ["LeanExecutor", "call_resolvers_directly"]

_Leaf = tuple[str, GraphQLScalarType | GraphQLEnumType, bool]
# Object type -> field name -> (attribute, leaf type, nullable), or None: not a plain leaf.
# Weakly: a schema's types (each test builds its own) go when the schema goes.
_PLAIN_LEAVES: weakref.WeakKeyDictionary[GraphQLObjectType, dict[str, _Leaf | None]] = (
    weakref.WeakKeyDictionary()
)


def _plain_leaf(parent_type: GraphQLObjectType, name: str) -> _Leaf | None:
    known = _PLAIN_LEAVES.get(parent_type)
    if known is None:
        known = _PLAIN_LEAVES[parent_type] = {}
    elif name in known:
        return known[name]
    found: _Leaf | None = None
    field = parent_type.fields.get(name)
    if field is not None and getattr(field.resolve, "_is_default", False):
        definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        field_type = field.type
        nullable = not isinstance(field_type, GraphQLNonNull)
        named = field_type if nullable else field_type.of_type
        if definition is not None and isinstance(named, GraphQLScalarType | GraphQLEnumType):
            found = (definition.python_name, named, nullable)
    known[name] = found
    return found


class LeanExecutor(StrawberryGraphQLCoreExecutionContext):
    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        node = field_details_list[0].node
        middleware = self.middleware_manager
        plain = not node.arguments and (middleware is None or not middleware.middlewares)
        leaf = _plain_leaf(parent_type, node.name.value) if plain else None
        if leaf is not None:
            attribute, leaf_type, nullable = leaf
            try:
                value = getattr(source, attribute)
                if value is None:
                    if nullable:
                        return None
                else:
                    coerced = leaf_type.coerce_output_value(value)
                    if coerced is not None and coerced is not Undefined:
                        return coerced
            except Exception:  # graphql-core's path reports it, as ever
                pass
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )


def _direct(field: StrawberryField, info_class: type[Info[Any, Any]]) -> Any:
    resolver = field.base_resolver
    assert resolver is not None
    function = resolver.wrapped_func
    if not callable(function):
        return None  # Strawberry's own path reports it
    by_self = resolver.self_parameter is not None
    sources = [p.name for p in (resolver.parent_parameter, resolver.root_parameter) if p]
    info_name = resolver.info_parameter.name if resolver.info_parameter else None

    def resolve(source: Any, info: Any) -> Any:
        kwargs = dict.fromkeys(sources, source)
        if info_name is not None:
            kwargs[info_name] = info_class(_raw_info=info, _field=field)
        return function(source, **kwargs) if by_self else function(**kwargs)

    return resolve


def call_resolvers_directly(schema: Schema) -> int:
    """Give the schema's plain resolver fields (see the module's docstring) a resolve
    function that calls their resolver straight; how many were given one."""
    if schema.schema_converter._exception_handler_specs:  # Strawberry may convert errors
        return 0
    info_class = schema.config.info_class
    given = 0
    for graphql_type in schema._schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type.name.startswith("__"):
            continue
        if graphql_type is schema._schema.subscription_type:
            continue
        for graphql_field in graphql_type.fields.values():
            field = (graphql_field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if (
                not isinstance(field, StrawberryField)
                or field.base_resolver is None
                or field.arguments
                or field.extensions
                or graphql_field.args
            ):
                continue
            resolve = _direct(field, info_class)
            if resolve is not None:
                graphql_field.resolve = resolve
                given += 1
    return given
