"""Who sends a request: a Bearer API token, checked by Starlette's authentication middleware.

No ``Authorization`` header reads as anonymous. A header that is not a known, unrevoked
Bearer token is refused outright, never quietly read as anonymous: the client meant to be
someone and would otherwise see less than it expects without being told why.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from db.failures import DatabaseFailure, database_failure, once_more_if_stale
from masthead.graphql_http import GRAPHQL_RESPONSE
from resolvers.access.tokens import authenticate, hash_token
from resolvers.access.viewer import ANONYMOUS, Viewer

__all__ = [
    "DatabaseUnavailable",
    "Guesses",
    "TokenBackend",
    "TokenUser",
    "TooManyGuesses",
    "refuse_token",
    "viewer_of",
]

_RETRY_AFTER = {"Retry-After": "1"}
_REFUSED = (
    "The API token is unknown or revoked; send `Authorization: Bearer <token>` "
    "with a valid token, or no Authorization header to read public content."
)


class TokenUser(BaseUser):
    """The holder of a valid API token, as the viewer the resolvers check."""

    def __init__(self, viewer: Viewer, key: str) -> None:
        self.viewer = viewer
        # Names the token (a prefix of its hash) for rate limits, never the secret itself.
        self.key = key

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.viewer.role.value if self.viewer.role is not None else ""


class Guesses(Protocol):
    """Counts refused tokens against the client sending them (``masthead.rate_limits``)."""

    async def wait(self, conn: HTTPConnection) -> int | None:
        """Seconds this client must wait before trying a token again, or None."""

    async def refused(self, conn: HTTPConnection) -> None:
        """One more refused token from this client."""


class TokenBackend(AuthenticationBackend):
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], guesses: Guesses | None = None
    ) -> None:
        self._sessionmaker = sessionmaker
        self._guesses = guesses

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        authorization = conn.headers.get("authorization")
        if authorization is None:
            return None
        user = await self.user_of(conn, authorization)
        return AuthCredentials([user.viewer.role.value if user.viewer.role else ""]), user

    async def user_of(self, conn: HTTPConnection, authorization: str) -> TokenUser:
        """The holder of the token ``authorization`` gives (``Bearer <token>``), sent by
        ``conn`` (a header, or a WebSocket's ``connection_init``); raises
        ``AuthenticationError`` when it is not a known, unrevoked token."""
        scheme, _, secret = authorization.strip().partition(" ")
        secret = secret.strip()
        viewer = None
        wait = await self._guesses.wait(conn) if self._guesses is not None else None
        if wait is not None:
            raise TooManyGuesses(wait)
        if scheme.lower() == "bearer" and secret:
            try:
                viewer = await once_more_if_stale(lambda: authenticate(self._sessionmaker, secret))
            except Exception as error:
                failure = database_failure(error)
                if failure is None:
                    raise
                raise DatabaseUnavailable(failure) from error
        if viewer is None:
            if self._guesses is not None:
                await self._guesses.refused(conn)
            raise AuthenticationError(_REFUSED)
        return TokenUser(viewer, hash_token(secret)[:16])


class TooManyGuesses(AuthenticationError):
    """This client sent too many refused tokens lately: not checked again for a while."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many unknown or revoked tokens from this client; try again in {retry_after} s."
        )
        self.retry_after = retry_after


class DatabaseUnavailable(AuthenticationError):
    """The token could not be checked: the database is away or too slow."""

    def __init__(self, failure: DatabaseFailure) -> None:
        super().__init__("The database is unavailable; try again shortly.")
        self.failure = failure


def refuse_token(conn: HTTPConnection, error: AuthenticationError) -> Response:
    """A request error (no ``data``): 401 where the client speaks graphql-response+json,
    503 when the token could not be checked."""
    if isinstance(error, TooManyGuesses):
        limited = {"message": str(error), "extensions": {"code": "RATE_LIMITED"}}
        retry = {"Retry-After": str(error.retry_after)}
        return JSONResponse({"errors": [limited]}, status_code=429, headers=retry)
    if isinstance(error, DatabaseUnavailable):
        unavailable = {"message": str(error), "extensions": {"code": error.failure.value}}
        return JSONResponse({"errors": [unavailable]}, status_code=503, headers=_RETRY_AFTER)
    status = 401 if GRAPHQL_RESPONSE in conn.headers.get("accept", "") else 200
    refusal = {"message": str(error), "extensions": {"code": "UNAUTHENTICATED"}}
    return JSONResponse({"errors": [refusal]}, status_code=status)


def viewer_of(conn: HTTPConnection) -> Viewer:
    """The viewer the authentication middleware found (anonymous without a token)."""
    user = conn.scope.get("user")
    return user.viewer if isinstance(user, TokenUser) else ANONYMOUS
