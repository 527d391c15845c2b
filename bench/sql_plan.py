"""Masthead's own SQL for each reference operation, captured from the app and turned into the
plan the ceiling (``bench.ceiling``) replays.

Each operation is run through the app in-process (the ASGI app over httpx, as the tests do)
for a few sets of variables, after a first request that computes what a first view keeps
(kept related lists), so that what is captured is the steady state: every statement the
driver is handed (``before_cursor_execute``), with its parameters by name. The rows of each
are read again with the bare driver. Then, for every parameter, the one rule that gives its
value in every captured request: a request variable, the time of the request, a constant,
the values of a column of an earlier statement's rows, or the related posts picked from a
lookup of kept lists. A parameter no rule explains stops the benchmark: Masthead's SQL has
changed in a way the ceiling cannot follow, and ``bench.ceiling`` needs the new rule.

Last, the plan is checked: replayed over the captured rows, it must send the same statements
with the same parameters as Masthead did (times aside, IN lists in any order).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.engine.interfaces import DBAPICursor, ExecutionContext
from sqlalchemy.sql.compiler import SQLCompiler

from bench.ceiling import (
    Binding,
    Column,
    Constant,
    DatabaseTarget,
    Now,
    Operation,
    Plan,
    RelatedPick,
    Statement,
    Step,
    Variable,
    bind,
    related_pick,
)
from bench.latency import served
from bench.reference_requests import OPERATIONS
from db.models import utcnow
from masthead.app import create_app
from masthead.settings import Settings

__all__ = ["Captured", "PlanError", "capture", "database_target"]

# The longest IN list the plan has texts for (a page of 20 articles and its 21st, their
# authors, 5 related posts: well under).
_MAX_LIST = 64
# A captured time within this of the capture is the request's "now".
_NOW_WINDOW = timedelta(minutes=10)
_TIME_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")


class PlanError(Exception):
    """Masthead's SQL cannot be replayed as captured."""


@dataclass
class _Sent:
    """One statement Masthead handed the driver."""

    key: str  # the compiled statement before IN lists are expanded
    text: str
    values: dict[str, Any]  # parameters by name, as the driver got them; IN lists as lists
    compiled: SQLCompiler | None  # None for a write
    unprocessed: dict[str, Any]  # the same before SQLAlchemy's bind processing
    expanding: str | None
    columns: tuple[str, ...] = ()
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    @property
    def reads(self) -> bool:
        return self.compiled is not None


@dataclass
class _Request:
    variables: dict[str, Any]
    sent: list[_Sent]
    data: Any  # Masthead's answer
    at: datetime


@dataclass(frozen=True)
class Captured:
    """What ``capture`` found: the plan, and the statements Masthead sent per request."""

    plan: Plan
    statements: dict[str, float]  # operation -> mean statements per request
    texts: dict[str, list[str]]  # operation -> each statement's SQL, in the plan's order


class _Recorder:
    def __init__(self) -> None:
        self.sent: list[_Sent] | None = None

    def before_cursor_execute(
        self,
        _connection: Connection,
        _cursor: DBAPICursor,
        statement: str,
        parameters: Any,
        context: ExecutionContext | None,
        _executemany: bool,
    ) -> None:
        if self.sent is None:
            return
        compiled = getattr(context, "compiled", None)
        if _executemany or not _reads(statement) or not isinstance(compiled, SQLCompiler):
            # A write (a first view keeping what it computed): the request is read again.
            self.sent.append(_Sent(key=statement, text=statement, values={}, compiled=None,
                                   unprocessed={}, expanding=None))  # fmt: skip
            return
        # SQLAlchemy keeps how it expanded each IN list here; nothing public tells.
        expansion: Mapping[str, list[str]] = getattr(context, "_expanded_parameters", {})
        if len(expansion) > 1:
            raise PlanError(f"more than one IN list in a statement: {statement}")
        expanded = {n for names in expansion.values() for n in names}
        parameters_by_name: dict[str, Any] = getattr(context, "compiled_parameters", [{}])[0]
        unprocessed = {k: v for k, v in parameters_by_name.items() if k not in expanded}
        for name, names in expansion.items():
            unprocessed[name] = [parameters_by_name[n] for n in names]
        state = compiled.construct_expanded_state(unprocessed)
        if state.statement != statement or state.positiontup is None:
            raise PlanError(f"cannot tell the parameters of: {statement}")
        processed = dict(zip(state.positiontup, parameters, strict=True))
        values = {
            name: [processed[n] for n in expansion[name]] if name in expansion else processed[name]
            for name in unprocessed
            if name in expansion or name in processed
        }
        self.sent.append(
            _Sent(
                key=compiled.string,
                text=statement,
                values=values,
                compiled=compiled,
                unprocessed=unprocessed,
                expanding=next(iter(expansion), None),
            )
        )


