"""Masthead's own cache of anonymous GET answers: a hit skips GraphQL entirely.

An answer is kept under the hash of its document (a persisted query's hash, or the SHA-256
of the query text), its operation name and variables as sent, the media type asked for
(``application/graphql-response+json`` or JSON) and whether it was gzipped: everything that
changes the bytes of an anonymous answer. Kept with it: its media headers, its cost, the cache
tags it was computed from (``resolvers.cache_tags``), the invalidation stamp read before it
was computed and the next scheduled publish (``masthead.http_caching.AnswerBasis``).

A kept answer is served while all of these hold, checked on every hit:

- the next scheduled publish has not come (the answer may have changed by itself then);
- it is younger than ``MASTHEAD_RESPONSE_CACHE_TTL``;
- no write has made one of its tags stale since its stamp, as the invalidation log in the
  primary database says (``resolvers.cache_invalidations``), which every write updates in
  its own transaction. Hits read the log's sequence number, one read shared by the hits
  waiting at once (:class:`SharedRead`, each given a read begun after it arrived): while it
  equals the answer's stamp nothing changed. Past it, one indexed read of the answer's
  tags says whether it is still right, and if so it is stamped anew with that number.

So once a write is acknowledged, no process serves an answer it changed: its invalidation
was committed with it, and every hit, in any process, reads the log after it arrives. A hit
spends the answer's cost of the client's rate-limit budget, as running it would (a client
over its budget is answered by GraphQL: ``429``), and :class:`~masthead.http_caching.HttpCaching`
gives it its ``ETag``, ``304`` and lifetimes like any shared answer.

Answers are kept in each process (the least recently used dropped first, within
``MASTHEAD_RESPONSE_CACHE_MAX_BYTES``) and, with ``MASTHEAD_REDIS_URL``, in Redis too, so that
an answer computed by one process is served by all. Redis holds answers, never what makes
them right: one that cannot be reached costs hits, never correctness.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

import orjson
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import MutableHeaders, QueryParams
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db.dialects import database_of
from db.failures import database_failure, once_more_if_stale
from db.models import utcnow
from masthead.graphql_http import GRAPHQL_RESPONSE
from masthead.http_caching import Lifetimes, SharedAnswer, entity_tag, shared_answer, validated
from masthead.persisted_queries import query_hash
from masthead.rate_limits import ClientBudget, RateLimits
from masthead.redis_pool import connection_pool
from masthead.settings import Settings
from resolvers.cache_invalidations import current_sequence, still_valid, tag_keys

__all__ = [
    "AnswerCache",
    "AnswerStore",
    "CacheHits",
    "CachedAnswer",
    "InProcessAnswers",
    "RedisAnswers",
    "ResponseCache",
    "answer_store",
    "request_key",
]

logger = logging.getLogger("masthead.response_cache")

# What a kept answer keeps of its headers; the rest is the request's own (RateLimit-*) or
# set by the layers outside (Cache-Control, ETag, Content-Length, CORS).
_KEPT_HEADERS = frozenset({b"content-type", b"content-encoding", b"vary"})
_STATUS_HEADER = "Masthead-Cache"
_HIT = (b"masthead-cache", b"hit")
# An answer showing more than this many nodes and lists is not kept: checking it would cost
# a read of as many keys (and SQLite binds at most 32,766 values).
_MAX_KEYS = 5_000
_SHA256_HEX = frozenset("0123456789abcdef")
# Requests whose keys are remembered (:class:`RequestKeys`), and the longest query string
# remembered: a persisted query's hash with its variables is a few hundred bytes.
_REMEMBERED_KEYS = 4_096
_REMEMBERED_QUERY_BYTES = 1_024
# What CacheHits answers: anonymous GETs of this path, without these headers.
_PATH = "/graphql"
_NOT_HERE = frozenset({b"authorization", b"origin"})
# In a request's scope: the key CacheHits looked for and could not answer.
_LOOKED_UP = "masthead.response_cache.looked_up"


@dataclass(frozen=True)
class CachedAnswer:
    """One kept answer: its bytes and what decides whether it is still right."""

    stamp: int
    keys: tuple[int, ...]  # its tags' keys in the invalidation log
    named: tuple[str, ...] | None  # the tags its headers name (None: too many)
    changes_at: datetime | None
    expires_at: float  # time.time() past which it is not served
    cost: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes

    @functools.cached_property
    def etag(self) -> str:
        """Its ``ETag``, as :class:`~masthead.http_caching.HttpCaching` gives it: computed
        once for all its hits."""
        headers = dict(self.headers)
        return entity_tag(
            headers.get(b"content-type", b""), headers.get(b"content-encoding", b""), self.body
        )

    @property
    def size(self) -> int:
        """About the bytes it holds in memory."""
        headers = sum(len(name) + len(value) for name, value in self.headers)
        named = sum(len(tag) for tag in self.named or ())
        return len(self.body) + headers + named + 8 * len(self.keys) + 200

    def fresh(self, *, now: datetime, clock: float) -> bool:
        """Not expired, and no scheduled publish has come since it was computed."""
        return clock < self.expires_at and (self.changes_at is None or now < self.changes_at)

    def dumps(self) -> bytes:
        meta = {
            "stamp": self.stamp,
            "keys": self.keys,
            "named": self.named,
            "changes_at": self.changes_at,
            "expires_at": self.expires_at,
            "cost": self.cost,
            "headers": [
                [name.decode("latin-1"), value.decode("latin-1")] for name, value in self.headers
            ],
        }
        return orjson.dumps(meta) + b"\n" + self.body

    @classmethod
    def loads(cls, data: bytes) -> CachedAnswer:
        meta_text, _, body = data.partition(b"\n")
        meta: dict[str, Any] = orjson.loads(meta_text)
        changes_at = meta["changes_at"]
        named = meta["named"]
        return cls(
            stamp=int(meta["stamp"]),
            keys=tuple(int(key) for key in meta["keys"]),
            named=tuple(named) if named is not None else None,
            changes_at=datetime.fromisoformat(changes_at) if changes_at else None,
            expires_at=float(meta["expires_at"]),
            cost=int(meta["cost"]),
            headers=tuple(
                (name.encode("latin-1"), value.encode("latin-1")) for name, value in meta["headers"]
            ),
            body=body,
        )


class AnswerStore(Protocol):
    """Where kept answers are, by key."""

    async def find(self, key: str) -> CachedAnswer | None:
        """The answer kept under ``key``, or None."""

    async def keep(self, key: str, answer: CachedAnswer) -> None:
        """Keep ``answer`` under ``key``."""

    async def forget(self, key: str) -> None:
        """Drop what this process keeps under ``key`` (found stale)."""

    async def close(self) -> None:
        """Release what the store holds open."""


class InProcessAnswers:
    """This process's least recently used answers, within ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._answers: OrderedDict[str, CachedAnswer] = OrderedDict()

    def __len__(self) -> int:
        return len(self._answers)

    @property
    def bytes(self) -> int:
        return self._bytes

    async def find(self, key: str) -> CachedAnswer | None:
        answer = self._answers.get(key)
        if answer is not None:
            self._answers.move_to_end(key)
        return answer

    async def keep(self, key: str, answer: CachedAnswer) -> None:
        if answer.size > self._max_bytes // 8:
            return  # one answer may not crowd out the others
        await self.forget(key)
        self._answers[key] = answer
        self._bytes += answer.size
        while self._bytes > self._max_bytes:
            _, dropped = self._answers.popitem(last=False)
            self._bytes -= dropped.size

    async def forget(self, key: str) -> None:
        dropped = self._answers.pop(key, None)
        if dropped is not None:
            self._bytes -= dropped.size

    async def close(self) -> None:
        self._answers.clear()
        self._bytes = 0


