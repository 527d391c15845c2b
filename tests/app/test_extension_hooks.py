"""The lean runner of schema extensions' hooks (``schema.extension_hooks``) does what
Strawberry's does: hooks of every kind entered in order and left in reverse, and an
exception thrown into them as ``contextlib`` would (let through, replaced or suppressed)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner

from schema.extension_hooks import LeanExtensionsRunner


class _Boom(Exception):
    pass


class _Other(Exception):
    pass


def _extensions(log: list[str], behaviour: str) -> list[SchemaExtension]:
    class Generator(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            log.append("generator in")
            try:
                yield
            except _Boom:
                log.append("generator saw boom")
                if behaviour == "suppress":
                    return
                if behaviour == "replace":
                    raise _Other from None
                raise
            log.append("generator out")

    class AsyncGenerator(SchemaExtension):
        async def on_operation(self) -> AsyncIterator[None]:
            log.append("async generator in")
            try:
                yield
            finally:
                log.append("async generator out")

    class Coroutine(SchemaExtension):
        async def on_operation(self) -> None:  # type: ignore[override]  # a coroutine is a hook too
            log.append("coroutine")

    class Call(SchemaExtension):
        def on_operation(self) -> None:  # type: ignore[override]  # a plain call is a hook too
            log.append("call")

    class NoYield(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            log.append("no yield")
            return
            yield  # a generator all the same

    class Silent(SchemaExtension):  # no hook of this stage
        pass

    chosen: list[SchemaExtension] = [Generator(), AsyncGenerator(), Coroutine(), Call(), Silent()]
    if behaviour == "no yield":
        chosen.append(NoYield())
    return chosen


async def _run(runner_class: type[SchemaExtensionsRunner], behaviour: str) -> tuple[list[str], Any]:
    log: list[str] = []
    runner = runner_class(execution_context=None, extensions=_extensions(log, behaviour))  # type: ignore[arg-type]  # not read by the hooks
    outcome: Any = "returned"
    try:
        async with runner.operation():
            log.append("body")
            if behaviour in ("raise", "suppress", "replace"):
                raise _Boom
    except Exception as error:  # compared below
        outcome = (type(error), str(error))
    return log, outcome


@pytest.mark.parametrize("behaviour", ["plain", "raise", "suppress", "replace", "no yield"])
async def test_hooks_run_as_strawberrys_runner_runs_them(behaviour: str) -> None:
    expected = await _run(SchemaExtensionsRunner, behaviour)
    assert await _run(LeanExtensionsRunner, behaviour) == expected
    assert expected[0][0] == "generator in"


def test_synchronous_stages_refuse_asynchronous_hooks_as_strawberry_does() -> None:
    for runner_class in (SchemaExtensionsRunner, LeanExtensionsRunner):
        runner = runner_class(execution_context=None, extensions=_extensions([], "plain"))  # type: ignore[arg-type]  # not read by the hooks
        with (
            pytest.raises(RuntimeError, match="failed to complete synchronously"),
            runner.operation(),
        ):
            pass
