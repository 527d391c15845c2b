"""The ``masthead`` command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TypeVar

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from masthead.settings import Settings

if TYPE_CHECKING:
    from db.models import Webhook
    from resolvers.events.webhooks import DeliveryRow
    from resolvers.transaction import Actor

__all__ = ["main"]

_Result = TypeVar("_Result")


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from masthead.server import server_options

    uvicorn.run(
        "masthead.app:create_served_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers or settings.workers,
        log_level="info",
        **server_options(settings),
    )
    return 0


def _db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from db.migration import upgrade

    upgrade(settings.database_url, args.revision)
    print(f"database at revision {args.revision}", file=sys.stderr)
    return 0


def _schema(_args: argparse.Namespace, _settings: Settings) -> int:
    from schema.schema import schema

    sys.stdout.write(schema.as_str() + "\n")
    return 0


async def _with_database(
    settings: Settings,
    work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[_Result]],
) -> _Result:
    from db.engine import create_engine, create_sessionmaker

    engine = create_engine(settings.database_url)
    try:
        return await work(create_sessionmaker(engine))
    finally:
        await engine.dispose()


async def _all_answers_stale(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Content changed behind the API (an import, the demo, a hand edit): no cached answer,
    in any process, is served again (``resolvers.cache_invalidations``)."""
    from db.models import utcnow
    from resolvers.cache_invalidations import record
    from resolvers.cache_tags import Staleness

    async with sessionmaker.begin() as session:
        await record(session, Staleness.everything(), now=utcnow())


def _batch_size(value: str) -> int:
    from masthead.corpus.importer import MAX_BATCH_SIZE

    size = int(value)
    if not 1 <= size <= MAX_BATCH_SIZE:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_BATCH_SIZE}")
    return size


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from masthead.corpus.importer import CorpusError, ImportResult, import_corpus

    with contextlib.ExitStack() as stack:
        stream: BinaryIO = sys.stdin.buffer
        total: int | None = None
        if args.file != "-":
            try:
                stream = stack.enter_context(open(args.file, "rb"))
            except OSError as error:
                print(f"masthead import: {error}", file=sys.stderr)
                return 1
            total = os.fstat(stream.fileno()).st_size
        progress = stack.enter_context(
            tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr)
        )
        started = time.monotonic()

        def written(articles: int) -> None:
            # The bar runs over the file's bytes (so it can tell the time left); beside it,
            # the articles written and how fast.
            rate = articles / max(time.monotonic() - started, 1e-6)
            progress.set_postfix_str(f"{articles:,} articles, {rate:,.0f} articles/s")

        def lines() -> Iterator[str]:
            # Bytes, not characters, so the bar's total is the file's size.
            for number, raw in enumerate(stream, start=1):
                progress.update(len(raw))
                try:
                    yield raw.decode("utf-8")
                except UnicodeDecodeError as error:
                    raise CorpusError(number, f"not UTF-8: {error}") from None

        async def imported(sessionmaker: async_sessionmaker[AsyncSession]) -> ImportResult:
            result = await import_corpus(
                sessionmaker, lines(), batch_size=args.batch_size, on_progress=written
            )
            await _all_answers_stale(sessionmaker)
            return result

        try:
            result = asyncio.run(_with_database(settings, imported))
        except CorpusError as error:
            progress.close()
            print(error, file=sys.stderr)
            return 1
    print(
        f"imported {result.authors} authors, {result.categories} categories, {result.tags} tags,"
        f" {result.articles} articles ({result.changed} records new or changed)",
        file=sys.stderr,
    )
    return 0