class RedisAnswers:
    """Answers in Redis, shared by every process, with this process's own
    :class:`InProcessAnswers` in front. Each expires in Redis when it would stop being
    served; a stale one is left there for the next answer to write over."""

    def __init__(self, url: str, *, prefix: str, max_bytes: int) -> None:
        self._local = InProcessAnswers(max_bytes)
        self._pool = connection_pool(url)
        self._redis = Redis(connection_pool=self._pool)
        self._prefix = prefix

    async def find(self, key: str) -> CachedAnswer | None:
        answer = await self._local.find(key)
        if answer is not None:
            return answer
        try:
            data = await self._redis.get(self._prefix + key)
        except Exception as error:  # Redis is away: this process's own answers must do
            _redis_away(error)
            return None
        if not isinstance(data, bytes):
            return None
        try:
            answer = CachedAnswer.loads(data)
        except (ValueError, KeyError, TypeError):  # written by another version: a miss
            return None
        await self._local.keep(key, answer)
        return answer

    async def keep(self, key: str, answer: CachedAnswer) -> None:
        await self._local.keep(key, answer)
        milliseconds = int((answer.expires_at - time.time()) * 1000)
        if milliseconds <= 0:
            return
        try:
            await self._redis.set(self._prefix + key, answer.dumps(), px=milliseconds)
        except Exception as error:  # Redis is away: kept in this process only
            _redis_away(error)

    async def forget(self, key: str) -> None:
        await self._local.forget(key)

    async def close(self) -> None:
        await self._local.close()
        await self._redis.aclose()
        await self._pool.aclose()


