"""Automatic persisted queries: Apollo's protocol, so that a CDN can cache short GET URLs.

A client sends ``extensions.persistedQuery = {"version": 1, "sha256Hash": ...}``, the
SHA-256 of its document in lowercase hex, instead of the document:

- a hash alone runs the document stored under it; an unknown one is answered (200) with
  Apollo's ``PersistedQueryNotFound`` error, coded ``PERSISTED_QUERY_NOT_FOUND``, and the
  client sends the document with its hash;
- a document with its hash runs, and is stored once it validates (what cannot run is not
  kept); a hash that is not the document's is refused (``BAD_USER_INPUT``).

Over GET the stored document must be a query like any other (a mutation is 405: the
``GraphQLStatus`` extension checks the document, wherever it came from).

:class:`PersistedQueries` is a schema extension that supplies the document before Strawberry
parses it. The store keeps :attr:`Settings.persisted_queries_max` documents, least recently
used dropped first: in process, or in Redis with ``MASTHEAD_REDIS_URL`` so that a document
registered through one process runs through every other. A hash names one document forever,
so each process also keeps what it found, and answers those without asking Redis. A Redis
that cannot be reached degrades to the process's own store: what this process registered
or found still runs, a hash it never saw is ``PersistedQueryNotFound``, and the client's
retry with the document registers it here.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from redis.asyncio import Redis
from strawberry.extensions import SchemaExtension

from masthead.graphql_http import refusal_status
from masthead.redis_pool import connection_pool
from masthead.settings import Settings
from resolvers.errors import BadUserInput, ClientError

__all__ = [
    "InProcessQueries",
    "PersistedQueries",
    "PersistedQueryNotFound",
    "QueryStore",
    "RedisQueries",
    "query_hash",
    "query_store",
]

logger = logging.getLogger("masthead.persisted_queries")

_VERSION = 1
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class PersistedQueryNotFound(ClientError):
    """The hash names no stored document: the client is to send the document with it.

    Apollo's message and code, which its clients look for, and a 200 (see ``GraphQLStatus``).
    """

    code = "PERSISTED_QUERY_NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("PersistedQueryNotFound")


def query_hash(document: str) -> str:
    """The hash a client sends for ``document``: SHA-256 of its UTF-8, in lowercase hex.

    ``surrogatepass``: a lone surrogate in the text (JSON can carry one) hashes to a value
    no client computes, so the document is refused rather than the request crashing.
    """
    return hashlib.sha256(document.encode("utf-8", "surrogatepass")).hexdigest()


class QueryStore(Protocol):
    """Where persisted documents are kept, by hash."""

    async def find(self, sha256: str) -> str | None:
        """The document stored under ``sha256``, or None."""

    async def keep(self, sha256: str, document: str) -> None:
        """Store ``document`` under its hash ``sha256``."""

    async def close(self) -> None:
        """Release what the store holds open."""


class InProcessQueries:
    """The least recently used documents of this process, at most ``max_documents``."""

    def __init__(self, max_documents: int) -> None:
        self._max = max_documents
        self._documents: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._documents)

    async def find(self, sha256: str) -> str | None:
        document = self._documents.get(sha256)
        if document is not None:
            self._documents.move_to_end(sha256)
        return document

    async def keep(self, sha256: str, document: str) -> None:
        self._documents[sha256] = document
        self._documents.move_to_end(sha256)
        while len(self._documents) > self._max:
            self._documents.popitem(last=False)

    async def close(self) -> None:
        self._documents.clear()


# Each script runs atomically in Redis: the documents (a hash), their last use (a sorted
# set scored by a counter, so that the order is exact whatever the processes' clocks say).
_FIND = """
local document = redis.call('HGET', KEYS[1], ARGV[1])
if document then
  redis.call('ZADD', KEYS[2], 'XX', redis.call('INCR', KEYS[3]), ARGV[1])
end
return document
"""
_KEEP = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if over > 0 then
  local dropped = redis.call('ZPOPMIN', KEYS[2], over)
  for i = 1, #dropped, 2 do
    redis.call('HDEL', KEYS[1], dropped[i])
  end
end
return over
"""


