"""The inputs of writes as resolvers/ receive them: plain data, global ids still encoded.

Inputs of categories, authors and tags are three-valued: ``UNCHANGED`` (not given: keep),
None (given as null: clear, where the column may be empty; a name may not be) or a value. Article
inputs are two-valued: None is "not given" (an article has no field one may clear).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

from resolvers.global_ids import decode_global_id

__all__ = [
    "UNCHANGED",
    "ArticleFields",
    "AuthorFields",
    "CategoryFields",
    "TagFields",
    "Unchanged",
    "pk_of",
]


class _Unchanged(enum.Enum):
    UNCHANGED = "unchanged"


UNCHANGED = _Unchanged.UNCHANGED
Unchanged: TypeAlias = Literal[_Unchanged.UNCHANGED]


def pk_of(global_id: str | None, type_name: str) -> int | None:
    """The primary key a global id of ``type_name`` names; None for anything else."""
    if global_id is None:
        return None
    decoded = decode_global_id(global_id)
    return decoded[1] if decoded is not None and decoded[0] == type_name else None


@dataclass(frozen=True)
class ArticleFields:
    """``CreateArticleInput`` or ``UpdateArticleInput``: None is "not given" (keep as is)."""

    title: str | None = None
    slug: str | None = None
    excerpt: str | None = None
    body: str | None = None
    author_id: str | None = None
    category_id: str | None = None
    tag_ids: Sequence[str] | None = None


@dataclass(frozen=True)
class CategoryFields:
    name: str | Unchanged | None = UNCHANGED
    slug: str | Unchanged | None = UNCHANGED
    description: str | Unchanged | None = UNCHANGED
    parent_id: str | Unchanged | None = UNCHANGED


@dataclass(frozen=True)
class AuthorFields:
    name: str | Unchanged | None = UNCHANGED
    slug: str | Unchanged | None = UNCHANGED
    bio: str | Unchanged | None = UNCHANGED
    avatar_url: str | Unchanged | None = UNCHANGED


@dataclass(frozen=True)
class TagFields:
    name: str | Unchanged | None = UNCHANGED
    slug: str | Unchanged | None = UNCHANGED