def _redis_away(error: Exception) -> None:
    logger.warning(
        "response cache: Redis not reached (%s); this process serves what it keeps itself",
        error,
    )


def _fingerprint(settings: Settings, sdl: str) -> str:
    """What else decides an answer's bytes: the schema, the database, the caps in
    ``extensions.cost``. Processes differing in any of these share nothing in Redis."""
    parts = [
        sdl,
        settings.database_url,
        *(
            str(getattr(settings, name))
            for name in (
                "introspection",
                "max_query_cost",
                "max_query_depth",
                "max_query_aliases",
                "max_query_tokens",
                "max_query_fields",
                "cache_tags_max_bytes",
            )
        ),
    ]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


def answer_store(settings: Settings, *, sdl: str) -> AnswerStore:
    """The store the settings ask for: in Redis too when ``MASTHEAD_REDIS_URL`` is set."""
    max_bytes = settings.response_cache_max_bytes
    if settings.redis_url:
        prefix = f"{settings.redis_namespace}:response-cache:{_fingerprint(settings, sdl)}:"
        return RedisAnswers(settings.redis_url, prefix=prefix, max_bytes=max_bytes)
    return InProcessAnswers(max_bytes)


def _document_hash(params: QueryParams) -> str | None:
    """The hash of the document a GET asks for; None when it asks for none, or for one in a
    way only GraphQL can judge (other extensions, a hash that is not its query's)."""
    query = params.get("query")
    extensions = params.get("extensions")
    if extensions is None:
        return query_hash(query) if query is not None else None
    try:
        found = orjson.loads(extensions)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(found, dict) or set(found) != {"persistedQuery"}:
        return None
    persisted = found["persistedQuery"]
    sha256 = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
    if not isinstance(sha256, str) or len(sha256) != 64 or not set(sha256) <= _SHA256_HEX:
        return None
    if persisted.get("version") != 1 or (query is not None and query_hash(query) != sha256):
        return None
    return sha256


def _negotiated(scope: Scope) -> tuple[str, str]:
    """The request's ``Accept`` and ``Accept-Encoding`` (the first of each, as Starlette's
    ``Headers.get`` gives them to GraphQL and to compression; empty when absent)."""
    accept = encoding = None
    for name, value in scope["headers"]:
        if name == b"accept" and accept is None:
            accept = value
        elif name == b"accept-encoding" and encoding is None:
            encoding = value
    return (accept or b"").decode("latin-1"), (encoding or b"").decode("latin-1")


