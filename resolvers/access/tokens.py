"""API tokens: created by the CLI, shown once, stored only as a SHA-256 hash.

A token is a random 256-bit secret, so a plain (unsalted, fast) hash is enough: nobody can
guess a preimage, and a lookup by hash is one indexed equality.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import ApiToken, Author, utcnow
from resolvers.access.viewer import Role, Viewer

__all__ = [
    "TOKEN_PREFIX",
    "TokenError",
    "TokenSummary",
    "authenticate",
    "create_token",
    "hash_token",
    "list_tokens",
    "revoke_token",
]

TOKEN_PREFIX = "mh_"
"""Marks Masthead secrets, so secret scanners and people recognise a leaked one."""

# Writing last_used_at on every request would turn each authenticated read into a write
# (and on SQLite take the database's write lock): once a minute is exact enough for "last used".
_LAST_USED_RESOLUTION = timedelta(minutes=1)
_MAX_NAME_LENGTH = 200


class TokenError(Exception):
    """A token cannot be created as asked (the message says why)."""


@dataclass(frozen=True)
class TokenSummary:
    """What ``masthead token list`` shows: never the secret, nor its hash."""

    name: str
    role: Role
    author_slug: str | None
    created_at: datetime
    last_used_at: datetime | None


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_token(
    session: AsyncSession, *, name: str, role: Role, author_slug: str | None = None
) -> str:
    """Store a new token and return its secret: the only time anyone sees it."""
    name = name.strip()
    if not name or len(name) > _MAX_NAME_LENGTH:
        raise TokenError(f"a token name must have 1 to {_MAX_NAME_LENGTH} characters")
    if await session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise TokenError(f"a token named {name!r} exists already")
    author_id = None
    if author_slug is not None:
        author_id = await session.scalar(select(Author.id).where(Author.slug == author_slug))
        if author_id is None:
            raise TokenError(f"no author with slug {author_slug!r}")
    if role is Role.WRITER and author_id is None:
        raise TokenError("a writer token needs --author: writers write as one author")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(name=name, role=role.value, token_hash=hash_token(secret), author_id=author_id)
    )
    await session.flush()
    return secret


async def list_tokens(session: AsyncSession) -> list[TokenSummary]:
    rows = await session.execute(
        select(ApiToken, Author.slug)
        .outerjoin(Author, Author.id == ApiToken.author_id)
        .order_by(ApiToken.name)
    )
    return [
        TokenSummary(
            name=token.name,
            role=Role(token.role),
            author_slug=author_slug,
            created_at=token.created_at,
            last_used_at=token.last_used_at,
        )
        for token, author_slug in rows
    ]


async def revoke_token(session: AsyncSession, name: str) -> bool:
    """Delete the token: the very next request carrying it is refused. False if unknown."""
    token = await session.scalar(select(ApiToken).where(ApiToken.name == name))
    if token is None:
        return False
    await session.delete(token)
    await session.flush()
    return True


async def authenticate(
    sessionmaker: async_sessionmaker[AsyncSession], secret: str, *, now: datetime | None = None
) -> Viewer | None:
    """The viewer a secret stands for, or None for an unknown or revoked one."""
    now = now or utcnow()
    token_hash = hash_token(secret)
    async with sessionmaker() as session:
        found = (
            await session.execute(
                select(ApiToken.id, ApiToken.role, ApiToken.author_id, ApiToken.last_used_at).where(
                    ApiToken.token_hash == token_hash
                )
            )
        ).first()
    if found is None:
        return None
    token_id, role, author_id, last_used_at = found
    if last_used_at is None or now - last_used_at >= _LAST_USED_RESOLUTION:
        async with sessionmaker.begin() as session:
            # Guarded, so that concurrent requests of the same minute write it once.
            await session.execute(
                update(ApiToken)
                .where(
                    ApiToken.id == token_id,
                    or_(
                        ApiToken.last_used_at.is_(None),
                        ApiToken.last_used_at <= now - _LAST_USED_RESOLUTION,
                    ),
                )
                .values(last_used_at=now)
            )
    return Viewer(role=Role(role), author_id=author_id)
