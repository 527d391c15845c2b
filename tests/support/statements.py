"""Counting the SQL statements an operation sends, for the N+1 tests."""

from __future__ import annotations

from typing import Any


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(statement)

    def reset(self) -> None:
        self.statements.clear()

    @property
    def count(self) -> int:
        return len(self.statements)