def request_key(scope: Scope) -> str | None:
    """The key of the answer an anonymous GET asks for, or None if it cannot be kept."""
    accept, encoding = _negotiated(scope)
    return _key(scope["query_string"], accept, encoding)


def _key(query_string: bytes, accept: str, encoding: str) -> str | None:
    params = QueryParams(query_string.decode("latin-1"))
    document = _document_hash(params)
    if document is None:
        return None
    if "multipart/mixed" in accept or "text/event-stream" in accept:
        return None  # streamed, not one answer
    parts = (
        document,
        params.get("operationName") or "",
        params.get("variables") or "",
        "graphql-response" if GRAPHQL_RESPONSE in accept else "json",
        # As Starlette's GZipMiddleware decides it.
        "gzip" if "gzip" in encoding else "identity",
    )
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


class RequestKeys:
    """:func:`request_key`, remembered for the requests seen most recently: the same GET
    asked again (what a cache hit is) costs a dictionary lookup, not a parse and a hash."""

    def __init__(self, size: int = _REMEMBERED_KEYS) -> None:
        self._size = size
        self._keys: dict[tuple[bytes, str, str], str | None] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def __call__(self, scope: Scope) -> str | None:
        query_string: bytes = scope["query_string"]
        accept, encoding = _negotiated(scope)
        if len(query_string) > _REMEMBERED_QUERY_BYTES:
            return _key(query_string, accept, encoding)
        remembered = (query_string, accept, encoding)
        try:
            return self._keys[remembered]
        except KeyError:
            pass
        key = self._keys[remembered] = _key(query_string, accept, encoding)
        if len(self._keys) > self._size:
            del self._keys[next(iter(self._keys))]  # the one remembered longest ago
        return key


