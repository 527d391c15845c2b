"""The Starlette application: GraphQL (with GraphiQL) and health endpoints."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from db.engine import create_engine, create_sessionmaker
from masthead.settings import Settings
from resolvers.viewer import ANONYMOUS
from schema.context import Context
from schema.schema import build_schema

__all__ = ["create_app"]

logger = logging.getLogger("masthead")


class _GraphQLView(GraphQL[Context, None]):
    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(
            build_schema(introspection=settings.introspection),
            graphql_ide="graphiql" if settings.graphiql else None,
        )
        self._sessionmaker = sessionmaker

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context.build(
            request=request, response=response, sessionmaker=self._sessionmaker, viewer=ANONYMOUS
        )


def create_app(settings: Settings | None = None) -> Starlette:
    """The ASGI app; the engine is made here so tests can drive it without a lifespan."""
    settings = settings or Settings()
    engine = create_engine(
        settings.database_url, pool_size=settings.db_pool_size, echo=settings.log_sql
    )
    sessionmaker = create_sessionmaker(engine)
    view = _GraphQLView(settings, sessionmaker)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:  # any failure to reach the database means not ready
            logger.exception("database not reachable")
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = Starlette(
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = sessionmaker
    return app
