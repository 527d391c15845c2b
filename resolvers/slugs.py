"""Slugs: URL-safe names generated from titles and names, unique per type."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from sqlalchemy import Select, and_, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from db.dialects import database_of
from resolvers.errors import ErrorCode, UserError

__all__ = [
    "URL_SAFE",
    "is_url_safe",
    "numbered_from",
    "slug_error",
    "slug_taken",
    "slugify",
    "unique_slug",
]

URL_SAFE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
"""Lower-case ASCII letters and digits in runs joined by single hyphens."""

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
# Letters NFKD cannot take apart into an ASCII base letter and accents.
_TRANSLITERATION = str.maketrans(
    {
        "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O",
        "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH", "ł": "l", "Ł": "L",
        "\u0131": "i",
    }
)  # fmt: skip


def slugify(text: str, *, max_length: int = 80) -> str:
    """``"Über die Straße: 2024!"`` -> ``"uber-die-strasse-2024"``; "" if nothing is left.

    Letters are reduced to ASCII (NFKD drops the accents); anything else separates words.
    A long slug is cut at a word boundary so it stays readable.
    """
    decomposed = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATION))
    ascii_text = decomposed.encode("ascii", "ignore").decode("ascii").lower()
    slug = _NOT_ALNUM.sub("-", ascii_text).strip("-")
    if len(slug) > max_length:
        cut = slug[: max_length + 1]
        slug = cut[: cut.rindex("-")] if "-" in cut else slug[:max_length]
    return slug.strip("-")


def is_url_safe(slug: str) -> bool:
    return URL_SAFE.fullmatch(slug) is not None


def numbered_from(slug: str, base: str) -> bool:
    """Whether ``slug`` is ``base`` or ``base`` made unique (``base-2``, ``base-3``, ...)."""
    if slug == base:
        return True
    prefix, _, number = slug.rpartition("-")
    return prefix == base and number.isascii() and number.isdigit()


async def unique_slug(session: AsyncSession, base: str, sources: Sequence[Select[str]]) -> str:
    """``base``, or ``base-2``, ``base-3``...: the first that none of ``sources`` holds.

    Each source selects the slugs already taken (of other rows: a row renamed keeps its own).
    One statement brings back every taken ``base`` and ``base-N`` at once.
    """
    await _lock(session, sources, base)
    taken = set(await session.scalars(_matching(sources, base, prefix=True)))
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


async def slug_error(
    session: AsyncSession, slug: str, sources: Sequence[Select[str]], *, max_length: int
) -> UserError | None:
    """Why ``slug`` cannot be used (too long, not URL-safe, taken), or None if it can."""
    if len(slug) > max_length:
        message = f"A slug may have at most {max_length} characters."
        return UserError(("slug",), message, ErrorCode.INVALID)
    if not is_url_safe(slug):
        message = (
            "A slug may hold only lower-case letters a-z, digits and single hyphens between "
            "them (like `budget-2025`)."
        )
        return UserError(("slug",), message, ErrorCode.INVALID)
    if await slug_taken(session, slug, sources):
        return UserError(("slug",), f"The slug {slug!r} is taken.", ErrorCode.DUPLICATE)
    return None


async def slug_taken(session: AsyncSession, slug: str, sources: Sequence[Select[str]]) -> bool:
    """Whether any of ``sources`` holds ``slug`` already."""
    await _lock(session, sources, slug)
    return (await session.scalar(_matching(sources, slug, prefix=False).limit(1))) is not None


async def _lock(session: AsyncSession, sources: Sequence[Select[str]], slug: str) -> None:
    """On PostgreSQL, writers picking the same slug queue until the first one commits.

    Without it two transactions could both find ``base`` free and one would fail on the
    unique constraint. SQLite needs nothing: its writers hold the database's write lock.
    """
    column = sources[0].selected_columns[0]
    table = getattr(column, "table", None)
    await database_of(session).lock(session, f"slug:{getattr(table, 'name', column.name)}:{slug}")


def _matching(sources: Sequence[Select[str]], slug: str, *, prefix: bool) -> Select[str]:
    selects = []
    for source in sources:
        column = source.selected_columns[0]
        condition = column == slug
        if prefix:
            # Every slug starting "base-" sorts between "base-" and "base." ("." follows
            # "-"): one range of the slug's index, in code point order on both databases
            # (db.dialects.code_point_string), where a LIKE would read the whole table.
            condition = or_(condition, and_(column > f"{slug}-", column < f"{slug}."))
        selects.append(source.where(condition))
    if len(selects) == 1:
        return selects[0]
    combined = union_all(*selects).subquery()
    return select(combined.c[0])
