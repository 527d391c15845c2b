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
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

__all__ = ["LeanExecutor"]

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
