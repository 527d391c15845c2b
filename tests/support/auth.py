"""API tokens for tests: created the way the CLI creates them, sent as a Bearer header."""

from __future__ import annotations

import itertools

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Author
from resolvers.access.tokens import create_token
from resolvers.access.viewer import Role

__all__ = ["bearer"]

_serial = itertools.count(1)


async def bearer(
    sessionmaker: async_sessionmaker[AsyncSession], role: Role, author: Author | None = None
) -> dict[str, str]:
    """Headers carrying a fresh token of ``role`` (writers write as ``author``)."""
    async with sessionmaker.begin() as session:
        secret = await create_token(
            session,
            name=f"{role.value}-{next(_serial)}",
            role=role,
            author_slug=author.slug if author is not None else None,
        )
    return {"Authorization": f"Bearer {secret}"}
