"""GraphQL over HTTP: the rules Strawberry's view leaves to the application.

Per the GraphQL-over-HTTP specification, clients asking for
``application/graphql-response+json`` get that media type and a 4xx status when the request
failed as a whole (no data); a mutation over GET is 405, because GET must stay safe to
cache. Every answer varies with the token and the media type asked for (who may keep one,
and for how long, is :mod:`masthead.http_caching`'s).

Headers are set by :class:`GraphQLHeaders`, a plain ASGI middleware; statuses by
:class:`GraphQLStatus`, a schema extension that sets them on the response Strawberry hands
to the context (its documented way to change a status).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from db.failures import DatabaseFailure
from resolvers.errors import ClientError
from schema.context import Context

__all__ = [
    "GRAPHQL_RESPONSE",
    "GraphQLHeaders",
    "GraphQLStatus",
    "MethodNotAllowed",
    "RequestDeadline",
    "refusal_status",
]

GRAPHQL_RESPONSE = "application/graphql-response+json"
_JSON = "application/json"
# A request that failed as a whole: the most telling of its errors' codes gives the status.
_STATUS_BY_CODE = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403}
# The database is away or too slow: 503, whatever was asked for, and when to try again.
_RETRY_LATER = {failure.value for failure in DatabaseFailure}
_RETRY_AFTER_SECONDS = "1"


def _wants_graphql_response(headers: Headers) -> bool:
    return GRAPHQL_RESPONSE in headers.get("accept", "")


class MethodNotAllowed(ClientError):
    """A mutation sent with GET."""

    code = "METHOD_NOT_ALLOWED"


# Codes for the requests refused before GraphQL runs (Strawberry and Starlette answer
# them in plain text; the SPEC wants every error answer in JSON).
_CODE_BY_STATUS = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}
# A plain-text refusal is a line of text: more is cut off.
_MAX_PLAIN_TEXT = 4096


class GraphQLHeaders:
    """``Vary``, the media type asked for, and every plain-text refusal rewritten as a JSON
    error with ``extensions.code``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Headers(scope=scope)
        graphql_response = _wants_graphql_response(request)
        refusal: Message | None = None
        text = b""

        async def send_with_headers(message: Message) -> None:
            nonlocal refusal, text
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                # Caches must key on both: the media type and status follow Accept, and a
                # token's answer is its bearer's (compression adds Accept-Encoding, CORS
                # Origin).
                headers["Vary"] = "Accept, Authorization"
                media_type = headers.get("content-type", "").partition(";")[0]
                if message["status"] >= 400 and media_type == "text/plain":
                    refusal = message  # held until its text has come
                    return
                if graphql_response and media_type == _JSON:
                    headers["Content-Type"] = f"{GRAPHQL_RESPONSE}; charset=utf-8"
            elif refusal is not None and message["type"] == "http.response.body":
                text = (text + message.get("body", b""))[:_MAX_PLAIN_TEXT]
                if not message.get("more_body", False):
                    await _send_as_json(send, refusal, text, graphql_response)
                return
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RequestDeadline:
    """A whole request runs under ``seconds``; past it, 503 ``TIMEOUT`` with ``Retry-After``.
    A client that goes away before its answer cancels the work done for it.

    The statement timeout bounds each query; this bounds everything else (many queries,
    a slow client's body) so that no request holds a worker for long.
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_marking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        body_read = asyncio.Event()

        async def receive_marking() -> Message:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_read.set()
            return message

        work = asyncio.ensure_future(self.app(scope, receive_marking, send_marking))
        watch = asyncio.ensure_future(
            _cancel_on_disconnect(receive, body_read, work, read_body=scope["method"] == "GET")
        )
        try:
            async with asyncio.timeout(self.seconds):
                await asyncio.shield(work)
        except TimeoutError:
            await _cancelled(work)
            if started:
                raise
            error = {
                "message": f"The request took longer than {self.seconds:g} s; try again shortly.",
                "extensions": {"code": "TIMEOUT"},
            }
            body = json.dumps({"errors": [error]}, separators=(",", ":")).encode()
            headers = MutableHeaders()
            headers["Content-Type"] = f"{_JSON}; charset=utf-8"
            headers["Content-Length"] = str(len(body))
            headers["Retry-After"] = _RETRY_AFTER_SECONDS
            await send({"type": "http.response.start", "status": 503, "headers": headers.raw})
            await send({"type": "http.response.body", "body": body})
        except asyncio.CancelledError:
            if not work.done():  # this request itself is cancelled (the server stopping)
                await asyncio.shield(_cancelled(work))
                raise
            # Otherwise the client went away: nobody is left to answer.
        finally:
            watch.cancel()


async def _cancelled(work: asyncio.Future[None]) -> None:
    """Cancel ``work`` and wait for its clean-up (sessions back in the pool) to finish."""
    work.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await work


async def _cancel_on_disconnect(
    receive: Receive, body_read: asyncio.Event, work: asyncio.Future[None], *, read_body: bool
) -> None:
    """Once the body is in, the next message is the client leaving (or the answer sent).

    With ``read_body`` (a GET, whose body the view never reads), the body is read here and
    dropped; otherwise the app reads it, and ``body_read`` tells when it is in.
    """
    if read_body:
        while (await receive()).get("more_body", False):
            pass
    else:
        await body_read.wait()
    message = await receive()
    if message["type"] == "http.disconnect":
        work.cancel()


async def _send_as_json(send: Send, start: Message, text: bytes, graphql_response: bool) -> None:
    status: int = start["status"]
    error = {
        "message": text.decode("utf-8", "replace").strip() or "The request was refused.",
        "extensions": {"code": _CODE_BY_STATUS.get(status, "BAD_REQUEST")},
    }
    body = json.dumps({"errors": [error]}, separators=(",", ":")).encode()
    headers = MutableHeaders(raw=list(start["headers"]))
    headers["Content-Type"] = (
        f"{GRAPHQL_RESPONSE}; charset=utf-8" if graphql_response else f"{_JSON}; charset=utf-8"
    )
    headers["Content-Length"] = str(len(body))
    if status == 405 and "allow" not in headers:
        headers["Allow"] = "GET, POST"
    await send({"type": "http.response.start", "status": status, "headers": headers.raw})
    await send({"type": "http.response.body", "body": body})


class GraphQLStatus(SchemaExtension):
    """405 for a mutation over GET; 503 with ``Retry-After`` when the database failed; 4xx
    for a failed request to graphql-response+json.

    It also waits, once the operation is done, for reads a cancelled field left running
    (see ``ReadSessions``), so that every connection is back in the pool when it answers.
    """

    def _context(self) -> Context | None:
        context = self.execution_context.context
        return context if isinstance(context, Context) else None

    def on_parse(self) -> Iterator[None]:
        yield
        context = self._context()
        if context is None or context.request.scope.get("method") != "GET":
            return
        if not self.execution_context.graphql_document:
            return
        try:
            operation = self.execution_context.operation_type
        except RuntimeError:  # no such operation: Strawberry explains it
            return
        if operation is not OperationType.QUERY:
            raise MethodNotAllowed(f"{operation.value.capitalize()}s need POST, not GET.")

    async def on_operation(self) -> AsyncIterator[None]:
        context = self._context()
        try:
            yield
        except Exception as refused:
            # Refused before execution (a cap, the rate limit, a mutation over GET): the
            # refusal comes through here as the exception, before Strawberry answers it.
            refusal_status(context, refused)
            raise
        finally:
            if context is not None:
                await context.reads.settle()
        if context is None or not isinstance(context.response, Response):
            return
        result = self.execution_context.result
        # The result's errors are the masked ones, with their codes.
        errors = (result.errors if result else None) or self.execution_context.pre_execution_errors
        if not errors:
            return
        codes = {(error.extensions or {}).get("code") for error in errors}
        failed_whole = result is None or result.data is None
        # With data, even partial, GraphQL over HTTP wants a 2xx.
        if codes & _RETRY_LATER and failed_whole:
            context.response.status_code = 503
            context.response.headers["Retry-After"] = _RETRY_AFTER_SECONDS
            return
        if result is not None and result.data is not None:
            return
        if _wants_graphql_response(context.request.headers):
            status = next((s for code, s in _STATUS_BY_CODE.items() if code in codes), 400)
            context.response.status_code = status


def refusal_status(context: object, refused: Exception) -> None:
    """The status of a request ``refused`` before execution, by its code, set on the
    response of ``context`` (the operation's :class:`Context`)."""
    if not isinstance(context, Context) or not isinstance(context.response, Response):
        return
    response = context.response
    code = (getattr(refused, "extensions", None) or {}).get("code")
    if code == "METHOD_NOT_ALLOWED":
        response.status_code = 405
        response.headers["Allow"] = "POST"
    elif code == "RATE_LIMITED":
        response.status_code = 429
    elif code == "PERSISTED_QUERY_NOT_FOUND":
        # 200 whatever was asked for, as Apollo Server answers it: a client takes it for
        # what it is (send the document) rather than for a failed request.
        return
    elif _wants_graphql_response(context.request.headers):
        response.status_code = 400
