"""Errors a caller can cause: raised by resolvers, reported as GraphQL errors with a code.

graphql-core copies an original exception's ``extensions`` onto the GraphQL error, so these
reach the client with ``extensions.code`` while anything unexpected stays masked.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["BadUserInput", "ClientError", "Forbidden", "Unauthenticated"]


class ClientError(Exception):
    """An error the caller can fix; its message is safe to show."""

    code: ClassVar[str] = "BAD_USER_INPUT"

    @property
    def extensions(self) -> dict[str, str]:
        return {"code": self.code}


class BadUserInput(ClientError):
    code = "BAD_USER_INPUT"


class Unauthenticated(ClientError):
    code = "UNAUTHENTICATED"


class Forbidden(ClientError):
    code = "FORBIDDEN"
