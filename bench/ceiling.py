"""The ceiling: a minimal server that sends Masthead's own SQL for each reference operation.

    python -m bench.ceiling --plan PLAN.json --port 8001 [--workers 2]

``bench/run.py`` writes the plan (``bench.sql_plan``): for each operation, the statements
Masthead sends, captured from the app itself, and where each of their parameters comes from
(a request variable, the time, a constant, a column of an earlier statement's rows, or the
related posts picked from the kept lists). This server reads ``operationName`` and
``variables`` from a POST, sends those statements one after another on one connection
(asyncpg with its prepared-statement cache, or the ``sqlite3`` module in the event loop's
thread: no thread hop per statement), and answers ``{"data": ...}`` with the rows' columns
that Masthead's answer shows, encoded by orjson. No GraphQL, no ORM, no per-field work: what
is left of Masthead's cost per request once parsing, validation, execution, loaders and the
ORM are gone, so ``Masthead / ceiling`` is the share of the attainable throughput it gets.

It imports nothing of Masthead, so a worker holds only Starlette, uvicorn and the driver.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = [
    "PLAN_VARIABLE",
    "Binding",
    "Column",
    "Constant",
    "DatabaseTarget",
    "Now",
    "Operation",
    "Plan",
    "RelatedPick",
    "Statement",
    "Step",
    "Variable",
    "bind",
    "create_app",
    "related_pick",
    "render",
    "run",
]

# Where a worker finds its plan: uvicorn starts several workers from an import string, so
# they cannot be handed an object.
PLAN_VARIABLE = "BENCH_CEILING_PLAN"

Row = Sequence[Any]
Fetch = Callable[[str, Sequence[Any]], Awaitable[Sequence[Row]]]

# How SQLAlchemy binds a time to SQLite (text that sorts as the time does).
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


# --- where a parameter comes from ----------------------------------------------------------


@dataclass(frozen=True)
class Variable:
    """A variable of the GraphQL request."""

    name: str


@dataclass(frozen=True)
class Now:
    """The time of the request, as Masthead's visibility rule reads it: naive UTC, or as text."""

    text: bool


@dataclass(frozen=True)
class Constant:
    value: Any


@dataclass(frozen=True)
class Column:
    """Values of a column of an earlier step's rows: of its first ``rows`` rows (all when
    None), distinct, in order (``many``), or the first row's alone."""

    step: int
    column: int
    rows: int | None
    many: bool


@dataclass(frozen=True)
class RelatedPick:
    """The ids of the related posts picked from an earlier step, Masthead's lookup of kept
    lists (``related_pick``), ``first`` of them per source article."""

    step: int
    first: int


Binding = Variable | Now | Constant | Column | RelatedPick


@dataclass(frozen=True)
class Statement:
    """SQL text and, for each positional argument, the parameter it is and, when that
    parameter is an expanded IN list, the index of its element."""

    text: str
    arguments: tuple[tuple[str, int | None], ...]


@dataclass(frozen=True)
class Step:
    """One statement Masthead sends for an operation."""

    key: str  # Masthead's statement before its IN lists are expanded: the same every request
    bindings: Mapping[str, Binding]
    # One statement; or, when parameter ``expanding`` is an IN list rendered one placeholder
    # per element, one per length of the list (index: length - 1).
    statements: tuple[Statement, ...]
    expanding: str | None
    columns: tuple[str, ...]
    shown: tuple[int, ...]  # the columns whose values Masthead's answer shows


@dataclass(frozen=True)
class Operation:
    name: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class DatabaseTarget:
    kind: str  # "postgresql" or "sqlite"
    location: str  # a libpq URL, or a file
    pool_size: int
    statement_timeout_s: float


@dataclass(frozen=True)
class Plan:
    database: DatabaseTarget
    operations: Mapping[str, Operation]

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps(_plan_json(self), indent=1, ensure_ascii=False))

    @staticmethod
    def load(path: Path) -> Plan:
        return _plan_from_json(json.loads(path.read_text()))


def _value_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    return value


def _value_from_json(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"datetime"}:
        return datetime.fromisoformat(value["datetime"])
    return value


def _binding_json(binding: Binding) -> dict[str, Any]:
    match binding:
        case Variable(name):
            return {"variable": name}
        case Now(text):
            return {"now": "text" if text else "datetime"}
        case Constant(value):
            return {"constant": _value_json(value)}
        case Column(step, column, rows, many):
            return {"column": column, "of_step": step, "rows": rows, "many": many}
        case RelatedPick(step, first):
            return {"related_pick": first, "of_step": step}


def _binding_from_json(data: dict[str, Any]) -> Binding:
    if "variable" in data:
        return Variable(data["variable"])
    if "now" in data:
        return Now(data["now"] == "text")
    if "constant" in data:
        return Constant(_value_from_json(data["constant"]))
    if "column" in data:
        return Column(data["of_step"], data["column"], data["rows"], data["many"])
    return RelatedPick(data["of_step"], data["related_pick"])


