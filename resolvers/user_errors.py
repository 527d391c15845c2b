"""Why a write was refused: payload errors naming the offending input field.

Write functions raise :class:`Rejected` rather than return errors, so that the transaction
they run in is rolled back by the same exception: a refused write leaves no trace even if
it is refused after its first statement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["ErrorCode", "Rejected", "UserError", "UserErrors"]


class ErrorCode(StrEnum):
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


class Rejected(Exception):
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
