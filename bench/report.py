"""The Markdown report of ``bench/run.py``: what was run, where, and one table per corpus and
database with Masthead's ratio to the ceiling."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.load_generator import WrkResult

__all__ = [
    "CEILING",
    "MASTHEAD",
    "MASTHEAD_CACHED",
    "MASTHEAD_GET",
    "MASTHEAD_MISSES",
    "Cell",
    "Run",
    "Section",
    "render",
]

MASTHEAD = "Masthead"
CEILING = "ceiling"
MASTHEAD_CACHED = "Masthead, cached"
# The cached rows' GETs with the response cache off, and with it on but keeping nothing:
# what a miss costs over the path it replaces.
MASTHEAD_GET = "Masthead, GET uncached"
MASTHEAD_MISSES = "Masthead, cached (every request a miss)"


@dataclass(frozen=True)
class Cell:
    """One operation driven against one server for the measured duration."""

    workers: int
    target: str
    operation: str
    wrk: WrkResult
    cpu_ms_per_request: float  # every process of the server, over the measured duration
    worker_rss_mb: float  # the peak of its largest worker
    statements: float | None  # SQL statements per request
    load: float  # the 1-minute load average as the cell ended


@dataclass
class Section:
    """One corpus size on one database."""

    size: str
    database: str
    articles: int
    origin: str
    database_mb: float
    load_before: tuple[float, float, float]
    waited_s: float
    first_views: tuple[int, float]  # articles viewed once before measuring, and in how long
    statements: dict[str, float]
    texts: dict[str, list[str]]
    cells: list[Cell] = field(default_factory=list)


@dataclass
class Run:
    command: str
    started: str  # UTC
    commit: str
    machine: list[str]
    method: list[str]
    sections: list[Section] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    load_after: tuple[float, float, float] | None = None


_DATABASES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
_PRIMING_NOTE = "in-process; an article whose related list was never kept gets it then"


def _load(load: tuple[float, float, float]) -> str:
    return " / ".join(f"{x:.2f}" for x in load)


def _ceiling(section: Section, cell: Cell) -> Cell | None:
    return next(
        (
            c
            for c in section.cells
            if c.target == CEILING and c.workers == cell.workers and c.operation == cell.operation
        ),
        None,
    )


def _ratio(section: Section, cell: Cell) -> str:
    ceiling = _ceiling(section, cell)
    if cell.target == CEILING or ceiling is None or not ceiling.wrk.rate:
        return "—"
    return f"{cell.wrk.rate / ceiling.wrk.rate:.2f}"


def _errors(result: WrkResult) -> str:
    if not result.errors:
        return "0"
    parts = [
        f"{n} {what}"
        for n, what in (
            (result.non_200, "non-200"),
            (result.graphql_errors, "GraphQL"),
            (result.socket_errors, "socket"),
        )
        if n
    ]
    return ", ".join(parts)


def _target(cell: Cell) -> str:
    if cell.target in (MASTHEAD_CACHED, MASTHEAD_MISSES) and cell.wrk.requests:
        return f"{cell.target} ({100 * cell.wrk.cache_hits / cell.wrk.requests:.0f}% hits)"
    return cell.target


def _table(section: Section) -> list[str]:
    lines = [
        "| workers | operation | server | req/s | vs ceiling | p50 ms | p99 ms | errors "
        "| SQL statements / request | server CPU ms / request | worker RSS MB (peak) "
        "| KB / answer (with headers) | load (1 min) |",
        "|---:|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for cell in section.cells:
        result = cell.wrk
        statements = "—" if cell.statements is None else f"{cell.statements:.0f}"
        kb = result.bytes / result.requests / 1024 if result.requests else 0.0
        lines.append(
            f"| {cell.workers} | {cell.operation} | {_target(cell)} | {result.rate:,.0f} "
            f"| {_ratio(section, cell)} | {result.p50_ms:.1f} | {result.p99_ms:.1f} "
            f"| {_errors(result)} | {statements} | {cell.cpu_ms_per_request:.2f} "
            f"| {cell.worker_rss_mb:.0f} | {kb:.1f} | {cell.load:.2f} |"
        )
    return lines


def _summary(run: Run) -> list[str]:
    operations: list[str] = []
    for section in run.sections:
        for cell in section.cells:
            if cell.operation not in operations:
                operations.append(cell.operation)
    lines = [
        "| corpus | database | server | workers | " + " | ".join(operations) + " |",
        "|---|---|---|---:|" + "---:|" * len(operations),
    ]
    for section in run.sections:
        keys: list[tuple[str, int]] = []
        for cell in section.cells:
            if cell.target != CEILING and (cell.target, cell.workers) not in keys:
                keys.append((cell.target, cell.workers))
        for target, workers in keys:
            ratios = []
            for operation in operations:
                found = [
                    c
                    for c in section.cells
                    if (c.target, c.workers, c.operation) == (target, workers, operation)
                ]
                ratios.append(_ratio(section, found[0]) if found else "—")
            lines.append(
                f"| {section.size} | {_DATABASES[section.database]} | {target} | {workers} | "
                + " | ".join(ratios)
                + " |"
            )
    return lines


def _misses(run: Run) -> list[str]:
    """Each miss row against the uncached GET row of the same cell."""
    lines = []
    for section in run.sections:
        for miss in section.cells:
            if miss.target != MASTHEAD_MISSES:
                continue
            uncached = next(
                (
                    c
                    for c in section.cells
                    if (c.target, c.workers, c.operation)
                    == (MASTHEAD_GET, miss.workers, miss.operation)
                ),
                None,
            )
            if uncached is None or not miss.wrk.rate or not uncached.cpu_ms_per_request:
                continue
            lines.append(
                f"| {section.size} | {_DATABASES[section.database]} | {miss.workers} "
                f"| {miss.operation} | {uncached.wrk.rate:,.0f} | {miss.wrk.rate:,.0f} "
                f"| {uncached.cpu_ms_per_request:.2f} | {miss.cpu_ms_per_request:.2f} "
                f"| {100 * (miss.cpu_ms_per_request / uncached.cpu_ms_per_request - 1):+.1f}% |"
            )
    if not lines:
        return []
    return [
        "",
        "## What a miss costs over the uncached path",
        "",
        "The cached rows' GETs with the response cache off, and with it on but unable to keep "
        "anything (`MASTHEAD_RESPONSE_CACHE_MAX_BYTES=8`): every request computes its answer, "
        "and the cache looks for it and tries to keep it.",
        "",
        "| corpus | database | workers | operation | req/s, cache off | req/s, all misses "
        "| server CPU ms / request, cache off | all misses | CPU difference |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|",
        *lines,
    ]


def _samples(section: Section) -> list[str]:
    lines = []
    for cell in section.cells:
        for sample in cell.wrk.samples:
            lines.append(f"- {cell.target}, {cell.workers} worker(s), {cell.operation}: `{sample}`")
    if lines:
        return ["", "Answers counted as errors (the first few of each run):", "", *lines]
    return []


def _texts(sections: Sequence[Section]) -> list[str]:
    lines = ["## The statements the ceiling replays", ""]
    lines.append(
        "Captured from Masthead's app for each operation (its statements at a second view, "
        "when kept related lists exist), as the driver got them; the ceiling sends these, with "
        "parameters derived as Masthead derives them (checked for every captured request). "
        "The same at every corpus size unless shown again."
    )
    shown: dict[str, dict[str, list[str]]] = {}
    for section in sections:
        if shown.get(section.database) == section.texts:
            continue
        shown[section.database] = section.texts
        lines += [
            "",
            f"<details><summary>{_DATABASES[section.database]} ({section.size})</summary>",
            "",
        ]
        for operation, texts in section.texts.items():
            lines += [f"{operation}:", "", "```sql", *(" ".join(t.split()) for t in texts), "```"]
            lines.append("")
        lines.append("</details>")
    return lines


def render(run: Run) -> str:
    lines = [
        "# `make bench`: Masthead beside a ceiling that sends the same SQL",
        "",
        f"Measured {run.started} at commit {run.commit}.",
        "",
        "```sh",
        run.command,
        "```",
        "",
        *(f"- {line}" for line in run.machine),
        "",
        *(f"- {line}" for line in run.method),
        "",
        "## Masthead's req/s as a share of the ceiling's",
        "",
        *_summary(run),
        *_misses(run),
    ]
    for section in run.sections:
        lines += [
            "",
            f"## {section.size}: {section.articles:,} articles, {_DATABASES[section.database]}",
            "",
            f"Database {section.origin}; {section.database_mb:,.0f} MB. "
            f"{section.first_views[0]:,} articles viewed once before measuring in "
            f"{section.first_views[1]:.0f} s ({_PRIMING_NOTE}). "
            f"Load average before measuring (1 / 5 / 15 min): {_load(section.load_before)}"
            + (f", after waiting {section.waited_s:.0f} s." if section.waited_s else "."),
            "",
            *_table(section),
            *_samples(section),
        ]
    if run.load_after is not None:
        lines += ["", f"Load average at the end (1 / 5 / 15 min): {_load(run.load_after)}."]
    if run.notes:
        lines += ["", *(f"- {note}" for note in run.notes)]
    lines += ["", *_texts(run.sections)]
    return "\n".join(lines) + "\n"
