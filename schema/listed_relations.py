"""The authors and categories of listed articles, loaded with their list.

Home shows 20 articles, each with its author and its category. Loaded field by field, each
of those 40 fields is a coroutine, a task, a DataLoader future and a gather in
graphql-core, which cost as much CPU as the two statements behind them
(``bench/results/per_request.md``). So a field that returns articles looks ahead at what
the document asks of them: the relations it names are loaded through the same DataLoaders
(the same statements, one per relation) before the list is returned, and
``Article.author`` and ``Article.category`` then answer from the loader at once.

Looking ahead follows fragments and ignores ``@skip``/``@include``: a relation under a
skipped fragment is loaded for nothing, never missed. Whatever the look-ahead misses
(an article reached another way) still loads field by field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode

from schema.context import Context

if TYPE_CHECKING:
    import strawberry

    from schema.types import Article

__all__ = ["ARTICLE", "CONNECTION", "load_listed_relations", "loaded"]

# Where the articles are below the field that returns them.
ARTICLE: tuple[str, ...] = ()
CONNECTION: tuple[str, ...] = ("edges", "node")
_NODES: tuple[str, ...] = ("nodes",)

_RELATIONS = frozenset({"author", "category"})
# Look-aheads made, by the field nodes of the cached, parsed document (kept alive with the
# answer, so an id is never reused for another document while its entry stands).
_LOOKAHEADS: dict[tuple[int, tuple[str, ...]], tuple[Any, frozenset[str]]] = {}
_MAX_LOOKAHEADS = 1024


def _fields(
    selection_set: SelectionSetNode | None, fragments: dict[str, Any]
) -> Iterator[FieldNode]:
    if selection_set is None:
        return
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                yield from _fields(fragment.selection_set, fragments)


def _asked(
    field_nodes: Sequence[FieldNode], fragments: dict[str, Any], path: tuple[str, ...]
) -> frozenset[str]:
    level = list(field_nodes)
    for name in path:
        level = [
            f
            for node in level
            for f in _fields(node.selection_set, fragments)
            if f.name.value == name
        ]
    return (
        frozenset(f.name.value for node in level for f in _fields(node.selection_set, fragments))
        & _RELATIONS
    )


def _relations_asked(info: strawberry.Info[Context, None], path: tuple[str, ...]) -> frozenset[str]:
    raw = info._raw_info  # graphql-core's resolve info: the field's nodes and the fragments
    key = (id(raw.field_nodes[0]), path)
    cached = _LOOKAHEADS.get(key)
    if cached is not None and cached[0] is raw.field_nodes[0]:
        return cached[1]
    paths = [path, _NODES] if path == CONNECTION else [path]
    asked = frozenset().union(*(_asked(raw.field_nodes, raw.fragments, p) for p in paths))
    if len(_LOOKAHEADS) >= _MAX_LOOKAHEADS:
        _LOOKAHEADS.clear()
    _LOOKAHEADS[key] = (raw.field_nodes[0], asked)
    return asked


async def load_listed_relations(
    info: strawberry.Info[Context, None], articles: Sequence[Article], path: tuple[str, ...]
) -> None:
    """Load the relations the document asks of ``articles`` (found at ``path`` below
    ``info``'s field): one batch per relation, as the fields would have made."""
    if not articles:
        return
    asked = _relations_asked(info, path)
    loaders = info.context.loaders
    # One future per distinct key, awaited in turn: a batch settles all of its futures at
    # once, so after the first the rest are done (no gather, no wait).
    pending: list[Awaitable[Any]] = []
    if "author" in asked:
        load = loaders.author_by_id.load
        pending.extend(load(pk) for pk in dict.fromkeys(a.author_pk for a in articles))
    if "category" in asked:
        load = loaders.category_by_id.load
        pending.extend(load(pk) for pk in dict.fromkeys(a.category_pk for a in articles))
    for waiting in pending:
        await waiting


def loaded(loader: Any, key: Any) -> Any | None:
    """What ``loader`` already holds for ``key``, or None if it has not loaded it (yet)."""
    future = loader.cache_map.get(key)
    if future is None or not future.done() or future.cancelled() or future.exception():
        return None
    return future.result()