def database_target(database_url: str, settings: Settings) -> DatabaseTarget:
    """Where the ceiling connects for Masthead's ``database_url``: the same database, with
    Masthead's pool size and statement deadline."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if not url.database:
            raise PlanError("the ceiling needs an SQLite file, not an in-memory database")
        location = url.database
    else:
        location = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return DatabaseTarget(
        kind=url.get_backend_name(),
        location=location,
        pool_size=settings.db_pool_size,
        statement_timeout_s=settings.db_statement_timeout,
    )


async def _read_rows(target: DatabaseTarget, requests: Iterable[_Request]) -> None:
    """Each statement's rows, read again with the bare driver as the ceiling reads them."""
    sent = [s for request in requests for s in request.sent]
    if target.kind == "sqlite":
        connection = sqlite3.connect(target.location)
        try:
            connection.execute("PRAGMA query_only=ON")
            for s in sent:
                cursor = connection.execute(s.text, _arguments(s))
                s.columns = tuple(d[0] for d in cursor.description)
                s.rows = cursor.fetchall()
        finally:
            connection.close()
        return
    pg = await asyncpg.connect(target.location, server_settings={"jit": "off"})
    try:
        for s in sent:
            prepared = await pg.prepare(s.text)
            s.columns = tuple(a.name for a in prepared.get_attributes())
            s.rows = [tuple(r) for r in await prepared.fetch(*_arguments(s))]
    finally:
        await pg.close()


def _arguments(sent: _Sent) -> list[Any]:
    assert sent.compiled is not None
    state = sent.compiled.construct_expanded_state(sent.unprocessed)
    reverse = {
        n: (name, i) for name, ns in state.parameter_expansion.items() for i, n in enumerate(ns)
    }
    assert state.positiontup is not None
    return [
        sent.values[reverse[n][0]][reverse[n][1]] if n in reverse else sent.values[n]
        for n in state.positiontup
    ]


def _identities(sent: Sequence[_Sent]) -> list[tuple[str, int]]:
    """Each statement as (key, how many times the key came before): the same statement of
    the same request, whatever order the loaders' batches ran in."""
    seen: dict[str, int] = {}
    found = []
    for s in sent:
        found.append((s.key, seen.get(s.key, 0)))
        seen[s.key] = seen.get(s.key, 0) + 1
    return found


# --- rules ---------------------------------------------------------------------------------

# A rule as a tuple: its kind first, then what it needs, so that rules compare and hash.
_Rule = tuple[Any, ...]