class RedisQueries:
    """The least recently used documents of every process, in Redis, and those this process
    found or registered in its own :class:`InProcessQueries` in front (a hash names one
    document forever, so what a process holds is never stale).

    Last use in Redis counts the lookups that reach it: a document every process holds is
    not touched there and may be dropped first, which costs a client one retry with the
    document in a process that restarts.
    """

    def __init__(self, url: str, *, namespace: str, max_documents: int) -> None:
        self._max = max_documents
        self._local = InProcessQueries(max_documents)
        self._pool = connection_pool(url)
        self._redis = Redis(connection_pool=self._pool)
        # One hash tag, so that Redis Cluster puts the three keys in one slot.
        prefix = f"{namespace}:{{persisted-queries}}"
        self._keys = [f"{prefix}:documents", f"{prefix}:last-use", f"{prefix}:clock"]
        self._find = self._redis.register_script(_FIND)
        self._keep = self._redis.register_script(_KEEP)

    @property
    def keys(self) -> list[str]:
        """The Redis keys the store uses."""
        return list(self._keys)

    async def find(self, sha256: str) -> str | None:
        document = await self._local.find(sha256)
        if document is not None:
            return document
        try:
            found: bytes | None = await self._find(keys=self._keys, args=[sha256])
        except Exception as error:  # Redis is away: this process's own store must do
            _redis_away(error)
            return None
        if found is None:
            return None
        document = found.decode("utf-8", "surrogatepass")
        await self._local.keep(sha256, document)
        return document

    async def keep(self, sha256: str, document: str) -> None:
        await self._local.keep(sha256, document)
        stored = document.encode("utf-8", "surrogatepass")
        try:
            await self._keep(keys=self._keys, args=[sha256, stored, self._max])
        except Exception as error:  # Redis is away: kept in this process only
            _redis_away(error)

    async def close(self) -> None:
        await self._local.close()
        await self._redis.aclose()
        await self._pool.aclose()


def _redis_away(error: Exception) -> None:
    logger.warning(
        "persisted queries: Redis not reached (%s); this process answers from its own "
        "store, and a hash it has not seen is PersistedQueryNotFound until its client "
        "sends the document",
        error,
    )


def query_store(settings: Settings) -> QueryStore:
    """The store the settings ask for: Redis when ``MASTHEAD_REDIS_URL`` is set."""
    if settings.redis_url:
        return RedisQueries(
            settings.redis_url,
            namespace=settings.redis_namespace,
            max_documents=settings.persisted_queries_max,
        )
    return InProcessQueries(settings.persisted_queries_max)


def _persisted_hash(extensions: Mapping[str, Any] | None) -> str | None:
    """The hash an operation's ``extensions`` name, or None when they name none."""
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict):
        raise BadUserInput(
            "`extensions.persistedQuery` must be an object: "
            '{"version": 1, "sha256Hash": "<SHA-256 of the query, lowercase hex>"}.'
        )
    version = persisted.get("version")
    if type(version) is not int or version != _VERSION:
        raise BadUserInput(
            "Unsupported persisted query version: `extensions.persistedQuery.version` "
            f"must be {_VERSION}."
        )
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or _SHA256_HEX.fullmatch(sha256) is None:
        raise BadUserInput(
            "`extensions.persistedQuery.sha256Hash` must be the SHA-256 of the query: "
            "64 lowercase hexadecimal digits."
        )
    return sha256


class PersistedQueries(SchemaExtension):
    """Supplies the stored document of a hash before Strawberry parses it, and registers a
    document sent with its hash once it validates.

    It must be the first extension: a refusal raised as an operation starts is never seen
    by the extensions started before it (Strawberry only unwinds those once all started).
    """

    def __init__(self, store: QueryStore) -> None:
        super().__init__()
        self._store = store
        self._register: tuple[str, str] | None = None

    async def on_operation(self) -> AsyncIterator[None]:
        try:
            await self._supply_document()
        except ClientError as refused:
            # Raised here, the refusal reaches no other extension (none has started, this
            # one being first), so its status is set here.
            refusal_status(self.execution_context.context, refused)
            raise
        yield

    async def _supply_document(self) -> None:
        context = self.execution_context
        sha256 = _persisted_hash(context.operation_extensions)
        if sha256 is None:
            return
        if context.query is None:
            found = await self._store.find(sha256)
            if found is None:
                raise PersistedQueryNotFound()
            context.query = found
        elif query_hash(context.query) != sha256:
            raise BadUserInput(
                "provided sha does not match query: `extensions.persistedQuery.sha256Hash` "
                "must be the SHA-256 of `query` exactly as sent."
            )
        else:
            self._register = (sha256, context.query)

    async def on_validate(self) -> AsyncIterator[None]:
        yield
        # Refused by a cap, validation raised instead and this is not reached.
        if self._register is not None and not self.execution_context.pre_execution_errors:
            await self._store.keep(*self._register)
