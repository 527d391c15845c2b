"""Who may write what (SPEC, Writing): refusals are GraphQL errors, raised before any write.

- admin: everything, including categories, authors and tags;
- editor: any article (create, edit, publish, unpublish, delete); sees drafts;
- writer: its own author's drafts only; never publishes, deletes or touches published work.
"""

from __future__ import annotations

from datetime import datetime

from db.models import Article, ArticleStatus, public_at
from resolvers.access.viewer import Role, Viewer
from resolvers.errors import Forbidden, Unauthenticated

__all__ = [
    "hidden_from",
    "require_admin",
    "require_article_editor",
    "require_author",
    "require_token",
    "require_writable",
]


def require_token(viewer: Viewer) -> Role:
    """The viewer's role; writing without a token is refused."""
    if viewer.role is None:
        raise Unauthenticated("Writing needs an API token: send `Authorization: Bearer <token>`.")
    return viewer.role


def require_admin(viewer: Viewer, action: str) -> None:
    """Categories, authors and tags are admin-only to write."""
    if require_token(viewer) is not Role.ADMIN:
        raise Forbidden(f"Only admin tokens may {action}.")


def require_article_editor(viewer: Viewer, action: str) -> None:
    """Publishing, unpublishing and deleting need an editor (or admin) token."""
    if require_token(viewer) not in (Role.ADMIN, Role.EDITOR):
        raise Forbidden(f"Only editor and admin tokens may {action}.")


def require_author(viewer: Viewer, author_id: int | None) -> None:
    """A writer writes as its own author only (``author_id`` None: not part of the write)."""
    role = require_token(viewer)
    if role is Role.WRITER and author_id is not None and author_id != viewer.author_id:
        raise Forbidden("Writer tokens may only write articles of their own author.")


def require_writable(viewer: Viewer, article: Article) -> None:
    """May the viewer edit this article? Writers only their own author's drafts."""
    if require_token(viewer) is not Role.WRITER:
        return
    if article.author_id != viewer.author_id:
        raise Forbidden("Writer tokens may only edit articles of their own author.")
    if article.status != ArticleStatus.DRAFT.value:
        raise Forbidden("Writer tokens may not edit published articles.")


def hidden_from(viewer: Viewer, article: Article, now: datetime) -> bool:
    """A token that may not see the article: a writer, and another author's article that
    is not public. (Anonymous callers are refused for the missing token instead.)"""
    if not viewer.authenticated or viewer.can_see_drafts:
        return False
    public = public_at(now, article.status, article.published_at, article.unpublish_at)
    return not public and article.author_id != viewer.author_id
