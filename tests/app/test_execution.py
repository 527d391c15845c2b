"""The lean executor answers exactly as graphql-core's own, errors included."""

from __future__ import annotations

from enum import Enum
from typing import Any

import pytest
import strawberry
from strawberry.permission import BasePermission
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.execution import LeanExecutor, call_resolvers_directly


@strawberry.enum
class Mood(Enum):
    CALM = "calm"
    LOUD = "loud"


class _Raises:
    @property
    def text(self) -> str:
        raise RuntimeError("the attribute failed")


@strawberry.type
class Item:
    text: str
    maybe: str | None
    count: int
    mood: Mood
    ratio: float | None

    @strawberry.field
    def echo(self, times: int = 1) -> str:
        return self.text * times


def _item(**values: Any) -> Item:
    fields = {"text": "a", "maybe": None, "count": 1, "mood": Mood.CALM, "ratio": 0.5}
    return Item(**{**fields, **values})


class _Refused(BasePermission):
    message = "Not for you."

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return False


@strawberry.type
class Resolved:
    """Resolvers asking for the source each way Strawberry allows, with and without info."""

    name: str

    @strawberry.field
    def by_self(self) -> str:
        return self.name.upper()

    @strawberry.field
    def by_root(root: Resolved) -> str:  # Strawberry's root parameter
        return root.name * 2

    @strawberry.field
    def by_parent(self, parent: strawberry.Parent[Resolved], info: strawberry.Info) -> str:
        return f"{parent.name}/{info.field_name}/{info.path.key}"

    @strawberry.field
    async def later(self, info: strawberry.Info) -> str:
        return f"{self.name} at {info.python_name}"

    @strawberry.field
    def fails(self) -> str | None:
        raise RuntimeError("the resolver failed")

    @strawberry.field
    def refused(self) -> int:
        return "not a number"  # type: ignore[return-value]  # Int refuses it

    @strawberry.field(permission_classes=[_Refused])  # type: ignore[untyped-decorator]  # Strawberry's overload
    def guarded(self) -> str | None:
        return self.name

    @strawberry.field
    def echoed(self, times: int = 1) -> str:
        return self.name * times


@strawberry.type
class Query:
    @strawberry.field
    def resolved(self) -> list[Resolved]:
        return [Resolved(name="a"), Resolved(name="b")]

    @strawberry.field
    def items(self) -> list[Item | None]:  # an item that fails is null, not the list
        return [
            _item(text="one", maybe="here", count=3, mood=Mood.LOUD),
            _item(text=None),  # a null where the schema says never
            _item(count="many"),  # a value Int refuses
            _item(mood="sleepy"),  # not one of the enum's values
        ]

    @strawberry.field
    def broken(self) -> Item | None:
        return _Raises()  # type: ignore[return-value]  # its `text` raises

    @strawberry.field
    async def later(self) -> Item:
        return _item(text="later")


DOCUMENTS = [
    "{ items { text maybe count mood ratio } }",
    "{ items { t: text text @skip(if: true) echo(times: 2) } }",
    "{ broken { text } }",
    "{ later { text maybe } }",
    "{ items { ...F } } fragment F on Item { text ... on Item { count } }",
    "{ resolved { bySelf byRoot byParent later fails guarded echoed(times: 3) } }",
    "{ resolved { refused } }",
]


def _schema(
    executor: type[StrawberryGraphQLCoreExecutionContext], *, direct: bool = False
) -> strawberry.Schema:
    schema = strawberry.Schema(query=Query, execution_context_class=executor)
    if direct:
        # Resolved's six without arguments and Query's four; not guarded (a permission is
        # a field extension), echoed (an argument) nor the fields without a resolver.
        assert call_resolvers_directly(schema) == 10
    return schema


@pytest.mark.parametrize("direct", [False, True], ids=["Strawberry's resolvers", "direct"])
@pytest.mark.parametrize("document", DOCUMENTS)
async def test_answers_and_errors_match_graphql_core(document: str, direct: bool) -> None:
    lean = await _schema(LeanExecutor, direct=direct).execute(document)
    core = await _schema(StrawberryGraphQLCoreExecutionContext).execute(document)
    assert lean.data == core.data
    assert [e.formatted for e in lean.errors or []] == [e.formatted for e in core.errors or []]


async def test_the_cases_above_do_fail() -> None:
    # So that the comparison covers errors, not only answers.
    core = await _schema(StrawberryGraphQLCoreExecutionContext).execute(DOCUMENTS[0])
    assert core.errors is not None
    paths = sorted(tuple(e.path or ()) for e in core.errors)
    assert paths == [("items", 1, "text"), ("items", 2, "count"), ("items", 3, "mood")]
