"""HTTP caching of ``/graphql`` answers: who may keep one, for how long, and validators.

Only an anonymous GET answered without errors may be shared: it gets ``Cache-Control:
public, max-age=N`` (with ``stale-while-revalidate`` and ``stale-if-error``) and a strong
``ETag``, and a request whose ``If-None-Match`` names that tag gets ``304``. Everything
else (an answer computed for a token, one holding an error, any POST, a refusal) is
``private, no-store``.

``N`` is ``MASTHEAD_CACHE_MAX_AGE``, cut so that it ends before the next scheduled publish
(``resolvers.publishing_schedule``), the instant the answer could change without a write;
``stale-while-revalidate`` is cut the same way, since a cache serves it without asking.
``stale-if-error`` is not: it is for when Masthead fails, when a stale page beats none.

A shared answer names what it was computed from (``resolvers.cache_tags``) in ``Cache-Tag``
(comma-separated: Cloudflare, Akamai) and ``Surrogate-Key`` (space-separated: Fastly,
Varnish), so that a CDN can purge exactly the answers a write changed. An answer naming more
than a header holds (``MASTHEAD_CACHE_TAGS_MAX_BYTES``) names none and is ``public,
no-cache``: a cache may keep it, and asks before each use (a ``304`` when it is unchanged).

The ETag hashes the bytes as sent with their media type and coding, so that a gzipped
answer and a plain one, or JSON and graphql-response+json, are told apart; hence
:class:`HttpCaching` sits outside compression. A 304 is the 200 computed and then withheld:
it saves the transfer, not the work, and carries the headers the 200 would have had.

The view tells the middleware what it learnt through a :class:`SharedAnswer` in the
request's scope (:func:`shared_answer`), the one place that what an answer was computed
from reaches the HTTP layer; :class:`AnswerBasis` reads, before the query runs, what it is
computed against (the invalidation log's stamp and the next scheduled publish, in one
statement), for caches of Masthead's own (``masthead.response_cache``) as for HTTP's.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from db.failures import database_failure, once_more_if_stale
from db.models import utcnow
from resolvers.cache_invalidations import Basis, basis
from resolvers.cache_tags import AnswerTags
from schema.context import Context

__all__ = [
    "NO_CACHE",
    "PRIVATE",
    "AnswerBasis",
    "HttpCaching",
    "Lifetimes",
    "SharedAnswer",
    "entity_tag",
    "named_tags",
    "shared_answer",
    "validated",
]

logger = logging.getLogger("masthead.http_caching")

PRIVATE = "private, no-store"
NO_CACHE = "public, no-cache"
# Tags one answer may name: Cloudflare's cap per response.
_MAX_NAMED_TAGS = 1000
_ANSWER = "masthead.shared_answer"
# Representation metadata a 304 leaves out (RFC 9110, 15.4.5): it has no content.
_NOT_IN_304 = ("content-type", "content-length", "content-encoding")


@dataclass(frozen=True)
class Lifetimes:
    """Seconds a shared answer may be kept fresh, and served stale (see the module)."""

    max_age: int
    stale_while_revalidate: int
    stale_if_error: int

    def cache_control(self, *, changes_at: datetime | None, now: datetime) -> str:
        """The ``Cache-Control`` of an answer that stays right until ``changes_at``."""
        max_age, stale = self.max_age, self.stale_while_revalidate
        if changes_at is not None:
            left = max(0, math.floor((changes_at - now).total_seconds()))
            max_age = min(max_age, left)
            stale = min(stale, left - max_age)
        directives = ["public", f"max-age={max_age}"]
        if stale:
            directives.append(f"stale-while-revalidate={stale}")
        if self.stale_if_error:
            directives.append(f"stale-if-error={self.stale_if_error}")
        return ", ".join(directives)


def named_tags(tags: frozenset[str], *, max_bytes: int) -> tuple[str, ...] | None:
    """The tags an answer names, in order; None when they are more than a header holds."""
    names = tuple(sorted(tags))
    if len(names) > _MAX_NAMED_TAGS or sum(len(name) + 1 for name in names) - 1 > max_bytes:
        return None
    return names


@dataclass
class SharedAnswer:
    """What the view learnt answering an anonymous GET (or the response cache found), for
    :class:`HttpCaching`."""

    # The clock the answer was computed with (``Context.now``): what was public then.
    computed_at: datetime | None = None
    # Read before the query ran (:class:`AnswerBasis`); None when it could not be.
    basis: Basis | None = None
    # The tags of the nodes and lists the answer shows, as its fields resolve.
    shown: AnswerTags | None = None
    # Answered without errors, and its basis read: it may be shared.
    shareable: bool = False
    # The next scheduled publish after ``computed_at``, when the answer may change by itself.
    changes_at: datetime | None = None
    # What it was computed from, and what of it headers name (None: too many to name).
    tags: frozenset[str] = field(default_factory=frozenset)
    named: tuple[str, ...] | None = ()
    # Its cost, which each answer from a cache spends of the client's budget again.
    cost: int = 0
    # Its ETag when already known (a kept answer's); else computed from the body sent.
    etag: str | None = None

    def settle(self, *, failed: bool, max_tag_bytes: int) -> None:
        """Once the answer is known: shareable unless it ``failed``, until the next change."""
        if failed or self.computed_at is None or self.basis is None:
            return
        self.changes_at = self.basis.changes_at
        self.tags = frozenset(self.shown or ())
        self.named = named_tags(self.tags, max_bytes=max_tag_bytes)
        self.shareable = True


class AnswerBasis(SchemaExtension):
    """Before an anonymous GET's query runs: the invalidation stamp it is computed against
    and the next scheduled publish, one statement read in the read sessions (where its data
    comes from). Unread (the database failing), the answer is not shared."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        super().__init__()
        self._sessionmaker = sessionmaker

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        answer = shared_answer(context.request.scope) if isinstance(context, Context) else None
        if answer is not None and answer.computed_at is not None:
            answer.basis = await self._read(answer.computed_at)
        yield

    async def _read(self, now: datetime) -> Basis | None:
        async def read() -> Basis:
            async with self._sessionmaker() as session:
                return await basis(session, now=now)

        try:
            return await once_more_if_stale(read)
        except Exception as error:
            if database_failure(error) is None:
                raise
            # The query may still be answered; how long it stays right is unknown.
            logger.warning("cache basis not read (%s): the answer is private", error)
            return None