def _export(args: argparse.Namespace, settings: Settings) -> int:
    from masthead.corpus.exporter import export_corpus

    if args.file == "-":
        out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n")
        try:
            count = asyncio.run(
                _with_database(settings, lambda sessionmaker: export_corpus(sessionmaker, out))
            )
            out.flush()
        except BrokenPipeError:
            # The reader went away (``| head``): stop quietly, as other Unix tools do; what is
            # still buffered goes to /dev/null instead of raising again at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
        finally:
            out.detach()  # sys.stdout still owns the buffer
    else:
        # Written beside the target and renamed, so a failed export leaves no half file.
        target = Path(args.file)
        partial = target.with_name(target.name + ".partial")
        try:
            with partial.open("w", encoding="utf-8", newline="\n") as file:
                count = asyncio.run(
                    _with_database(settings, lambda sessionmaker: export_corpus(sessionmaker, file))
                )
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
    print(f"exported {count} records", file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from masthead.corpus.demo import load_demo
    from masthead.corpus.importer import CorpusError

    async def demo(sessionmaker: async_sessionmaker[AsyncSession]) -> bool:
        loaded = await load_demo(sessionmaker, if_empty=args.if_empty)
        if loaded:
            await _all_answers_stale(sessionmaker)
        return loaded

    try:
        loaded = asyncio.run(_with_database(settings, demo))
    except CorpusError as error:
        print(f"demo content: {error}", file=sys.stderr)
        return 1
    if loaded:
        print("demo content loaded", file=sys.stderr)
    else:
        print("the database already has articles: demo content not loaded", file=sys.stderr)
    return 0


def _cache_clear(_args: argparse.Namespace, settings: Settings) -> int:
    asyncio.run(_with_database(settings, _all_answers_stale))
    print("every cached answer is stale, in every process", file=sys.stderr)
    return 0


def _token_create(args: argparse.Namespace, settings: Settings) -> int:
    from resolvers.access.tokens import TokenError, create_token
    from resolvers.access.viewer import Role

    async def create(sessionmaker: async_sessionmaker[AsyncSession]) -> str:
        async with sessionmaker.begin() as session:
            return await create_token(
                session, name=args.name, role=Role(args.role), author_slug=args.author
            )

    try:
        secret = asyncio.run(_with_database(settings, create))
    except TokenError as error:
        print(f"masthead token create: {error}", file=sys.stderr)
        return 1
    print(
        f"created {args.role} token {args.name!r}; only its hash is kept, so store it now:",
        file=sys.stderr,
        flush=True,
    )
    print(secret, flush=True)
    return 0


def _token_list(_args: argparse.Namespace, settings: Settings) -> int:
    from resolvers.access.tokens import TokenSummary, list_tokens

    async def summaries(sessionmaker: async_sessionmaker[AsyncSession]) -> list[TokenSummary]:
        async with sessionmaker() as session:
            return await list_tokens(session)

    rows = [("NAME", "ROLE", "AUTHOR", "CREATED (UTC)", "LAST USED (UTC)")]
    for token in asyncio.run(_with_database(settings, summaries)):
        last_used = token.last_used_at
        rows.append(
            (
                token.name,
                token.role.value,
                token.author_slug or "-",
                token.created_at.isoformat(" ", "seconds"),
                last_used.isoformat(" ", "seconds") if last_used else "never",
            )
        )
    _print_table(rows)
    return 0


def _token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from resolvers.access.tokens import revoke_token

    async def revoke(sessionmaker: async_sessionmaker[AsyncSession]) -> bool:
        async with sessionmaker.begin() as session:
            return await revoke_token(session, args.name)

    if not asyncio.run(_with_database(settings, revoke)):
        print(f"masthead token revoke: no token named {args.name!r}", file=sys.stderr)
        return 1
    print(f"revoked token {args.name!r}", file=sys.stderr)
    return 0


def _worker(_args: argparse.Namespace, settings: Settings) -> int:
    import signal

    from masthead.event_worker import running_worker

    async def work(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, stopping.set)
        async with running_worker(settings, sessionmaker):
            await stopping.wait()

    print("worker delivering webhooks (Ctrl-C stops it)", file=sys.stderr, flush=True)
    asyncio.run(_with_database(settings, work))
    return 0


def _print_table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())


def _admin() -> Actor:
    from db.models import utcnow
    from resolvers.access.viewer import Role, Viewer
    from resolvers.transaction import Actor

    return Actor(Viewer(role=Role.ADMIN), utcnow())


def _webhook_write(
    settings: Settings, write: Callable[..., Awaitable[_Result]], **kwargs: object
) -> _Result | None:
    """Run a webhook write as an admin; prints the refusal and returns None if refused."""
    from resolvers.transaction import in_one_transaction

    actor = _admin()

    async def run(sessionmaker: async_sessionmaker[AsyncSession]) -> _Result | None:
        outcome = await in_one_transaction(
            sessionmaker, lambda session: write(session, actor, **kwargs)
        )
        for error in outcome.errors:
            print(f"masthead webhook: {error.message}", file=sys.stderr)
        return outcome.value

    return asyncio.run(_with_database(settings, run))


