"""Every error a caller can cause, in one hierarchy.

Two ways to fail, both subclasses of :class:`MastheadError`:

- :class:`ClientError` (``BadUserInput``, ``Unauthenticated``, ``Forbidden``) becomes a
  GraphQL error: graphql-core copies an original exception's ``extensions`` onto the error,
  so it reaches the client with ``extensions.code`` while anything unexpected stays masked.
- :class:`Rejected` refuses a write with payload errors (:class:`UserError`) naming the
  offending input field. Write functions raise it rather than return errors, so the
  transaction they run in is rolled back by the same exception: a refused write leaves no
  trace even if it is refused after its first statement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

__all__ = [
    "BadUserInput",
    "ClientError",
    "ErrorCode",
    "Forbidden",
    "MastheadError",
    "Rejected",
    "Unauthenticated",
    "UserError",
    "UserErrors",
]


class MastheadError(Exception):
    """An error the caller caused; its message is safe to show."""


class ClientError(MastheadError):
    """Reported as a GraphQL error with ``extensions.code``."""

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


class ErrorCode(StrEnum):
    """Why a payload error refused a write."""

    REQUIRED = "REQUIRED"
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    DUPLICATE = "DUPLICATE"
    CYCLE = "CYCLE"
    IN_USE = "IN_USE"
    CONFLICT = "CONFLICT"


@dataclass(frozen=True)
class UserError:
    """``field`` is the path inside the input (``("tagIds", "2")``), or an argument name."""

    field: tuple[str, ...] | None
    message: str
    code: ErrorCode


class Rejected(MastheadError):
    """The write is refused for these reasons; nothing of it may be kept."""

    def __init__(self, errors: Iterable[UserError]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(error.message for error in self.errors))


class UserErrors:
    """Collects every problem of an input, so the caller learns them all at once."""

    def __init__(self) -> None:
        self._errors: list[UserError] = []

    def add(self, field: Iterable[str] | None, message: str, code: ErrorCode) -> None:
        path = tuple(field) if field is not None else None
        self._errors.append(UserError(path, message, code))

    def append(self, error: UserError) -> None:
        self._errors.append(error)

    def raise_any(self) -> None:
        """Refuse the write if anything was found."""
        if self._errors:
            raise Rejected(self._errors)
