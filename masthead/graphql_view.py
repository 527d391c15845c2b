"""The ``/graphql`` endpoint: Strawberry's ASGI view with Masthead's viewer and HTTP rules.

Per the GraphQL-over-HTTP specification: clients asking for
``application/graphql-response+json`` get that media type and a 4xx status when the request
failed as a whole (no data); mutations over GET are 405 (GET must stay safe to cache).
"""

from __future__ import annotations

from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult

from masthead.settings import Settings
from resolvers.access.tokens import authenticate
from resolvers.access.viewer import ANONYMOUS, Viewer
from schema.context import Context
from schema.schema import build_schema

__all__ = ["GraphQLView"]

GRAPHQL_RESPONSE = "application/graphql-response+json"
_STATUS_BY_CODE = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403}


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(
            build_schema(
                introspection=settings.introspection,
                max_depth=settings.max_query_depth,
                max_aliases=settings.max_query_aliases,
                max_tokens=settings.max_query_tokens,
            ),
            graphql_ide="graphiql" if settings.graphiql else None,
        )
        self._sessionmaker = sessionmaker

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        viewer = ANONYMOUS
        authorization = request.headers.get("authorization")
        if authorization is not None:
            if isinstance(response, Response):
                # An answer computed for a token (drafts, a refusal) is for its bearer alone.
                response.headers["Cache-Control"] = "private, no-store"
            authenticated = await self._authenticate(authorization)
            if authenticated is None:
                # Refused in execute_single: a bad token must not quietly read as anonymous.
                request.state.token_refused = True
            else:
                viewer = authenticated
        context = Context.build(
            request=request, response=response, sessionmaker=self._sessionmaker, viewer=viewer
        )
        if isinstance(request, Request):
            request.state.masthead_context = context
        return context

    async def _authenticate(self, authorization: str) -> Viewer | None:
        scheme, _, secret = authorization.strip().partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            return None
        return await authenticate(self._sessionmaker, secret)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        if getattr(request.state, "token_refused", False):
            error = GraphQLError(
                "The API token is unknown or revoked; send `Authorization: Bearer <token>` "
                "with a valid token, or no Authorization header to read public content.",
                extensions={"code": "UNAUTHENTICATED"},
            )
            return ExecutionResult(data=None, errors=[error])
        return await super().execute_single(
            request, request_adapter, sub_response, context, root_value, request_data
        )

    async def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute_operation(*args, **kwargs)
        except HTTPException as error:
            if isinstance(error.__cause__, InvalidOperationTypeError):
                raise HTTPException(405, error.reason) from error
            raise

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        if result.data is None and result.errors:
            codes = {(e.extensions or {}).get("code") for e in result.errors}
            request.state.failed_status = next(
                (status for code, status in _STATUS_BY_CODE.items() if code in codes), 400
            )
        return await super().process_result(request, result)

    async def run(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        response = await super().run(request, *args, **kwargs)
        built: Context | None = getattr(request.state, "masthead_context", None)
        if built is not None:
            await built.reads.settle()
        if isinstance(response, Response):
            # The answer depends on the token and on the media type asked for: caches must
            # key on both, so a token's answer is never served to an anonymous reader.
            response.headers["Vary"] = "Accept, Authorization"
        if (
            isinstance(request, Request)
            and isinstance(response, Response)
            and response.media_type == "application/json"
            and GRAPHQL_RESPONSE in request.headers.get("accept", "")
        ):
            response.headers["content-type"] = f"{GRAPHQL_RESPONSE}; charset=utf-8"
            failed = getattr(request.state, "failed_status", None)
            if failed is not None and response.status_code == 200:
                response.status_code = failed
        return response
