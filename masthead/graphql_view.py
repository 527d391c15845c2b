"""The ``/graphql`` endpoint: Strawberry's ASGI view, with the viewer in its context.

The HTTP rules around it (headers, statuses, the token check) are in
:mod:`masthead.graphql_http` and :mod:`masthead.authentication`; :func:`graphql_endpoint`
puts them together.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from masthead.authentication import TokenBackend, refuse_token, viewer_of
from masthead.graphql_http import GraphQLHeaders, GraphQLStatus
from masthead.settings import Settings
from schema.context import Context
from schema.limits import Limits
from schema.schema import build_schema

__all__ = ["GraphQLView", "graphql_endpoint"]


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
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
                extensions=[GraphQLStatus],
            ),
            graphql_ide="graphiql" if settings.graphiql else None,
        )
        self._sessionmaker = sessionmaker

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context.build(
            request=request,
            response=response,
            sessionmaker=self._sessionmaker,
            viewer=viewer_of(request),
        )


def graphql_endpoint(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> tuple[ASGIApp, list[Middleware]]:
    """The view, and the middleware that goes around it (outermost first)."""
    middleware = [
        Middleware(GraphQLHeaders),
        Middleware(
            AuthenticationMiddleware, backend=TokenBackend(sessionmaker), on_error=refuse_token
        ),
    ]
    return GraphQLView(settings, sessionmaker), middleware