def _plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "database": vars(plan.database),
        "operations": {
            name: [
                {
                    "key": step.key,
                    "bindings": {k: _binding_json(b) for k, b in step.bindings.items()},
                    "statements": [
                        {"text": s.text, "arguments": [list(a) for a in s.arguments]}
                        for s in step.statements
                    ],
                    "expanding": step.expanding,
                    "columns": list(step.columns),
                    "shown": list(step.shown),
                }
                for step in operation.steps
            ]
            for name, operation in plan.operations.items()
        },
    }


def _plan_from_json(data: dict[str, Any]) -> Plan:
    return Plan(
        database=DatabaseTarget(**data["database"]),
        operations={
            name: Operation(
                name,
                tuple(
                    Step(
                        key=step["key"],
                        bindings={k: _binding_from_json(b) for k, b in step["bindings"].items()},
                        statements=tuple(
                            Statement(s["text"], tuple((n, i) for n, i in s["arguments"]))
                            for s in step["statements"]
                        ),
                        expanding=step["expanding"],
                        columns=tuple(step["columns"]),
                        shown=tuple(step["shown"]),
                    )
                    for step in steps
                ),
            )
            for name, steps in data["operations"].items()
        },
    )


# --- running an operation ------------------------------------------------------------------

# Kinds of rows of Masthead's lookup of kept related lists
# (resolvers.articles.related_lists._lookup_statement): (kind, source, related, number, time).
_LIST, _ENTRY, _PIN, _NEWEST = 0, 1, 2, 3


def related_pick(rows: Sequence[Row], first: int) -> list[int] | None:
    """The ids of the related posts Masthead shows, from its lookup of kept lists, sorted (as
    Masthead asks for them); None when a list cannot tell (Masthead then ranks from scratch).

    The same three steps as ``resolvers.articles.related_lists._pick``: pins in position
    order, then kept entries by (score, published_at, id) descending, then, when the kept list
    holds every candidate, the newest public articles; never the source, never twice.
    """
    complete: dict[int, bool] = {}
    entries: dict[int, list[tuple[Any, Any, int]]] = {}
    pins: dict[int, list[tuple[int, int]]] = {}
    newest: list[tuple[Any, int]] = []
    for kind, source, related, number, published_at in rows:
        if kind == _LIST:
            complete[source] = number == 0
        elif kind == _ENTRY:
            entries.setdefault(source, []).append((number, published_at, related))
        elif kind == _PIN:
            pins.setdefault(source, []).append((number, related))
        elif kind == _NEWEST:
            newest.append((published_at, related))
        else:
            raise ValueError(f"not a lookup of kept lists: row kind {kind!r}")
    newest_ids = [i for _, i in sorted(newest, reverse=True)]
    wanted: set[int] = set()
    for source, is_complete in complete.items():
        chosen = [related for _, related in sorted(pins.get(source, []))][:first]
        for _, _, related in sorted(entries.get(source, []), reverse=True):
            if len(chosen) == first:
                break
            if related not in chosen:
                chosen.append(related)
        if len(chosen) < first:
            if not is_complete:
                return None
            for related in newest_ids:
                if len(chosen) == first:
                    break
                if related != source and related not in chosen:
                    chosen.append(related)
        wanted.update(chosen)
    return sorted(wanted)


class _Skipped(Exception):
    """A step Masthead does not send: a list it would bind is empty, or the row it would
    take a value from does not exist."""


def _value(
    binding: Binding, variables: Mapping[str, Any], now: datetime, results: Sequence[Sequence[Row]]
) -> Any:
    match binding:
        case Variable(name):
            return variables.get(name)
        case Now(text):
            return now.strftime(_SQLITE_TIME) if text else now
        case Constant(value):
            return value
        case Column(step, column, rows, many):
            source = results[step] if rows is None else results[step][:rows]
            if not source:
                raise _Skipped
            if many:
                return list(dict.fromkeys(row[column] for row in source))
            return source[0][column]
        case RelatedPick(step, first):
            picked = related_pick(results[step], first)
            if picked is None:
                raise RuntimeError("a kept related list cannot tell: Masthead ranks from scratch")
            if not picked:
                raise _Skipped
            return picked


