"""Schema extensions' lifecycle hooks, run without rebuilding their wrappers per request.

Strawberry's runner (``strawberry.extensions.context``) looks at every extension's hook of
every stage on every request (``inspect``), wraps each in a new ``contextlib`` context
manager (a ``functools.update_wrapper`` each) and opens an exit stack per stage: with
Masthead's ten extensions, ``{ __typename }`` took 0.42 ms of CPU in process with it and
0.35 without, and py-spy charged it 4-8% of a served reference operation
(``bench/results/per_request.md``).

Here a hook's kind (none, generator, async generator, coroutine, plain call) is looked up
once per extension class, and a stage runs the hooks itself: entered in the extensions'
order, each generator advanced to its ``yield``, and left in reverse order with
``contextlib``'s meaning of an exception: thrown into each generator still open, which may
let it through, replace it or suppress it, and the next one sees what came out. As in
Strawberry's runner, an exception a hook suppressed still ends the operation, and a hook
that fails while the stage is entered leaves the ones entered before it open.
Synchronous execution and ``on_stream_result`` (neither used here) keep Strawberry's.
"""

from __future__ import annotations

import inspect
from enum import Enum
from types import TracebackType
from typing import Any, Literal

from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import (
    ExecutingContextManager,
    ExtensionContextManagerBase,
    OperationContextManager,
    ParsingContextManager,
    ValidationContextManager,
)
from strawberry.extensions.runner import SchemaExtensionsRunner

__all__ = ["LeanExtensionsRunner"]


class _Kind(Enum):
    NONE = 0
    GENERATOR = 1
    ASYNC_GENERATOR = 2
    COROUTINE = 3
    CALL = 4


# (extension class, hook name) -> its kind: classes are the program's, a bounded set.
_KINDS: dict[tuple[type[SchemaExtension], str], _Kind] = {}


def _kind(extension: SchemaExtension, hook: str) -> _Kind:
    key = (type(extension), hook)
    kind = _KINDS.get(key)
    if kind is None:
        function = getattr(key[0], hook)
        if function is getattr(SchemaExtension, hook):
            kind = _Kind.NONE
        elif inspect.isgeneratorfunction(function):
            kind = _Kind.GENERATOR
        elif inspect.isasyncgenfunction(function):
            kind = _Kind.ASYNC_GENERATOR
        elif inspect.iscoroutinefunction(function):
            kind = _Kind.COROUTINE
        elif callable(function):
            kind = _Kind.CALL
        else:
            raise ValueError(f"Hook {hook} on {extension} must be callable, received {function!r}")
        _KINDS[key] = kind
    return kind


def _thrown(raised: BaseException, error: BaseException) -> bool:
    """What ``contextlib`` makes of ``raised``, which came out of a generator hook when
    ``error`` was thrown into it: True if the hook suppressed ``error`` (it stopped), False
    if ``error`` went on through it; anything else replaces ``error`` and is raised."""
    if isinstance(raised, StopIteration | StopAsyncIteration):
        return raised is not error
    if raised is error:
        return False
    # PEP 479: a StopIteration thrown into a generator comes out as a RuntimeError.
    stop = isinstance(error, StopIteration | StopAsyncIteration)
    if isinstance(raised, RuntimeError) and stop and raised.__cause__ is error:
        return False
    raise raised


def _finish(generator: Any, error: BaseException | None) -> bool:
    """A generator hook past its ``yield`` (``contextlib.contextmanager``'s exit): True if
    it suppressed ``error``."""
    if error is None:
        try:
            next(generator)
        except StopIteration:
            return False
        raise RuntimeError("generator didn't stop")
    try:
        generator.throw(error)
    except BaseException as raised:  # told apart by _thrown
        return _thrown(raised, error)
    raise RuntimeError("generator didn't stop after throw()")


async def _finish_async(generator: Any, error: BaseException | None) -> bool:
    """An async generator hook past its ``yield`` (``contextlib.asynccontextmanager``'s
    exit): True if it suppressed ``error``."""
    if error is None:
        try:
            await generator.__anext__()
        except StopAsyncIteration:
            return False
        raise RuntimeError("generator didn't stop")
    try:
        await generator.athrow(error)
    except BaseException as raised:  # told apart by _thrown
        return _thrown(raised, error)
    raise RuntimeError("generator didn't stop after athrow()")


_STRAWBERRY_STAGES: dict[str, type[ExtensionContextManagerBase]] = {
    "on_operation": OperationContextManager,
    "on_validate": ValidationContextManager,
    "on_parse": ParsingContextManager,
    "on_execute": ExecutingContextManager,
}


class _Stage:
    """One stage's hooks (``on_operation``, ``on_parse``, ...) as a context manager."""

    __slots__ = ("_extensions", "_hook", "_open", "_sync")

    def __init__(self, extensions: list[SchemaExtension], hook: str) -> None:
        self._extensions = extensions
        self._hook = hook
        # The generators entered, in order, each with whether it is asynchronous.
        self._open: list[tuple[bool, Any]] = []

    async def __aenter__(self) -> None:
        hook = self._hook
        for extension in self._extensions:
            kind = _kind(extension, hook)
            if kind is _Kind.NONE:
                continue
            function = getattr(extension, hook)
            if kind is _Kind.GENERATOR:
                generator = function()
                try:
                    next(generator)
                except StopIteration:
                    raise RuntimeError("generator didn't yield") from None
                self._open.append((False, generator))
            elif kind is _Kind.ASYNC_GENERATOR:
                generator = function()
                try:
                    await generator.__anext__()
                except StopAsyncIteration:
                    raise RuntimeError("generator didn't yield") from None
                self._open.append((True, generator))
            elif kind is _Kind.COROUTINE:
                await function()
            else:
                function()

    async def __aexit__(
        self,
        error_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> Literal[False]:
        opened, self._open = self._open, []
        pending = error
        for is_async, generator in reversed(opened):
            try:
                suppressed = (
                    await _finish_async(generator, pending)
                    if is_async
                    else _finish(generator, pending)
                )
            except BaseException as raised:  # handed to the next hook, as ExitStack does
                pending = raised
            else:
                if suppressed:
                    pending = None
        if pending is not None and pending is not error:
            raise pending
        # As Strawberry's runner: a hook that suppressed the error stops it reaching the
        # hooks after it, not the operation.
        return False

    def __enter__(self) -> None:
        # Synchronous execution (``execute_sync``, which Masthead does not use): Strawberry's
        # own stage, as it is.
        self._sync = _STRAWBERRY_STAGES[self._hook](self._extensions)
        self._sync.__enter__()

    def __exit__(
        self,
        error_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._sync.__exit__(error_type, error, traceback)


class LeanExtensionsRunner(SchemaExtensionsRunner):
    """Strawberry's runner with :class:`_Stage` for the four stages of every operation."""

    def operation(self) -> Any:
        return _Stage(self.extensions, "on_operation")

    def validation(self) -> Any:
        return _Stage(self.extensions, "on_validate")

    def parsing(self) -> Any:
        return _Stage(self.extensions, "on_parse")

    def executing(self) -> Any:
        return _Stage(self.extensions, "on_execute")
