"""``make bench``: Masthead served beside a ceiling that sends the same SQL, on SQLite and
PostgreSQL, at each corpus size, with 1 and 2 workers.

    python -m bench.run [--sizes 10k,1m] [--databases sqlite,postgresql] [--workers 1,2]
        [--duration 15] [--warmup 5] [--connections 32] [--corpus 10k=FILE]
        [--sqlite 1m=URL] [--postgres 1m=URL] [--out bench/results/bench.md]

For each corpus size: the corpus (the shared generator's, seed 1, written into the work
directory unless ``--corpus`` gives it), imported into each database by ``masthead import``
(unless ``--sqlite`` / ``--postgres`` give a database already loaded, which is then only
read). On each database: every article slug the run will ask for is viewed once (a first
view computes and keeps its related list), Masthead's SQL for each reference operation is
captured from its app (``bench.sql_plan``), then, for each worker count, ``masthead serve``
and the ceiling (``bench.ceiling``) are served in turn, pinned to the server CPUs, and wrk,
pinned to the load CPUs, drives each operation for a warm-up and then for the measured
duration. With Masthead's response cache, a third server answers GETs of persisted queries
from it. The report (Markdown) goes to ``--out``. Needs ``wrk`` (``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shlex
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from tempfile import gettempdir
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from bench.databases import (
    Database,
    DatabaseError,
    articles_in,
    corpus,
    given,
    loaded_postgresql,
    loaded_sqlite,
)
from bench.latency import BENCH_RATE_LIMIT, served
from bench.load_generator import Method, require_wrk, run_wrk, write_requests
from bench.reference_requests import (
    OPERATIONS,
    Samples,
    bodies,
    persisted_paths,
    samples,
)
from bench.report import (
    CEILING,
    MASTHEAD,
    MASTHEAD_CACHED,
    MASTHEAD_GET,
    MASTHEAD_MISSES,
    Cell,
    Run,
    Section,
    render,
)
from bench.servers import ProcessWatch, Server, free_port
from bench.sql_plan import PlanError, capture
from masthead.app import create_app
from masthead.settings import Settings

_ROOT = Path(__file__).resolve().parent.parent
# Masthead's response cache, when this Masthead has one (the uncached rows switch it off).
_HAS_RESPONSE_CACHE = "response_cache" in Settings.model_fields
# First views computed at once before measuring: enough to keep PostgreSQL busy; on SQLite
# one, as its writers take the database's lock one at a time (several queue up past the
# request deadline). Filling the response cache uses as many threads as PostgreSQL's.
_PRIMING = {"postgresql": 8, "sqlite": 1}


@dataclass(frozen=True)
class _Options:
    sizes: list[str]
    databases: list[str]
    workers: list[int]
    operations: list[str]
    duration: float
    warmup: float
    connections: int
    server_cpus: str
    load_cpus: str
    slugs: int
    hot_set: int
    seed: int
    cached: bool
    statement_timeout: float
    wait_load: float
    wait_max: float
    work: Path
    out: Path
    corpora: dict[str, Path]
    sqlite: dict[str, str]
    postgres: dict[str, str]
    postgres_server: str
    command: str


def _list(value: str) -> list[str]:
    return [part for part in value.replace(",", " ").split() if part]


def _by_size(pairs: Sequence[str], option: str) -> dict[str, str]:
    found = {}
    for pair in pairs:
        size, sep, value = pair.partition("=")
        if not sep or not value:
            raise SystemExit(f"{option} takes SIZE=VALUE, e.g. 10k=..., not {pair!r}")
        found[size.strip().lower()] = value
    return found


def _redacted(argv: Sequence[str]) -> str:
    """The command as run, without the machine's paths: given corpora and databases, the
    work directory and a report written outside the repository stand as placeholders."""
    always = ("--corpus", "--sqlite", "--postgres", "--work-dir", "--postgres-server")
    shown = []
    for i, argument in enumerate(argv):
        option = argv[i - 1] if i else ""
        if option in always or (option == "--out" and Path(argument).is_absolute()):
            size, sep, _ = argument.partition("=")
            shown.append(f"{size}=<given>" if sep and option != "--out" else "<given>")
        else:
            shown.append(argument)
    return shlex.join(["python", "-m", "bench.run", *shown])


def _options(argv: Sequence[str] | None = None) -> _Options:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10k,1m", help="corpus sizes, e.g. 10k,1m")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--workers", default="1,2", help="worker counts served in turn")
    parser.add_argument("--operations", default=",".join(OPERATIONS))
    parser.add_argument("--duration", type=float, default=15, help="seconds measured per cell")
    parser.add_argument("--warmup", type=float, default=5, help="seconds of warm-up per cell")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--server-cpus", default="0", help="taskset list for the servers")
    parser.add_argument("--load-cpus", default="1", help="taskset list for wrk (and this runner)")
    parser.add_argument("--slugs", type=int, default=1000, help="article slugs rotated through")
    parser.add_argument("--hot-set", type=int, default=100, help="article slugs of cached rows")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--cached",
        choices=["auto", "yes", "no"],
        default="auto",
        help="cached rows (GETs of persisted queries): auto when Masthead has a response cache",
    )
    parser.add_argument(
        "--statement-timeout", type=float, default=30, help="MASTHEAD_DB_STATEMENT_TIMEOUT"
    )
    parser.add_argument(
        "--wait-load",
        type=float,
        default=1.5,
        help="before measuring, wait for a 1-minute load average below this (0: never wait)",
    )
    parser.add_argument(
        "--wait-max", type=float, default=600, help="seconds of waiting at most, in the whole run"
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=Path(gettempdir()) / "masthead-bench",
        help="corpora, loaded SQLite databases, plans, logs (default: in the temp directory)",
    )
    parser.add_argument("--out", type=Path, default=_ROOT / "bench" / "results" / "bench.md")
    parser.add_argument("--corpus", action="append", default=[], metavar="SIZE=FILE")
    parser.add_argument("--sqlite", action="append", default=[], metavar="SIZE=URL")
    parser.add_argument("--postgres", action="append", default=[], metavar="SIZE=URL")
    parser.add_argument(
        "--postgres-server",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="where databases are created for corpora the run loads itself",
    )
    args = parser.parse_args(argv)
    databases = _list(args.databases)
    if not set(databases) <= {"sqlite", "postgresql"}:
        parser.error("--databases takes sqlite and postgresql")
    operations = _list(args.operations)
    if not set(operations) <= set(OPERATIONS):
        parser.error(f"--operations takes {', '.join(OPERATIONS)}")
    if args.cached == "yes" and not _HAS_RESPONSE_CACHE:
        parser.error("this Masthead has no response cache (MASTHEAD_RESPONSE_CACHE)")
    return _Options(
        sizes=[s.lower() for s in _list(args.sizes)],
        databases=databases,
        workers=[int(w) for w in _list(args.workers)],
        operations=operations,
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        server_cpus=args.server_cpus,
        load_cpus=args.load_cpus,
        slugs=args.slugs,
        hot_set=args.hot_set,
        seed=args.seed,
        cached=args.cached == "yes" or (args.cached == "auto" and _HAS_RESPONSE_CACHE),
        statement_timeout=args.statement_timeout,
        wait_load=args.wait_load,
        wait_max=args.wait_max,
        work=args.work_dir,
        out=args.out,
        corpora={k: Path(v) for k, v in _by_size(args.corpus, "--corpus").items()},
        sqlite=_by_size(args.sqlite, "--sqlite"),
        postgres=_by_size(args.postgres, "--postgres"),
        postgres_server=args.postgres_server,
        command=_redacted(sys.argv[1:] if argv is None else argv),
    )


def _say(message: str) -> None:
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- where it runs -------------------------------------------------------------------------


def _output(command: Sequence[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=20)
    except OSError:
        return ""
    return (done.stdout or done.stderr).strip()


def _commit() -> str:
    commit = _output(["git", "-C", str(_ROOT), "rev-parse", "--short", "HEAD"]) or "unknown"
    changed = _output(["git", "-C", str(_ROOT), "status", "--porcelain"]).splitlines()
    if changed:
        return f"{commit} (and {len(changed)} paths changed in the working tree)"
    return commit


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _memory_gb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def _machine(options: _Options) -> list[str]:
    names = ("strawberry-graphql", "starlette", "uvicorn", "sqlalchemy", "asyncpg", "aiosqlite")
    packages = ", ".join(f"{p} {version(p)}" for p in (*names, "orjson"))
    return [
        f"Machine: {_cpu_model()}, {os.cpu_count()} CPUs, {_memory_gb():.0f} GB; "
        f"{platform.system()} {platform.release()}.",
        f"Python {platform.python_version()}; {packages}; SQLite {sqlite3.sqlite_version}; "
        f"{_output(['wrk', '-v']).splitlines()[0] if _output(['wrk', '-v']) else 'wrk'}.",
    ]


def _method(options: _Options) -> list[str]:
    method = [
        f"Servers pinned to CPU {options.server_cpus} (taskset; several workers share it), "
        f"wrk to CPU {options.load_cpus} (1 thread, {options.connections} connections, "
        "`--latency`) with this runner; PostgreSQL unpinned.",
        f"Each cell: {options.warmup:g} s of warm-up, then {options.duration:g} s measured. "
        f"Requests rotate over {options.slugs:,} public articles drawn at random "
        f"(seed {options.seed}) and every category; Home is one request.",
        "Masthead: `masthead serve --workers N` (its access log on, to a file), "
        f"`MASTHEAD_DB_STATEMENT_TIMEOUT={options.statement_timeout:g}`, "
        "`MASTHEAD_RATE_LIMIT=10^12` (the limiter runs and never refuses); uncached rows are "
        "POSTs" + (" with `MASTHEAD_RESPONSE_CACHE=false`." if _HAS_RESPONSE_CACHE else "."),
        "Ceiling: `python -m bench.ceiling` (Starlette on uvicorn with uvloop and httptools, "
        "no access log; asyncpg, a pool of Masthead's size without reset, or the sqlite3 "
        "module), sending Masthead's own statements (captured from its app: listed at the "
        "end) on one connection per request and answering the columns Masthead shows as "
        "JSON (orjson). `vs ceiling` is Masthead's req/s over the ceiling's with as many "
        "workers.",
        "Before measuring, every article asked for was viewed once: its first view computed "
        "and kept its related list, so ArticlePage rows are steady-state reads.",
        "Errors: answers that are not a 200, 200s carrying GraphQL `errors`, and wrk's socket "
        "errors. Server CPU: all of the server's processes (`/proc`) over the measured "
        "seconds, per answer. Worker RSS: the peak resident memory of its largest worker, "
        "sampled 5 times a second while measured. Load: the 1-minute load average as the "
        "cell ended, the benchmark's own processes included (its server, wrk and PostgreSQL "
        "keep 2 to 3 runnable); beyond that, other work on the machine.",
    ]
    if options.cached:
        method.append(
            "Cached rows: GETs naming the persisted query by its hash alone (Apollo's APQ), "
            f"over {options.hot_set} of the article slugs and every category, Masthead's "
            "response cache on (in each process; no Redis). Before the warm-up, each GET with "
            "its query too is sent 4 times per worker on connections of its own, which "
            "fills the cache; the warm-up sends the GETs with their query too, so each worker "
            "has registered the hash from the connections it holds (one worker can take all "
            "of the first connections, and the other would answer `PersistedQueryNotFound`). "
            "The same GETs are sent "
            "again with the cache off (`GET uncached`), and with it on but keeping nothing "
            "(`every request a miss`: `MASTHEAD_RESPONSE_CACHE_MAX_BYTES=8`)."
        )
    return method


# --- preparing a database ------------------------------------------------------------------


def _database(options: _Options, size: str, kind: str) -> Database:
    given_urls = options.sqlite if kind == "sqlite" else options.postgres
    if size in given_urls:
        return given(kind, given_urls[size])
    articles = articles_in(size)
    corpus_file = options.corpora.get(size) or corpus(
        articles, seed=options.seed, work=options.work
    )
    if not corpus_file.exists():
        raise DatabaseError(f"no corpus at {corpus_file}")
    _say(f"loading {corpus_file.name} into {kind} (skipped if an earlier run did)")
    if kind == "sqlite":
        return loaded_sqlite(
            corpus_file, path=options.work / f"masthead-{articles}-s{options.seed}.db"
        )
    return loaded_postgresql(
        corpus_file,
        server=options.postgres_server,
        name=f"masthead_bench_{articles}_s{options.seed}",
    )


def _settings(options: _Options, url: str, *, cache: bool) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "rate_limit": BENCH_RATE_LIMIT,
        "db_statement_timeout": options.statement_timeout,
    }
    if _HAS_RESPONSE_CACHE:
        values["response_cache"] = cache
    if "serve_worker" in Settings.model_fields:
        # The event worker's polls are no request's statements: the capture would count them.
        values["serve_worker"] = False
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]  # pydantic-settings init kwarg


async def _size_of(url: str) -> tuple[int, float]:
    """Articles in the database, and its size in MB."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            (count,) = connection.execute("SELECT count(*) FROM articles").fetchone()
        return int(count), path.stat().st_size / 1e6
    connection = await asyncpg.connect(
        parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        count = await connection.fetchval("SELECT count(*) FROM articles")
        size = await connection.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await connection.close()
    return int(count), int(size) / 1e6


async def _first_views(settings: Settings, kind: str, slugs: Sequence[str]) -> None:
    """View each article once through the app: each first view computes and keeps the
    article's related list, which every later view reads. Not measured: no request deadline
    to stop a long first view."""
    app = create_app(settings.model_copy(update={"request_timeout": 600.0}))
    gate = asyncio.Semaphore(_PRIMING[kind])
    async with served(app) as client:

        async def view(slug: str) -> None:
            async with gate:
                body = {
                    "query": OPERATIONS["ArticlePage"],
                    "operationName": "ArticlePage",
                    "variables": {"slug": slug},
                }
                answer = await client.post("/graphql", json=body)
                if answer.status_code != 200 or "errors" in answer.json():
                    raise PlanError(f"ArticlePage {slug}: HTTP {answer.status_code} {answer.text}")

        await asyncio.gather(*(view(slug) for slug in slugs))


async def _prepare(
    options: _Options, size: str, database: Database, plan_path: Path
) -> tuple[Section, Samples]:
    found = await samples(database.url, options.slugs, options.seed)
    settings = _settings(options, database.url, cache=False)
    started = time.monotonic()
    await _first_views(settings, database.kind, found.articles)
    first_views_s = time.monotonic() - started
    _say(f"viewed {len(found.articles)} articles once in {first_views_s:.0f} s")
    captured = await capture(
        database.url,
        settings,
        {
            name: found.variables(name)[:20] if name == "ArticlePage" else found.variables(name)
            for name in options.operations
        },
    )
    captured.plan.dump(plan_path)
    articles, megabytes = await _size_of(database.url)
    origin = database.origin + (
        f" in {database.load_seconds:.0f} s" if database.load_seconds is not None else ""
    )
    section = Section(
        size=size,
        database=database.kind,
        articles=articles,
        origin=origin,
        database_mb=megabytes,
        load_before=os.getloadavg(),
        waited_s=0.0,
        first_views=(len(found.articles), first_views_s),
        statements=captured.statements,
        texts=captured.texts,
    )
    return section, found


# --- measuring -----------------------------------------------------------------------------


def _wait_for_quiet(options: _Options, budget: float) -> float:
    """Wait, ``budget`` seconds at most, for a 1-minute load average under the threshold:
    other work on the machine takes CPU from the servers and the load generator alike."""
    started = time.monotonic()
    while options.wait_load > 0 and os.getloadavg()[0] >= options.wait_load:
        waited = time.monotonic() - started
        if waited >= budget:
            _say(f"load still {os.getloadavg()[0]:.2f} after {waited:.0f} s: measuring anyway")
            break
        _say(f"load {os.getloadavg()[0]:.2f} >= {options.wait_load:g}: waiting")
        time.sleep(15)
    return time.monotonic() - started


@dataclass(frozen=True)
class _Requests:
    """Per operation: the file of requests wrk sends measured (and in the warm-up, unless
    ``warmup`` has one), and GET paths sent before, each a few times per worker
    (``_fill``)."""

    method: Method
    files: dict[str, Path]
    fill: dict[str, list[str]] | None = None
    warmup: dict[str, Path] | None = None


def _request_files(options: _Options, found: Samples, directory: Path) -> dict[str, _Requests]:
    rng = random.Random(options.seed)
    posts = {}
    for name in options.operations:
        variables = found.variables(name)
        rng.shuffle(variables)
        posts[name] = write_requests(directory / f"post-{name}.jsonl", bodies(name, variables))
    files = {MASTHEAD: _Requests("POST", posts)}
    files[CEILING] = files[MASTHEAD]
    if options.cached:
        registering, hashed, warmup = {}, {}, {}
        for name in options.operations:
            variables = found.variables(name)[: options.hot_set]
            registering[name] = persisted_paths(name, variables, query=True)
            warmup[name] = write_requests(directory / f"get-query-{name}.txt", registering[name])
            hashed[name] = write_requests(
                directory / f"get-hash-{name}.txt", persisted_paths(name, variables, query=False)
            )
        files[MASTHEAD_CACHED] = _Requests("GET", hashed, registering, warmup)
        files[MASTHEAD_GET] = files[MASTHEAD_MISSES] = files[MASTHEAD_CACHED]
    return files


def _fill(base: str, paths: Sequence[str], *, workers: int) -> None:
    """Send each GET (the query with its hash) a few times per worker, each on a connection
    of its own, so that every worker has registered the hash and kept the answer before
    anything is measured: a worker takes connections at random, and in a short warm-up a
    slow miss would leave much of the hot set uncached."""

    def get(path: str) -> str | None:
        request = urllib.request.Request(
            base + path, headers={"Accept": "application/json", "Connection": "close"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                body = answer.read()
        except (urllib.error.URLError, OSError) as error:
            return f"{path}: {error}"
        return f"{path}: {body[:300]!r}" if b'"errors"' in body else None

    with ThreadPoolExecutor(max_workers=_PRIMING["postgresql"]) as pool:
        problems = [p for p in pool.map(get, [p for p in paths for _ in range(4 * workers)]) if p]
    if problems:
        _say(f"  {len(problems)} answers with errors while filling the cache, e.g. {problems[0]}")


def _command(target: str, port: int, workers: int, plan: Path) -> list[str]:
    if target == CEILING:
        return [sys.executable, "-m", "bench.ceiling", "--plan", str(plan), "--port", str(port),
                "--workers", str(workers)]  # fmt: skip
    masthead = Path(sys.executable).parent / "masthead"
    return [str(masthead), "serve", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers)]  # fmt: skip


def _environment(options: _Options, url: str, target: str) -> dict[str, str]:
    cache = target in (MASTHEAD_CACHED, MASTHEAD_MISSES)
    environment = {
        **os.environ,
        "MASTHEAD_DATABASE_URL": url,
        "MASTHEAD_RATE_LIMIT": str(BENCH_RATE_LIMIT),
        "MASTHEAD_DB_STATEMENT_TIMEOUT": f"{options.statement_timeout:g}",
        "MASTHEAD_RESPONSE_CACHE": "true" if cache else "false",
    }
    if target == MASTHEAD_MISSES:  # every answer bigger than an eighth of this: none kept
        environment["MASTHEAD_RESPONSE_CACHE_MAX_BYTES"] = "8"
    return environment


def _serve(
    options: _Options,
    section: Section,
    database: Database,
    target: str,
    workers: int,
    requests: _Requests,
    plan: Path,
    logs: Path,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/graphql"
    # Masthead runs where no .env file is, as the captured app did (settings from here only).
    with Server(
        _command(target, port, workers, plan),
        cpus=options.server_cpus,
        environment=_environment(options, database.url, target),
        log=logs / f"{target.replace(', ', '-')}-{section.size}-{database.kind}-{workers}w.log",
        cwd=_ROOT if target == CEILING else logs,
    ) as server:
        server.wait_ready(url.replace("/graphql", "/readyz"), workers=workers)
        for name in options.operations:
            _say(f"{section.size} {database.kind} {workers}w {target} {name}")
            if requests.fill is not None:
                _fill(url.removesuffix("/graphql"), requests.fill[name], workers=workers)
            run_wrk(
                url,
                (requests.warmup or requests.files)[name],
                method=requests.method,
                seconds=options.warmup,
                connections=options.connections,
                cpus=options.load_cpus,
            )
            with ProcessWatch(server) as watch:
                result = run_wrk(
                    url,
                    requests.files[name],
                    method=requests.method,
                    seconds=options.duration,
                    connections=options.connections,
                    cpus=options.load_cpus,
                )
            section.cells.append(
                Cell(
                    workers=workers,
                    target=target,
                    operation=name,
                    wrk=result,
                    cpu_ms_per_request=1000 * watch.cpu_seconds / max(result.requests, 1),
                    worker_rss_mb=watch.worker_peak_mb,
                    statements=None if target != MASTHEAD else section.statements[name],
                    load=os.getloadavg()[0],
                )
            )
            _say(
                f"  {result.rate:,.0f} req/s, p50 {result.p50_ms:.1f} ms, "
                f"p99 {result.p99_ms:.1f} ms, {result.errors} errors"
            )


def _write(run: Run, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(run))


def main(argv: Sequence[str] | None = None) -> int:
    options = _options(argv)
    require_wrk()
    options.work.mkdir(parents=True, exist_ok=True)
    run = Run(
        command=options.command,
        started=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        commit=_commit(),
        machine=_machine(options),
        method=_method(options),
    )
    if not _HAS_RESPONSE_CACHE:
        run.notes.append("No cached rows: this Masthead has no response cache.")
    wait_budget = options.wait_max
    for size in options.sizes:
        for kind in options.databases:
            try:
                database = _database(options, size, kind)
                plan = options.work / f"plan-{size}-{kind}.json"
                section, found = asyncio.run(_prepare(options, size, database, plan))
            except (DatabaseError, PlanError) as error:
                print(f"bench: {size} {kind}: {error}", file=sys.stderr)
                return 1
            logs = options.work / "logs"
            logs.mkdir(exist_ok=True)
            requests = _request_files(options, found, options.work)
            # The runner samples /proc while measuring: it stays off the servers' CPUs.
            os.sched_setaffinity(0, _cpus(options.load_cpus))
            section.waited_s = _wait_for_quiet(options, wait_budget)
            wait_budget -= section.waited_s
            section.load_before = os.getloadavg()
            if options.wait_load > 0 and section.load_before[0] >= options.wait_load:
                run.notes.append(
                    f"{size} {kind}: measured with a load average of {section.load_before[0]:.2f}"
                    f" (not below {options.wait_load:g} within the wait): other work shared "
                    "the CPUs, so the numbers are noisier than on a quiet machine."
                )
            run.sections.append(section)
            targets = [MASTHEAD, CEILING]
            if options.cached:
                targets += [MASTHEAD_CACHED, MASTHEAD_GET, MASTHEAD_MISSES]
            for workers in options.workers:
                for target in targets:
                    _serve(options, section, database, target, workers, requests[target],
                           plan, logs)  # fmt: skip
            os.sched_setaffinity(0, range(os.cpu_count() or 1))
            _write(run, options.out)
    run.load_after = os.getloadavg()
    _write(run, options.out)
    _say(f"report: {options.out}")
    return 0


def _cpus(spec: str) -> set[int]:
    found: set[int] = set()
    for part in spec.split(","):
        low, _, high = part.partition("-")
        found.update(range(int(low), int(high or low) + 1))
    return found


if __name__ == "__main__":
    raise SystemExit(main())