def _event_list(value: str) -> list[object]:
    from resolvers.events.types import EventType

    try:
        return [EventType.named(name.strip().upper()) for name in value.split(",") if name.strip()]
    except KeyError as error:
        names = ", ".join(event.name for event in EventType)
        raise argparse.ArgumentTypeError(f"unknown event type {error}; known: {names}") from None


def _webhook_add(args: argparse.Namespace, settings: Settings) -> int:
    from masthead.event_worker import url_policy
    from resolvers.events import webhooks
    from resolvers.global_ids import encode_global_id

    fields = webhooks.WebhookFields(url=args.url, events=args.events, active=True)
    created = _webhook_write(
        settings, webhooks.create_webhook, fields=fields, policy=url_policy(settings)
    )
    if created is None:
        return 1
    webhook_id = encode_global_id("Webhook", created.webhook.id)
    print(
        f"created webhook {webhook_id} for {args.url}; its signing secret is shown only now:",
        file=sys.stderr,
        flush=True,
    )
    print(created.secret, flush=True)
    return 0


def _webhook_list(_args: argparse.Namespace, settings: Settings) -> int:
    from resolvers.access.viewer import Role, Viewer
    from resolvers.events import webhooks
    from resolvers.global_ids import encode_global_id

    async def listed(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Webhook]:
        async with sessionmaker() as session:
            return list(await webhooks.list_webhooks(session, Viewer(role=Role.ADMIN)))

    rows = [("ID", "URL", "EVENTS", "ACTIVE", "CREATED (UTC)")]
    for webhook in asyncio.run(_with_database(settings, listed)):
        rows.append(
            (
                encode_global_id("Webhook", webhook.id),
                webhook.url,
                ",".join(event.name for event in webhooks.event_types(webhook)),
                "yes" if webhook.active else "no",
                webhook.created_at.isoformat(" ", "seconds"),
            )
        )
    _print_table(rows)
    return 0


def _webhook_remove(args: argparse.Namespace, settings: Settings) -> int:
    from resolvers.events import webhooks

    if _webhook_write(settings, webhooks.delete_webhook, webhook_id=args.id) is None:
        return 1
    print(f"removed webhook {args.id} and its deliveries", file=sys.stderr)
    return 0


