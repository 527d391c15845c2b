"""Who may write what, rule by rule: each role against each kind of write.

The mutations in tests/articles/test_mutations.py show the same refusals through the API;
here every branch of the rules meets the viewer that is on its edge.
"""

from __future__ import annotations

import pytest

from db.models import Article, ArticleStatus
from resolvers.access.permissions import (
    require_admin,
    require_article_editor,
    require_author,
    require_token,
    require_writable,
)
from resolvers.access.viewer import ANONYMOUS, Role, Viewer
from resolvers.errors import Forbidden, Unauthenticated

ADMIN = Viewer(Role.ADMIN)
EDITOR = Viewer(Role.EDITOR)
WRITER = Viewer(Role.WRITER, author_id=1)
NO_TOKEN = "Writing needs an API token: send `Authorization: Bearer <token>`."


def _article(*, author_id: int, status: ArticleStatus) -> Article:
    return Article(author_id=author_id, status=status.value)


@pytest.mark.parametrize("viewer", [ADMIN, EDITOR, WRITER])
def test_a_token_gives_its_role(viewer: Viewer) -> None:
    assert require_token(viewer) is viewer.role


def test_every_rule_refuses_anonymous_writers_first() -> None:
    draft = _article(author_id=1, status=ArticleStatus.DRAFT)
    for rule in (
        lambda: require_token(ANONYMOUS),
        lambda: require_admin(ANONYMOUS, "create tags"),
        lambda: require_article_editor(ANONYMOUS, "publish articles"),
        lambda: require_author(ANONYMOUS, None),
        lambda: require_writable(ANONYMOUS, draft),
    ):
        with pytest.raises(Unauthenticated) as refused:
            rule()
        assert str(refused.value) == NO_TOKEN


def test_only_admins_write_categories_authors_and_tags() -> None:
    require_admin(ADMIN, "create tags")
    for viewer in (EDITOR, WRITER):
        with pytest.raises(Forbidden) as refused:
            require_admin(viewer, "create tags")
        assert str(refused.value) == "Only admin tokens may create tags."


def test_only_editors_and_admins_publish_unpublish_and_delete() -> None:
    require_article_editor(ADMIN, "publish articles")
    require_article_editor(EDITOR, "publish articles")
    with pytest.raises(Forbidden) as refused:
        require_article_editor(WRITER, "delete articles")
    assert str(refused.value) == "Only editor and admin tokens may delete articles."


@pytest.mark.parametrize(
    ("viewer", "author_id"),
    [(WRITER, 1), (WRITER, None), (EDITOR, 2), (ADMIN, 2), (EDITOR, None)],
)
def test_who_may_write_as_which_author(viewer: Viewer, author_id: int | None) -> None:
    require_author(viewer, author_id)


def test_a_writer_never_writes_as_another_author() -> None:
    with pytest.raises(Forbidden) as refused:
        require_author(WRITER, 2)
    assert str(refused.value) == "Writer tokens may only write articles of their own author."


@pytest.mark.parametrize("viewer", [ADMIN, EDITOR])
@pytest.mark.parametrize("status", list(ArticleStatus))
def test_editors_and_admins_edit_any_article(viewer: Viewer, status: ArticleStatus) -> None:
    require_writable(viewer, _article(author_id=2, status=status))


def test_a_writer_edits_its_own_drafts_only() -> None:
    require_writable(WRITER, _article(author_id=1, status=ArticleStatus.DRAFT))
    with pytest.raises(Forbidden) as theirs:
        require_writable(WRITER, _article(author_id=2, status=ArticleStatus.DRAFT))
    assert str(theirs.value) == "Writer tokens may only edit articles of their own author."
    with pytest.raises(Forbidden) as published:
        require_writable(WRITER, _article(author_id=1, status=ArticleStatus.PUBLISHED))
    assert str(published.value) == "Writer tokens may not edit published articles."
