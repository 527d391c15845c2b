"""Who is asking: anonymous readers see only public articles."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Role", "Viewer"]


class Role(StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    WRITER = "writer"


@dataclass(frozen=True)
class Viewer:
    role: Role | None = None
    author_id: int | None = None

    @property
    def authenticated(self) -> bool:
        return self.role is not None

    @property
    def can_see_drafts(self) -> bool:
        return self.role in (Role.ADMIN, Role.EDITOR)


ANONYMOUS = Viewer()