class AnswerCache:
    """This process's way to the kept answers: finding one still right, spending its cost,
    keeping new ones. Shared by :class:`CacheHits` (before the app's other layers) and
    :class:`ResponseCache` (in the ``/graphql`` route)."""

    def __init__(
        self,
        *,
        store: AnswerStore,
        engine: AsyncEngine,
        rate_limits: RateLimits | None,
        ttl: int,
        lifetimes: Lifetimes,
    ) -> None:
        self._store = store
        # The primary's: the log is read where writes commit, never behind on a replica.
        # One statement a read, each on its own (no BEGIN and ROLLBACK around it), on a
        # connection rather than a session: a hit's read costs little Python.
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        # The sequence, read by every hit: as cheaply as the database allows.
        reader = database_of(engine).scalar_reader(engine)
        self._rate_limits = rate_limits
        self._ttl = ttl
        self.lifetimes = lifetimes
        self.keys = RequestKeys()

        async def sequence() -> int:
            return await current_sequence(reader)

        self._sequence = SharedRead(lambda: once_more_if_stale(sequence))

    async def find(self, key: str) -> CachedAnswer | None:
        """The answer kept under ``key`` if it is still right (see the module)."""
        stale: CachedAnswer | None = None
        # Twice: this process's copy found stale, Redis may hold a newer one.
        for _ in range(2):
            kept = await self._store.find(key)
            if kept is None or kept == stale:
                return None
            right = (
                await self._valid(key, kept)
                if kept.fresh(now=utcnow(), clock=time.time())
                else None
            )
            if right is not None:
                return right
            await self._store.forget(key)
            stale = kept
        return None

    async def spend(self, kept: CachedAnswer, scope: Scope) -> list[tuple[bytes, bytes]] | None:
        """The headers of a hit of ``kept`` once the client has spent its cost (its
        ``RateLimit-*`` among them), or None if the client's budget does not cover it."""
        headers = [*kept.headers, _HIT]
        if self._rate_limits is not None:
            budget = ClientBudget.of(self._rate_limits, HTTPConnection(scope))
            allowance = await budget.spend(kept.cost)
            if not allowance.allowed:
                return None  # GraphQL answers it: 429, with what is left
            headers += [
                (b"ratelimit-limit", b"%d" % allowance.limit),
                (b"ratelimit-remaining", b"%d" % allowance.remaining),
                (b"ratelimit-reset", b"%d" % allowance.reset_seconds),
            ]
        return headers

    async def _valid(self, key: str, kept: CachedAnswer) -> CachedAnswer | None:
        """``kept`` if it is still right (stamped anew when the log moved on without touching
        it), else None. Unknown (the database away) is None too: GraphQL answers, or says
        the database is away."""
        try:
            sequence = await self._sequence.read()
            if sequence == kept.stamp:
                return kept
            if sequence < kept.stamp:
                return None  # the log went back (a restored backup)

            async def read() -> int | None:
                async with self._engine.connect() as connection:
                    return await still_valid(connection, stamp=kept.stamp, keys=kept.keys)

            right_until = await once_more_if_stale(read)
        except Exception as error:
            if database_failure(error) is None:
                raise
            return None
        if right_until is None:
            return None
        # Right up to a later write: the next hits need only the sequence's number again.
        restamped = replace(kept, stamp=right_until)
        await self._store.keep(key, restamped)
        return restamped

    def keeping(self, key: str, answer: SharedAnswer, started: float, send: Send) -> Send:
        """``send``, keeping a copy of a shareable answer once it is whole."""
        headers: tuple[tuple[bytes, bytes], ...] | None = None
        body = bytearray()

        async def send_keeping(message: Message) -> None:
            nonlocal headers
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[_STATUS_HEADER] = "miss"
                # The view has settled the answer by the time it starts the response. Its
                # headers as they are now: the layers outside add theirs to the same list.
                if message["status"] == 200 and answer.shareable:
                    headers = tuple(
                        (name, value)
                        for name, value in message["headers"]
                        if name.lower() in _KEPT_HEADERS
                    )
            elif headers is not None and message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    await send(message)
                    await self._keep(key, answer, headers, bytes(body), started)
                    return
            await send(message)

        return send_keeping

    async def _keep(
        self,
        key: str,
        answer: SharedAnswer,
        headers: tuple[tuple[bytes, bytes], ...],
        body: bytes,
        started: float,
    ) -> None:
        if answer.basis is None:
            return
        keys = tag_keys(answer.tags)
        if len(keys) > _MAX_KEYS:
            return
        kept = CachedAnswer(
            stamp=answer.basis.stamp,
            keys=keys,
            named=answer.named,
            changes_at=answer.changes_at,
            expires_at=started + self._ttl,
            cost=answer.cost,
            headers=headers,
            body=body,
        )
        await self._store.keep(key, kept)


class CacheHits:
    """Hits answered before the app's other layers: an anonymous GET of ``/graphql``
    whose kept answer is still right gets it here, with the headers every layer it skips
    would have added (``masthead.http_caching``'s validators, lifetimes and tags; the
    ``Vary: Origin`` of CORS). Those layers (CORS, Starlette's exception handling and
    routing, the route's middleware) cost about a quarter of a hit's CPU
    (bench/results/response_cache.md).

    Requests carrying ``Origin`` go the whole way, so that CORS answers them as it does
    everything else, as do the ones it cannot answer: :class:`ResponseCache` then looks
    only if this did not."""

    def __init__(self, app: ASGIApp, *, cache: AnswerCache) -> None:
        self.app = app
        self._cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope["path"] != _PATH
            or scope.get("root_path")
        ):
            await self.app(scope, receive, send)
            return
        if_none_match = ""
        for name, value in scope["headers"]:
            if name in _NOT_HERE:
                await self.app(scope, receive, send)
                return
            if name == b"if-none-match":
                if_none_match = value.decode("latin-1")
        key = self._cache.keys(scope)
        if key is None:
            await self.app(scope, receive, send)
            return
        kept = await self._cache.find(key)
        headers = await self._cache.spend(kept, scope) if kept is not None else None
        if kept is None or headers is None:
            scope[_LOOKED_UP] = key
            await self.app(scope, receive, send)
            return
        status, headers, body = validated(
            self._cache.lifetimes,
            headers,
            kept.body,
            if_none_match,
            etag=kept.etag,
            named=kept.named,
            changes_at=kept.changes_at,
        )
        await send({"type": "http.response.start", "status": status, "headers": _vary(headers)})
        await send({"type": "http.response.body", "body": body})


