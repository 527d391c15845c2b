"""The ``/graphql`` endpoint: Strawberry's ASGI view, with the viewer in its context.

The HTTP rules around it (headers, statuses, the token check, caching) are in
:mod:`masthead.graphql_http`, :mod:`masthead.authentication` and
:mod:`masthead.http_caching`, persisted queries in :mod:`masthead.persisted_queries`, the
cache of answers in :mod:`masthead.response_cache`; :func:`graphql_endpoint` puts them
together.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import NamedTuple

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.authentication import AuthenticationError
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.base import BaseRequestProtocol
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.unset import UNSET, UnsetType

from db.models import utcnow
from masthead.authentication import TokenBackend, refuse_token, viewer_of
from masthead.graphiql import GraphiQLPage
from masthead.graphql_http import GraphQLHeaders, GraphQLStatus, RequestDeadline
from masthead.http_caching import AnswerBasis, HttpCaching, Lifetimes, shared_answer
from masthead.live_updates import ArticleFeed
from masthead.persisted_queries import PersistedQueries, query_store
from masthead.rate_limits import ClientBudget, RateLimits, TokenGuesses
from masthead.response_cache import (
    AnswerCache,
    AnswerStore,
    CacheHits,
    ResponseCache,
    answer_store,
)
from masthead.settings import Settings
from resolvers.cache_tags import AnswerTags
from schema.context import Context
from schema.limits import Limits
from schema.schema import build_schema

__all__ = ["Endpoint", "GraphQLView", "graphql_endpoint"]

# connection_ack carries no payload.
_NO_ACK_PAYLOAD: UnsetType = UNSET


class _TextFrames(ASGIWebSocketAdapter):
    """graphql-transport-ws messages go in text frames (browsers' clients read no others),
    though ``encode_json`` gives bytes."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            encoded = self.view.encode_json(message)
            await self.ws.send_text(encoded.decode() if isinstance(encoded, bytes) else encoded)
        except WebSocketDisconnect as error:
            raise WebSocketDisconnected from error


class GraphQLView(GraphQL[Context, None]):
    websocket_adapter_class = _TextFrames

    def __init__(
        self,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        rate_limits: RateLimits | None,
        read_sessionmaker: async_sessionmaker[AsyncSession] | None = None,
        *,
        tokens: TokenBackend | None = None,
        feed: ArticleFeed | None = None,
    ) -> None:
        store = self._persisted_queries = query_store(settings)
        reads = read_sessionmaker or sessionmaker
        super().__init__(
            build_schema(
                introspection=settings.introspection,
                limits=Limits(
                    max_depth=settings.max_query_depth,
                    max_aliases=settings.max_query_aliases,
                    max_cost=settings.max_query_cost,
                    max_fields=settings.max_query_fields,
                ),
                max_tokens=settings.max_query_tokens,
                # First, so that the document it supplies is what the others see.
                extensions=[
                    lambda: PersistedQueries(store),
                    GraphQLStatus,
                    lambda: AnswerBasis(reads),
                ],
                max_batch=settings.max_batch_operations,
            ),
            graphql_ide="graphiql" if settings.graphiql else None,
            # SPEC's protocol alone: the legacy graphql-ws one is not offered.
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=10),
        )
        self.max_subscriptions_per_connection = settings.max_subscriptions_per_connection
        self._tokens = tokens or TokenBackend(sessionmaker)
        self.feed = feed
        self._sessionmaker = sessionmaker
        self._read_sessionmaker = read_sessionmaker
        self._graphiql = GraphiQLPage()
        self._rate_limits = rate_limits
        self._max_tag_bytes = settings.cache_tags_max_bytes
        self.answers: AnswerStore | None = (
            answer_store(settings, sdl=self.schema.as_str()) if settings.response_cache else None
        )

    async def close(self) -> None:
        if self.feed is not None:
            await self.feed.close()
        await self._persisted_queries.close()
        if self.answers is not None:
            await self.answers.close()
        if self._rate_limits is not None:
            await self._rate_limits.close()

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """A token in ``connection_init`` (``{"Authorization": "Bearer ..."}``) makes the
        connection's subscriptions see what it may read; one that is not a known, unrevoked
        token closes the connection (4403), as a refused header would refuse a request."""
        params = context.connection_params or {}
        authorization = params.get("Authorization", params.get("authorization"))
        if authorization is None:
            return _NO_ACK_PAYLOAD
        if not isinstance(authorization, str):
            raise ConnectionRejectionError({"message": "`Authorization` is a string."})
        try:
            user = await self._tokens.user_of(context.request, authorization)
        except AuthenticationError as error:
            raise ConnectionRejectionError({"message": str(error)}) from None
        context.viewer = user.viewer
        context.renew(utcnow())
        return _NO_ACK_PAYLOAD

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        """GraphiQL only for a browser (``text/html``) asking for no operation: curl's
        ``*/*`` or a persisted query's hash alone gets JSON, never the page."""
        params = request.query_params
        return (
            request.method == "GET"
            and params.get("query") is None
            and params.get("extensions") is None
            and "text/html" in request.headers.get("accept", "")
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        """Masthead's self-hosted GraphiQL (masthead.graphiql), not Strawberry's CDN page."""
        return self._graphiql.response()

    def decode_json(self, data: str | bytes) -> object:
        """A request body (or a GET parameter): strict UTF-8 JSON holding an object, or a
        batch of them. Anything else is refused as unparsable (400), never a crash."""
        try:
            text = data.decode("utf-8") if isinstance(data, bytes) else data
            value = json.loads(text)
        except UnicodeDecodeError as error:
            raise json.JSONDecodeError(f"not UTF-8: {error.reason}", "", error.start) from None
        except RecursionError:
            raise json.JSONDecodeError("nested too deeply", "", 0) from None
        batch = value if isinstance(value, list) else [value]
        if not batch or not all(isinstance(item, dict) for item in batch):
            raise json.JSONDecodeError("a GraphQL request is a JSON object", "", 0)
        return value

    def encode_json(self, data: object) -> str | bytes:
        """orjson: several times faster than ``json`` on an answer, the same bytes. Text it
        cannot encode (a lone surrogate echoed back in an error message) goes the slow way."""
        try:
            return orjson.dumps(data)
        except TypeError:
            return json.dumps(data, separators=(",", ":"))

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        """GraphQL over HTTP: a request refused before execution (it did not parse, was
        invalid or over a cap) has no ``data`` entry at all; ``"data": null`` means
        execution started and failed."""
        response = await super().process_result(request, result)
        if isinstance(result, PreExecutionError):
            response.pop("data", None)
        answer = shared_answer(request.scope)
        if answer is not None:
            # An anonymous GET's answer may be shared by caches: its body must be the same
            # whoever asked, so what is left of the asker's budget is in its headers alone.
            extensions = response.get("extensions") or {}
            cost = extensions.get("cost")
            if isinstance(cost, dict):
                cost.pop("throttleStatus", None)
                answer.cost = int(cost.get("requestedQueryCost", 0))
            answer.settle(failed=bool(result.errors), max_tag_bytes=self._max_tag_bytes)
            if answer.shareable and answer.named:
                # Where Apollo Router's response cache reads a subgraph's tags.
                response["extensions"] = {**extensions, "apolloCacheTags": list(answer.named)}
        return response

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        context = Context.build(
            request=request,
            response=response,
            sessionmaker=self._sessionmaker,
            read_sessionmaker=self._read_sessionmaker,
            viewer=viewer_of(request),
            budget=(
                ClientBudget.of(self._rate_limits, request)
                if self._rate_limits is not None
                else None
            ),
            announcements=self.feed if isinstance(request, WebSocket) else None,
        )
        answer = shared_answer(request.scope)
        if answer is not None:
            answer.computed_at = context.now
            context.answer_tags = answer.shown = AnswerTags()
        return context


class Endpoint(NamedTuple):
    """``/graphql``: its view, the middleware of its route (outermost first), and the
    middleware it puts before the app's own (outermost first)."""

    view: GraphQLView
    middleware: list[Middleware]
    app_middleware: list[Middleware]


def graphql_endpoint(
    settings: Settings,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    read_sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    feed: ArticleFeed | None = None,
) -> Endpoint:
    """The view and the middleware that goes around its HTTP requests (``Endpoint``):
    ``engine`` is the primary's and ``sessionmaker`` its sessions; reads go through
    ``read_sessionmaker`` when given (``db.engine.create_read_sessionmaker``), subscriptions
    hear ``feed``."""
    rate_limits = (
        RateLimits(
            settings.rate_limit, redis_url=settings.redis_url, namespace=settings.redis_namespace
        )
        if settings.rate_limit > 0
        else None
    )
    guesses = TokenGuesses(rate_limits) if rate_limits is not None else None
    lifetimes = Lifetimes(
        max_age=settings.cache_max_age,
        stale_while_revalidate=settings.cache_stale_while_revalidate,
        stale_if_error=settings.cache_stale_if_error,
    )
    tokens = TokenBackend(sessionmaker, guesses)
    view = GraphQLView(
        settings, sessionmaker, rate_limits, read_sessionmaker, tokens=tokens, feed=feed
    )
    middleware = [
        # Outside compression, so that ETags tell a gzipped answer from a plain one.
        Middleware(HttpCaching, lifetimes=lifetimes),
    ]
    app_middleware = []
    if view.answers is not None:
        cache = AnswerCache(
            store=view.answers,
            engine=engine,
            rate_limits=rate_limits,
            ttl=settings.response_cache_ttl,
            lifetimes=lifetimes,
        )
        # Hits before every other layer of the app; misses, and what that cannot answer,
        # down to the route.
        app_middleware.append(Middleware(CacheHits, cache=cache))
        middleware.append(Middleware(ResponseCache, cache=cache))
    middleware += [
        # Starlette's own: answers over 1 KB gzipped for clients that accept it.
        Middleware(GZipMiddleware, minimum_size=1024),
        Middleware(GraphQLHeaders),
        Middleware(RequestDeadline, seconds=settings.request_timeout),
        # Counted while the body arrives, chunked or not, so no body is held whole.
        Middleware(RequestBodyLimitMiddleware, max_body_size=settings.max_body_bytes),
        Middleware(
            AuthenticationMiddleware,
            backend=tokens,
            on_error=refuse_token,
        ),
    ]
    return Endpoint(view, middleware, app_middleware)