def _reads(statement: str) -> bool:
    return statement.lstrip().upper().startswith(("SELECT", "WITH"))


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, str) and _TIME_TEXT.match(value):
        try:
            return _time(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def _column_rules(
    value: Any, step: int, rows: Sequence[Sequence[Any]], columns: Sequence[str]
) -> set[_Rule]:
    rules: set[_Rule] = set()
    if not rows:
        return rules
    for c in range(len(columns)):
        if not isinstance(value, list):
            if rows[0][c] == value:
                rules.add(("column", step, c, None, False))
            continue
        wanted, seen = set(value), set()
        for m, row in enumerate(rows, start=1):
            seen.add(row[c])
            if seen == wanted:
                rules.add(("column", step, c, m, True))
        if seen == wanted:
            rules.add(("column", step, c, None, True))
    return rules


def _pick_rules(value: Any, step: int, rows: Sequence[Sequence[Any]]) -> set[_Rule]:
    if not isinstance(value, list) or not rows or len(rows[0]) != 5:
        return set()
    rules: set[_Rule] = set()
    for first in range(1, _MAX_LIST + 1):
        try:
            picked = related_pick(rows, first)
        except (ValueError, TypeError):
            return set()  # not a lookup of kept lists
        if picked is not None and set(picked) == set(value):
            rules.add(("pick", step, first))
    return rules


def _rules(
    value: Any,
    request: _Request,
    earlier: Mapping[int, _Sent],
    columns: Mapping[int, Sequence[str]],
) -> set[_Rule]:
    """Every rule that gives ``value`` in this request; ``earlier``: the plan's steps sent
    before this one (by plan index)."""
    rules: set[_Rule] = set()
    if isinstance(value, list):
        for name, variable in request.variables.items():
            if variable == value:
                rules.add(("variable", name))
        for step, sent in earlier.items():
            rules |= _column_rules(value, step, sent.rows, columns[step])
            rules |= _pick_rules(value, step, sent.rows)
        rules.add(("constant list", tuple(value)))
        return rules
    for name, variable in request.variables.items():
        if variable == value:
            rules.add(("variable", name))
    at = _time(value)
    if at is not None and abs(at - request.at) < _NOW_WINDOW:
        rules.add(("now", isinstance(value, str)))
    rules.add(("constant", value))
    for step, sent in earlier.items():
        rules |= _column_rules(value, step, sent.rows, columns[step])
    return rules


def _preference(rule: _Rule, columns: Mapping[int, Sequence[str]]) -> tuple[Any, ...]:
    kind = rule[0]
    if kind == "variable":
        return (0, rule[1])
    if kind == "now":
        return (1,)
    if kind == "constant":
        return (2,)
    if kind == "column":
        _, step, column, rows, _many = rule
        named_id = columns[step][column].endswith("id")
        # All rows before a prefix, a longer prefix before a shorter, an id before others.
        return (3, rows is not None, -(rows or 0), not named_id, step, column)
    if kind == "pick":
        return (4, rule[2])
    # A list the same in every request, yet from no earlier rows: in the statement itself.
    return (5,)


def _binding(rule: _Rule) -> Binding:
    kind = rule[0]
    if kind == "variable":
        return Variable(rule[1])
    if kind == "now":
        return Now(rule[1])
    if kind == "constant":
        return Constant(rule[1])
    if kind == "column":
        return Column(step=rule[1], column=rule[2], rows=rule[3], many=rule[4])
    if kind == "pick":
        return RelatedPick(step=rule[1], first=rule[2])
    return Constant(list(rule[1]))


# --- what Masthead's answer shows ----------------------------------------------------------


def _comparable(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return None
    return _time(value) or value


def _leaves(data: Any) -> set[Any]:
    if isinstance(data, dict):
        return set().union(*(_leaves(v) for v in data.values())) if data else set()
    if isinstance(data, list):
        return set().union(*(_leaves(v) for v in data)) if data else set()
    comparable = _comparable(data)
    return set() if comparable is None else {comparable}


# --- the plan ------------------------------------------------------------------------------


def _statements(sent: _Sent) -> tuple[Statement, ...]:
    compiled = sent.compiled
    assert compiled is not None

    def statement(unprocessed: dict[str, Any]) -> Statement:
        state = compiled.construct_expanded_state(unprocessed)
        reverse = {
            n: (name, i) for name, ns in state.parameter_expansion.items() for i, n in enumerate(ns)
        }
        assert state.positiontup is not None
        return Statement(
            state.statement, tuple(reverse.get(n, (n, None)) for n in state.positiontup)
        )

    if sent.expanding is None:
        return (statement(sent.unprocessed),)
    element = sent.unprocessed[sent.expanding][0]
    return tuple(
        statement({**sent.unprocessed, sent.expanding: [element] * length})
        for length in range(1, _MAX_LIST + 1)
    )


def _operation(name: str, requests: Sequence[_Request]) -> Operation:
    identities = [_identities(r.sent) for r in requests]
    reference = max(range(len(requests)), key=lambda i: len(identities[i]))
    order = identities[reference]
    for i, idents in enumerate(identities):
        extra = set(idents) - set(order)
        if extra:
            raise PlanError(f"{name}: request {requests[i].variables} sends statements the "
                            f"reference request does not: {sorted(extra)}")  # fmt: skip
    positions = [{ident: p for p, ident in enumerate(idents)} for idents in identities]
    sent_by_step = [
        {s: r.sent[positions[i][ident]] for s, ident in enumerate(order) if ident in positions[i]}
        for i, r in enumerate(requests)
    ]
    columns = {step: requests[reference].sent[step].columns for step in range(len(order))}
    steps = []
    for step, ident in enumerate(order):
        # Earlier steps: before this one in every request that sent both.
        earlier = [
            s
            for s in range(step)
            if all(
                positions[i][order[s]] < positions[i][ident]
                for i in range(len(requests))
                if ident in positions[i] and order[s] in positions[i]
            )
        ]
        present = [i for i in range(len(requests)) if step in sent_by_step[i]]
        template = sent_by_step[reference][step]
        bindings: dict[str, Binding] = {}
        for parameter in template.values:
            common: set[_Rule] | None = None
            for i in present:
                found = _rules(
                    sent_by_step[i][step].values[parameter],
                    requests[i],
                    {s: sent_by_step[i][s] for s in earlier if s in sent_by_step[i]},
                    columns,
                )
                common = found if common is None else common & found
            if not common:
                seen = [sent_by_step[i][step].values[parameter] for i in present[:5]]
                raise PlanError(
                    f"{name}: no rule gives parameter {parameter} (values {seen}) of\n"
                    f"{template.text}"
                )
            bindings[parameter] = _binding(min(common, key=lambda r: _preference(r, columns)))
        shown: set[int] = set()
        for i in present:
            leaves = _leaves(requests[i].data)
            for row in sent_by_step[i][step].rows:
                matched = {c for c, v in enumerate(row) if _comparable(v) in leaves}
                # A row shown is one whose text is: times and numbers alone match by chance
                # (the lookup of kept lists holds the times of the articles it picks).
                if any(isinstance(row[c], str) and _time(row[c]) is None for c in matched):
                    shown |= matched
        steps.append(
            Step(
                key=ident[0],
                bindings=bindings,
                statements=_statements(template),
                expanding=template.expanding,
                columns=columns[step],
                shown=tuple(sorted(shown)),
            )
        )
    return Operation(name, tuple(steps))


def _normal(value: Any) -> Any:
    return sorted(value, key=repr) if isinstance(value, list) else value


def _check(operation: Operation, requests: Sequence[_Request]) -> None:
    """The plan, replayed over the captured rows, sends what Masthead sent."""
    for request in requests:
        by_identity = dict(zip(_identities(request.sent), request.sent, strict=True))
        results: list[Sequence[Sequence[Any]]] = []
        replayed = set()
        counts: dict[str, int] = {}
        for step in operation.steps:
            ident = (step.key, counts.get(step.key, 0))
            counts[step.key] = ident[1] + 1
            bound = bind(step, request.variables, request.at, results)
            masthead = by_identity.get(ident)
            where = f"{operation.name} {request.variables}: "
            if (bound is None) != (masthead is None):
                said = "does not send" if bound is None else "sends"
                raise PlanError(f"{where}the ceiling {said} what Masthead does not:\n{step.key}")
            if bound is None or masthead is None:
                results.append([])
                continue
            replayed.add(ident)
            statement, _, values = bound
            if statement.text != masthead.text:
                raise PlanError(f"{where}another text:\n{statement.text}\n{masthead.text}")
            for name, value in values.items():
                if isinstance(step.bindings[name], Now):
                    continue
                if _normal(value) != _normal(masthead.values[name]):
                    raise PlanError(f"{where}parameter {name} is {value!r}, Masthead sent "
                                    f"{masthead.values[name]!r}:\n{statement.text}")  # fmt: skip
            results.append(masthead.rows)
        missing = set(by_identity) - replayed
        if missing:
            raise PlanError(f"{operation.name}: the ceiling does not send {sorted(missing)}")


async def capture(
    database_url: str, settings: Settings, variables: Mapping[str, Sequence[dict[str, Any]]]
) -> Captured:
    """Masthead's SQL for each operation of ``variables`` (operation name -> sets of variables),
    run through the app built with ``settings``, and the plan that replays it."""
    app = create_app(settings)
    recorder = _Recorder()
    listener: Callable[..., None] = recorder.before_cursor_execute
    event.listen(app.state.engine.sync_engine, "before_cursor_execute", listener)
    captured: dict[str, list[_Request]] = {}
    async with served(app) as client:
        for name, sets in variables.items():
            captured[name] = []
            for v in sets:
                for _view in range(2):  # a first view keeps what it computed: then read again
                    recorder.sent = []
                    at = utcnow()
                    answer = await client.post(
                        "/graphql",
                        json={"query": OPERATIONS[name], "operationName": name, "variables": v},
                    )
                    sent, recorder.sent = recorder.sent, None
                    body = answer.json()
                    if answer.status_code != 200 or "errors" in body:
                        raise PlanError(f"{name} {v}: HTTP {answer.status_code} {body}")
                    if all(s.reads for s in sent):
                        break
                else:
                    raise PlanError(f"{name} {v}: still writing when read a second time")
                captured[name].append(_Request(dict(v), sent, body["data"], at))
    target = database_target(database_url, settings)
    await _read_rows(target, (r for rs in captured.values() for r in rs))
    operations = {name: _operation(name, requests) for name, requests in captured.items()}
    for name, operation in operations.items():
        _check(operation, captured[name])
    return Captured(
        plan=Plan(target, operations),
        statements={
            name: sum(len(r.sent) for r in requests) / len(requests)
            for name, requests in captured.items()
        },
        texts={name: [s.statements[0].text for s in op.steps] for name, op in operations.items()},
    )