def shared_answer(scope: Scope) -> SharedAnswer | None:
    """The request's :class:`SharedAnswer`: only an anonymous GET has one."""
    answer = scope.get(_ANSWER)
    return answer if isinstance(answer, SharedAnswer) else None


def entity_tag(content_type: bytes, content_encoding: bytes, body: bytes) -> str:
    """The strong ``ETag`` of ``body`` sent with this media type and coding."""
    representation = hashlib.blake2b(digest_size=16)
    representation.update(content_type + b"\n")
    representation.update(content_encoding + b"\n")
    representation.update(body)
    return f'"{representation.hexdigest()}"'


def _none_match(if_none_match: str, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag``: ``*`` or any tag of its list, compared
    weakly (``W/`` ignored), as RFC 9110 (13.1.2) has it."""
    if if_none_match.strip() == "*":
        return True
    tags = (tag.strip() for tag in if_none_match.split(","))
    return any(tag.removeprefix("W/") == etag for tag in tags)


class HttpCaching:
    """``Cache-Control`` on every answer; ``ETag`` and ``304`` for those that are shared."""

    def __init__(self, app: ASGIApp, lifetimes: Lifetimes) -> None:
        self.app = app
        self.lifetimes = lifetimes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Headers(scope=scope)
        if scope["method"] != "GET" or "authorization" in request:
            await self.app(scope, receive, _private(send))
            return
        answer = scope[_ANSWER] = SharedAnswer()
        start: Message | None = None
        body = bytearray()

        async def send_shared(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                # The view has settled the answer by the time it starts the response.
                if message["status"] == 200 and answer.shareable:
                    start = message  # held until its body is whole
                    return
                MutableHeaders(scope=message)["Cache-Control"] = PRIVATE
            elif start is not None and message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    await self._send_validated(start, bytes(body), request, answer, send)
                return
            await send(message)

        await self.app(scope, receive, send_shared)

    async def _send_validated(
        self, start: Message, body: bytes, request: Headers, answer: SharedAnswer, send: Send
    ) -> None:
        status, start["headers"], body = validated(
            self.lifetimes,
            start["headers"],
            body,
            request.get("if-none-match", ""),
            etag=answer.etag,
            named=answer.named,
            changes_at=answer.changes_at,
        )
        await send({**start, "status": status})
        await send({"type": "http.response.body", "body": body})


def validated(
    lifetimes: Lifetimes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    if_none_match: str,
    *,
    etag: str | None,
    named: tuple[str, ...] | None,
    changes_at: datetime | None,
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The status, headers and body of a shared answer of 200 with these ``headers`` and
    ``body`` (its ``etag`` if known, the tags it ``named``, the next change that may alter
    it): its ETag, lifetime and tags added, or the 304 a request's ``If-None-Match`` naming
    that ETag gets."""
    if etag is None:
        found = Headers(raw=headers)
        etag = entity_tag(
            found.get("content-type", "").encode("latin-1"),
            found.get("content-encoding", "").encode("latin-1"),
            body,
        )
    added = {"etag": etag}
    if named is None:
        added["cache-control"] = NO_CACHE
    else:
        added["cache-control"] = lifetimes.cache_control(changes_at=changes_at, now=utcnow())
        if named:
            added["cache-tag"] = ",".join(named)
            added["surrogate-key"] = " ".join(named)
    not_modified = _none_match(if_none_match, etag) if if_none_match else False
    if not not_modified:
        added["content-length"] = str(len(body))
    # One pass over the headers (MutableHeaders' item assignment is one a header).
    dropped = {*added, *(_NOT_IN_304 if not_modified else ())}
    headers = [
        *(pair for pair in headers if pair[0].lower().decode("latin-1") not in dropped),
        *((name.encode("latin-1"), value.encode("latin-1")) for name, value in added.items()),
    ]
    if not_modified:
        return 304, headers, b""
    return 200, headers, body


def _private(send: Send) -> Send:
    async def send_private(message: Message) -> None:
        if message["type"] == "http.response.start":
            MutableHeaders(scope=message)["Cache-Control"] = PRIVATE
        await send(message)

    return send_private
