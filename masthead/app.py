"""The Starlette application: GraphQL (with GraphiQL) and health endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp

from db.dialects import Timeouts
from db.engine import create_engine, create_read_sessionmaker, create_sessionmaker
from masthead.access_log import AccessLog
from masthead.event_worker import running_worker, url_policy
from masthead.graphiql import assets_mount
from masthead.graphql_view import graphql_endpoint
from masthead.live_updates import ArticleFeed
from masthead.settings import Settings

__all__ = ["close", "create_app", "create_served_app"]

logger = logging.getLogger("masthead")


def create_app(settings: Settings | None = None) -> Starlette:
    """The ASGI app; the engine is made here so tests can drive it without a lifespan."""
    settings = settings or Settings()
    timeouts = Timeouts(
        statement=settings.db_statement_timeout,
        connect=settings.db_connect_timeout,
        pool=settings.db_pool_timeout,
    )
    engine = create_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        echo=settings.log_sql,
        timeouts=timeouts,
    )
    sessionmaker = create_sessionmaker(engine)
    reads = create_read_sessionmaker(engine)
    feed = ArticleFeed(engine, redis_url=settings.redis_url, namespace=settings.redis_namespace)
    view, view_middleware, before_app = graphql_endpoint(
        settings, engine, sessionmaker, reads, feed
    )

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        try:
            async with asyncio.timeout(settings.db_connect_timeout):
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        except Exception as error:  # any failure to reach the database means not ready
            logger.warning("database not reachable: %s", error)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # What startup made (modules, the schema, mappers) lives as long as the process; out
        # of the collector's sight, a full collection no longer walks it, so full collections
        # stop showing up as tail latency (bench/results/request_path.md).
        gc.collect()
        gc.freeze()
        await feed.open()
        async with contextlib.AsyncExitStack() as stack:
            if settings.serve_worker:  # webhook deliveries (masthead.event_worker)
                await stack.enter_async_context(running_worker(settings, sessionmaker))
            yield
        gc.unfreeze()
        await close(app)

    app = Starlette(
        routes=[
            # Every method reaches the view, which refuses all but GET and POST in JSON.
            Route("/graphql", view, middleware=view_middleware),
            # Subscriptions: the token comes in connection_init (GraphQLView.on_ws_connect).
            WebSocketRoute("/graphql", view),
            *([assets_mount()] if settings.graphiql else []),  # GraphiQL's files
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        middleware=[
            *before_app,  # cache hits, answered before any other layer (masthead.response_cache)
            # Maintained middleware, Starlette's own: preflights answered, Authorization
            # and Content-Type allowed, never credentials (cookies). Compression is the
            # /graphql route's (masthead.graphql_view), inside its HTTP caching.
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origin_list,
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
                allow_credentials=False,
                max_age=600,
            ),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = sessionmaker
    app.state.view = view
    app.state.webhook_policy = url_policy(settings)
    return app


def create_served_app(settings: Settings | None = None) -> ASGIApp:
    """What ``masthead serve`` serves: the app, and its access log unless switched off."""
    settings = settings or Settings()
    app = create_app(settings)
    return AccessLog(app) if settings.access_log else app


async def close(app: Starlette) -> None:
    """Release what ``create_app`` opened: database connections, Redis connections."""
    await app.state.view.close()
    await app.state.engine.dispose()