def _webhook_deliveries(args: argparse.Namespace, settings: Settings) -> int:
    from db.models import DeliveryStatus
    from resolvers.events import webhooks
    from resolvers.global_ids import encode_global_id

    status = DeliveryStatus(args.status.upper()) if args.status else None

    async def listed(
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> list[tuple[DeliveryRow, str]]:
        async with sessionmaker() as session:
            return list(await webhooks.list_deliveries(session, status=status, limit=args.limit))

    rows = [("ID", "EVENT", "TYPE", "STATUS", "ATTEMPTS", "HTTP", "NEXT (UTC)", "URL", "ERROR")]
    for row, url in asyncio.run(_with_database(settings, listed)):
        delivery = row.delivery
        next_at = delivery.next_attempt_at
        rows.append(
            (
                encode_global_id("WebhookDelivery", delivery.id),
                row.event_id,
                row.event_type.value,
                delivery.status,
                str(delivery.attempts),
                str(delivery.response_status or "-"),
                next_at.isoformat(" ", "seconds") if next_at else "-",
                url,
                delivery.error or "",
            )
        )
    _print_table(rows)
    return 0


def _webhook_redeliver(args: argparse.Namespace, settings: Settings) -> int:
    from resolvers.events import webhooks
    from resolvers.global_ids import encode_global_id

    again = _webhook_write(settings, webhooks.redeliver, delivery_id=args.delivery_id)
    if again is None:
        return 1
    new_id = encode_global_id("WebhookDelivery", again.id)
    print(f"queued delivery {new_id}, the same event again", file=sys.stderr)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="masthead", description="Masthead content backend")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve GraphiQL and the API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.set_defaults(run=_serve)

    database = commands.add_parser("db", help="database schema")
    db_commands = database.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser("upgrade", help="apply the Alembic migrations")
    upgrade.add_argument("revision", nargs="?", default="head")
    upgrade.set_defaults(run=_db_upgrade)

    corpus_import = commands.add_parser(
        "import", help="import a JSON Lines corpus (idempotent by key, one transaction)"
    )
    corpus_import.add_argument("file", metavar="FILE.jsonl", help="the corpus, or - for stdin")
    corpus_import.add_argument(
        "--batch-size", type=_batch_size, default=1000, help="rows written per statement"
    )
    corpus_import.set_defaults(run=_import)

    corpus_export = commands.add_parser("export", help="export the content as a JSON Lines corpus")
    corpus_export.add_argument("file", metavar="FILE.jsonl", help="where to write, or - for stdout")
    corpus_export.set_defaults(run=_export)

    demo = commands.add_parser("demo", help="load the demo content")
    demo.add_argument(
        "--if-empty", action="store_true", help="only when the database has no articles yet"
    )
    demo.set_defaults(run=_demo)

    cache = commands.add_parser("cache", help="the cache of answers")
    cache_commands = cache.add_subparsers(dest="cache_command", required=True)
    cache_clear = cache_commands.add_parser(
        "clear", help="drop every cached answer (after writing to the database by hand)"
    )
    cache_clear.set_defaults(run=_cache_clear)

    token = commands.add_parser("token", help="API tokens for writing")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    token_create = token_commands.add_parser(
        "create", help="create a token; it is printed once, alone on the last line"
    )
    token_create.add_argument("--name", required=True, help="unique name, to list and revoke it")
    token_create.add_argument("--role", required=True, choices=["admin", "editor", "writer"])
    token_create.add_argument("--author", metavar="SLUG", help="the author a writer writes as")
    token_create.set_defaults(run=_token_create)
    token_list = token_commands.add_parser("list", help="list tokens (never their secrets)")
    token_list.set_defaults(run=_token_list)
    token_revoke = token_commands.add_parser("revoke", help="revoke a token at once")
    token_revoke.add_argument("name")
    token_revoke.set_defaults(run=_token_revoke)

    worker = commands.add_parser(
        "worker", help="deliver webhooks, alone (masthead serve also does, unless told not to)"
    )
    worker.set_defaults(run=_worker)

    webhook = commands.add_parser("webhook", help="webhooks: where events are sent")
    webhook_commands = webhook.add_subparsers(dest="webhook_command", required=True)
    webhook_add = webhook_commands.add_parser(
        "add", help="add a webhook; its secret is printed once, alone on the last line"
    )
    webhook_add.add_argument("url", metavar="URL")
    webhook_add.add_argument(
        "--events",
        required=True,
        type=_event_list,
        metavar="E[,E...]",
        help="event types, e.g. ARTICLE_PUBLISHED,ARTICLE_UPDATED",
    )
    webhook_add.set_defaults(run=_webhook_add)
    webhook_list = webhook_commands.add_parser("list", help="list webhooks (never secrets)")
    webhook_list.set_defaults(run=_webhook_list)
    webhook_remove = webhook_commands.add_parser("remove", help="remove a webhook")
    webhook_remove.add_argument("id", metavar="ID")
    webhook_remove.set_defaults(run=_webhook_remove)
    webhook_deliveries = webhook_commands.add_parser(
        "deliveries", help="the newest deliveries of every webhook"
    )
    webhook_deliveries.add_argument(
        "--status", choices=["PENDING", "DELIVERED", "FAILED"], type=str.upper
    )
    webhook_deliveries.add_argument("--limit", type=int, default=50)
    webhook_deliveries.set_defaults(run=_webhook_deliveries)
    webhook_redeliver = webhook_commands.add_parser(
        "redeliver", help="send a delivery's event again (same event id)"
    )
    webhook_redeliver.add_argument("delivery_id", metavar="DELIVERY_ID")
    webhook_redeliver.set_defaults(run=_webhook_redeliver)

    schema = commands.add_parser("schema", help="print the GraphQL SDL")
    schema.set_defaults(run=_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        problems = "; ".join(problem["msg"] for problem in error.errors())
        print(f"masthead: invalid settings: {problems}", file=sys.stderr)
        return 2
    if args.run not in (_db_upgrade, _schema):
        problem = _unready_database(settings.database_url)
        if problem is not None:
            print(f"masthead: {problem}", file=sys.stderr)
            return 2
    code: int = args.run(args, settings)
    return code


def _unready_database(database_url: str) -> str | None:
    """One sentence on why the database cannot serve this command yet, or None."""
    from sqlalchemy.exc import SQLAlchemyError

    from db.migration import pending_migration

    try:
        pending = asyncio.run(pending_migration(database_url))
    except (OSError, SQLAlchemyError) as error:
        return f"cannot reach the database: {str(error).splitlines()[0]}"
    if pending is None:
        return None
    return f"{pending}: run `masthead db upgrade` first."


if __name__ == "__main__":
    raise SystemExit(main())