def bind(
    step: Step, variables: Mapping[str, Any], now: datetime, results: Sequence[Sequence[Row]]
) -> tuple[Statement, list[Any], dict[str, Any]] | None:
    """The statement a step sends, its positional arguments and its parameters by name; None
    when Masthead would not send it."""
    try:
        values = {name: _value(b, variables, now, results) for name, b in step.bindings.items()}
    except _Skipped:
        return None
    if step.expanding is None:
        statement = step.statements[0]
    else:
        length = len(values[step.expanding])
        if not 1 <= length <= len(step.statements):
            raise RuntimeError(f"an IN list of {length} values: the plan has texts for 1 to "
                               f"{len(step.statements)}")  # fmt: skip
        statement = step.statements[length - 1]
    arguments = [
        values[name] if index is None else values[name][index]
        for name, index in statement.arguments
    ]
    return statement, arguments, values


def now() -> datetime:
    """Now as Masthead's tables store it (``db.models.utcnow``)."""
    return datetime.now(UTC).replace(tzinfo=None)


async def run(
    operation: Operation, variables: Mapping[str, Any], fetch: Fetch
) -> list[Sequence[Row]]:
    """Every step's rows, in order (no rows for a step not sent)."""
    at = now()
    results: list[Sequence[Row]] = []
    for step in operation.steps:
        bound = bind(step, variables, at, results)
        if bound is None:
            results.append([])
            continue
        statement, arguments, _ = bound
        results.append(await fetch(statement.text, arguments))
    return results


def render(operation: Operation, results: Sequence[Sequence[Row]]) -> dict[str, Any]:
    """The shown columns of every step's rows, by column name: the data of Masthead's answer
    without its GraphQL shape."""
    return {
        f"step{i}": [{step.columns[c]: row[c] for c in step.shown} for row in rows]
        for i, (step, rows) in enumerate(zip(operation.steps, results, strict=True))
        if step.shown
    }


# --- the server ----------------------------------------------------------------------------


class _Database:
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def run(self, operation: Operation, variables: Mapping[str, Any]) -> dict[str, Any]:
        raise NotImplementedError


async def _no_reset(_connection: Any) -> None:
    """asyncpg resets a connection on its way back to the pool (a round trip: unlisten,
    advisory unlock, RESET ALL); the ceiling sets no session state, so it skips that."""


class _PostgreSQL(_Database):
    def __init__(self, target: DatabaseTarget) -> None:
        self._target = target
        self._pool: Any = None

    async def open(self) -> None:
        # Masthead's own session settings (db.dialects): no JIT, and its statement deadline.
        settings = {
            "jit": "off",
            "statement_timeout": str(int(self._target.statement_timeout_s * 1000)),
        }
        size = self._target.pool_size
        self._pool = await asyncpg.create_pool(
            self._target.location,
            min_size=size,
            max_size=size,
            reset=_no_reset,
            server_settings=settings,
        )

    async def close(self) -> None:
        await self._pool.close()

    async def run(self, operation: Operation, variables: Mapping[str, Any]) -> dict[str, Any]:
        async with self._pool.acquire() as connection:

            async def fetch(text: str, arguments: Sequence[Any]) -> Sequence[Row]:
                rows: Sequence[Row] = await connection.fetch(text, *arguments)
                return rows

            return render(operation, await run(operation, variables, fetch))


class _SQLite(_Database):
    def __init__(self, target: DatabaseTarget) -> None:
        self._target = target
        self._connection: sqlite3.Connection | None = None

    async def open(self) -> None:
        connection = sqlite3.connect(self._target.location)
        # Masthead's pragmas that matter to a reader (db.dialects), and no writes ever.
        connection.execute("PRAGMA busy_timeout=10000")
        connection.execute("PRAGMA query_only=ON")
        self._connection = connection

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()

    async def run(self, operation: Operation, variables: Mapping[str, Any]) -> dict[str, Any]:
        connection = self._connection
        assert connection is not None

        async def fetch(text: str, arguments: Sequence[Any]) -> Sequence[Row]:
            return connection.execute(text, arguments).fetchall()

        return render(operation, await run(operation, variables, fetch))


def create_app() -> Starlette:
    plan = Plan.load(Path(os.environ[PLAN_VARIABLE]))
    target = plan.database
    database = _PostgreSQL(target) if target.kind == "postgresql" else _SQLite(target)

    async def graphql(request: Request) -> Response:
        payload = orjson.loads(await request.body())
        operation = plan.operations.get(payload.get("operationName"))
        if operation is None:
            return Response(b'{"errors":[{"message":"unknown operation"}]}', status_code=400)
        data = await database.run(operation, payload.get("variables") or {})
        return Response(orjson.dumps({"data": data}, default=str), media_type="application/json")

    async def readyz(_request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await database.open()
        yield
        await database.close()

    return Starlette(
        routes=[Route("/graphql", graphql, methods=["POST"]), Route("/readyz", readyz)],
        lifespan=lifespan,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plan", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    os.environ[PLAN_VARIABLE] = str(args.plan.resolve())
    # uvicorn's standard extras, as Masthead serves (masthead/server.py); no access log.
    uvicorn.run(
        "bench.ceiling:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