def _vary(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` as Starlette's CORS middleware sends them for a request without
    ``Origin``: every ``Vary`` in one, the first's place, ``Origin`` added."""
    found = [index for index, (name, _) in enumerate(headers) if name == b"vary"]
    merged = (b"vary", b", ".join([*(headers[index][1] for index in found), b"Origin"]))
    if not found:
        return [*headers, merged]
    kept = [pair for index, pair in enumerate(headers) if index not in found[1:]]
    kept[found[0]] = merged
    return kept


class ResponseCache:
    """Answers anonymous GETs from the cache when :class:`CacheHits` did not look (see the
    module), and keeps the shareable answers GraphQL gives. Inside
    :class:`~masthead.http_caching.HttpCaching`, whose :class:`SharedAnswer` it fills on a
    hit, and outside compression, so that a kept answer is sent as it was, gzipped or not."""

    def __init__(self, app: ASGIApp, *, cache: AnswerCache) -> None:
        self.app = app
        self._cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer = shared_answer(scope) if scope["type"] == "http" else None
        key = self._cache.keys(scope) if answer is not None else None
        if answer is None or key is None:
            await self.app(scope, receive, send)
            return
        started = time.time()
        if scope.get(_LOOKED_UP) != key:
            kept = await self._cache.find(key)
            if kept is not None and await self._serve(kept, scope, answer, send):
                return
        await self.app(scope, receive, self._cache.keeping(key, answer, started, send))

    async def _serve(
        self, kept: CachedAnswer, scope: Scope, answer: SharedAnswer, send: Send
    ) -> bool:
        """Send ``kept`` (still right) if the client may spend its cost; else False."""
        headers = await self._cache.spend(kept, scope)
        if headers is None:
            return False
        answer.shareable = True
        answer.changes_at = kept.changes_at
        answer.named = kept.named
        answer.cost = kept.cost
        answer.etag = kept.etag
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": kept.body})
        return True


class SharedRead:
    """A value read from the database for every caller waiting at once: each caller gets a
    read that began after it asked (so it sees every write committed before), and callers
    arriving together share one. Under load a cache hit thus costs a fraction of a read.
    """

    def __init__(self, read: Callable[[], Awaitable[int]]) -> None:
        self._read = read
        # What callers since the read in flight began will get: the next read.
        self._next: asyncio.Future[int] | None = None
        self._reading = False

    async def read(self) -> int:
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
            if not self._reading:
                self._reading = True
                task = asyncio.create_task(self._run())
                _RUNNING.add(task)
                task.add_done_callback(_RUNNING.discard)
        # Shielded: one caller going away does not cancel the read the others wait for.
        return await asyncio.shield(self._next)

    async def _run(self) -> None:
        try:
            while self._next is not None:
                future, self._next = self._next, None
                try:
                    future.set_result(await self._read())
                except Exception as error:
                    future.set_exception(error)
                    future.exception()  # retrieved: callers that left need not see it
        finally:
            self._reading = False


# Reads running, held until done (the event loop keeps only weak references to tasks).
_RUNNING: set[asyncio.Task[None]] = set()
