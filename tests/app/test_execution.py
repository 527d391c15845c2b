"""The lean executor answers exactly as graphql-core's own, errors included."""

from __future__ import annotations

from enum import Enum
from typing import Any

import pytest
import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.execution import LeanExecutor


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


@strawberry.type
class Query:
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
]


def _schema(executor: type[StrawberryGraphQLCoreExecutionContext]) -> strawberry.Schema:
    return strawberry.Schema(query=Query, execution_context_class=executor)


@pytest.mark.parametrize("document", DOCUMENTS)
async def test_answers_and_errors_match_graphql_core(document: str) -> None:
    lean = await _schema(LeanExecutor).execute(document)
    core = await _schema(StrawberryGraphQLCoreExecutionContext).execute(document)
    assert lean.data == core.data
    assert [e.formatted for e in lean.errors or []] == [e.formatted for e in core.errors or []]


async def test_the_cases_above_do_fail() -> None:
    # So that the comparison covers errors, not only answers.
    core = await _schema(StrawberryGraphQLCoreExecutionContext).execute(DOCUMENTS[0])
    assert core.errors is not None
    paths = sorted(tuple(e.path or ()) for e in core.errors)
    assert paths == [("items", 1, "text"), ("items", 2, "count"), ("items", 3, "mood")]
