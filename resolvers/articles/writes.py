"""Writing articles: create, update, publish, unpublish, delete, pin related articles.

Each function runs inside the caller's single transaction (``in_one_transaction``): it
checks the viewer's rights (raising ``Unauthenticated``/``Forbidden``), validates the whole
input (raising ``Rejected`` with every problem found) and only then writes. Its last step
records what it made stale for cached answers (``resolvers.cache_tags``), in the same
transaction.

Concurrent edits: every write to an article is one guarded statement,
``UPDATE ... SET version = version + 1 WHERE id = :id AND version = :read``, so a version
read earlier can be written over by exactly one writer. A caller's ``expectedVersion`` that
is stale is a ``CONFLICT``; without one, a lost race is retried from a fresh read. On
PostgreSQL the row is also read ``FOR NO KEY UPDATE``, so racing writers queue instead of
retrying; on SQLite the whole write holds the database's write lock (``in_one_transaction``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, insert, literal, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    Article,
    ArticleSlug,
    ArticleStatus,
    ArticleTag,
    Author,
    Category,
    RelatedPin,
    Tag,
)
from resolvers.access.permissions import (
    hidden_from,
    require_article_editor,
    require_author,
    require_token,
    require_writable,
)
from resolvers.articles import related_lists
from resolvers.articles.announcements import Announcement, announce
from resolvers.articles.former_slugs import Rename, keep_former_slugs
from resolvers.articles.sanitize import sanitize_html
from resolvers.articles.text_metrics import excerpt_from_body, plain_text, word_count
from resolvers.cache_invalidations import record
from resolvers.cache_tags import ArticleState, after_article_write
from resolvers.errors import ErrorCode, Rejected, UserError, UserErrors
from resolvers.events import outbox
from resolvers.events.types import EventType
from resolvers.slugs import numbered_from, slug_error, slugify, unique_slug
from resolvers.transaction import Actor, Raced
from resolvers.write_inputs import ArticleFields, pk_of

__all__ = [
    "MAX_RELATED_PINS",
    "create_article",
    "delete_article",
    "publish_article",
    "set_related_posts",
    "unpublish_article",
    "update_article",
]

MAX_TITLE_LENGTH = 500
MAX_SLUG_LENGTH = 300
MAX_RELATED_PINS = 20
"""As many as ``relatedPosts(first:)`` can ever show."""

_FALLBACK_SLUG = "article"  # for titles with no letter or digit NFKD can spell in ASCII


async def create_article(session: AsyncSession, actor: Actor, *, fields: ArticleFields) -> Article:
    """A new draft; its slug is generated from the title unless given."""
    require_token(actor.viewer)
    require_author(actor.viewer, pk_of(fields.author_id, "Author"))
    changes = await _validated(session, fields, current=None)
    article = Article(
        **changes.values,
        status=ArticleStatus.DRAFT.value,
        published_at=None,
        created_at=actor.now,
        updated_at=actor.now,
        version=1,
    )
    session.add(article)
    await session.flush()
    await _add_tags(session, article.id, changes.tag_ids or [])
    # A draft: nothing an anonymous reader sees has changed.
    await _changed(session, actor, None, article)
    return article


async def update_article(
    session: AsyncSession,
    actor: Actor,
    *,
    article_id: str,
    fields: ArticleFields,
    expected_version: int | None,
) -> Article:
    """Change what ``fields`` gives; a published article's former slug keeps resolving."""
    require_token(actor.viewer)
    reranks = fields.category_id is not None or fields.tag_ids is not None
    if reranks:
        await related_lists.keeping_lists(session)
    article = await _article_for_write(session, article_id, actor)
    require_writable(actor.viewer, article)
    require_author(actor.viewer, pk_of(fields.author_id, "Author"))
    if expected_version is not None and expected_version != article.version:
        raise Rejected([_conflict(expected_version, article.version)])
    before = ArticleState.of(article)
    old_slug, was_published = article.slug, article.status == ArticleStatus.PUBLISHED.value
    changes = await _validated(session, fields, current=article)
    article = await _write(session, article, changes.values, expected_version, actor.now)
    await keep_former_slugs(session, [Rename(article.id, old_slug, article.slug, was_published)])
    tags_before = None
    if changes.tag_ids is not None:
        tags_before = await _replace_tags(session, article.id, changes.tag_ids)
    related: set[int] = set()
    if reranks:
        # Its own candidates changed, and its place in other lists.
        await related_lists.drop_lists(session, [article.id])
        related = await related_lists.refresh_candidate(session, article.id)
    await _changed(
        session,
        actor,
        before,
        article,
        related=related,
        tags_before=tags_before,
        tags_after=changes.tag_ids,
    )
    return article


async def publish_article(
    session: AsyncSession, actor: Actor, *, article_id: str, publish_at: datetime | None
) -> Article:
    """Published now, or at ``publish_at`` (a future time schedules it; a past one backdates).

    Publishing a public article again without ``publish_at`` keeps its publication time.
    """
    require_article_editor(actor.viewer, "publish articles")
    await related_lists.keeping_lists(session)
    article = await _article_for_write(session, article_id, actor)
    before = ArticleState.of(article)
    when = publish_at
    if when is None:
        already_public = before.public(actor.now)
        when = article.published_at if already_public else actor.now
    # Publishing cancels a scheduled unpublish; a future time is announced when it comes
    # (``resolvers.events.schedule``).
    values = {
        "status": ArticleStatus.PUBLISHED.value,
        "published_at": when,
        "unpublish_at": None,
        "announce_at": when if when is not None and when > actor.now else None,
    }
    article = await _write(session, article, values, None, actor.now)
    related = await related_lists.refresh_candidate(session, article.id)
    await _changed(session, actor, before, article, related=related)
    return article


async def unpublish_article(
    session: AsyncSession, actor: Actor, *, article_id: str, at: datetime | None = None
) -> Article:
    """Back to a draft: no longer public (nor scheduled). A future ``at`` schedules that
    instead: the article stays public until then, and is hidden from every read at ``at``
    (``Article.is_public``), then made a draft by the worker (``resolvers.events.schedule``).
    """
    require_article_editor(actor.viewer, "unpublish articles")
    await related_lists.keeping_lists(session)
    article = await _article_for_write(session, article_id, actor)
    before = ArticleState.of(article)
    if at is not None and at > actor.now:
        if not before.published:
            raise Rejected(
                [
                    UserError(
                        ("at",),
                        "Only a published (or scheduled) article can be unpublished later.",
                        ErrorCode.INVALID,
                    )
                ]
            )
        if article.published_at is not None and at <= article.published_at:
            raise Rejected(
                [UserError(("at",), "`at` must come after `publishedAt`.", ErrorCode.INVALID)]
            )
        article = await _write(session, article, {"unpublish_at": at}, None, actor.now)
    else:
        values = {
            "status": ArticleStatus.DRAFT.value,
            "published_at": None,
            "unpublish_at": None,
            "announce_at": None,
        }
        article = await _write(session, article, values, None, actor.now)
    related = await related_lists.refresh_candidate(session, article.id)
    await _changed(session, actor, before, article, related=related)
    return article


async def delete_article(session: AsyncSession, actor: Actor, *, article_id: str) -> int:
    """Delete the article (its tags, pins and former slugs go with it); returns its pk."""
    require_article_editor(actor.viewer, "delete articles")
    # Its list and its entries in others go with it (foreign keys cascade).
    await related_lists.keeping_lists(session)
    article = await _article_for_write(session, article_id, actor)
    # Read before it goes: its tags, and the lists it was in.
    before = ArticleState.of(article)
    stale = await after_article_write(session, before=before, after=None, now=actor.now)
    event_type = outbox.article_event_type(before, None, actor.now)
    event = await outbox.article_event(
        session, article, event_type=event_type, stale=stale, now=actor.now
    )
    await session.execute(
        delete(Article).where(Article.id == article.id),
        execution_options={"synchronize_session": False},
    )
    await record(session, stale, now=actor.now)
    await outbox.write(session, event)
    await announce(session, Announcement(article.id, published=False))
    return article.id


async def set_related_posts(
    session: AsyncSession, actor: Actor, *, article_id: str, related_ids: Sequence[str]
) -> Article:
    """Replace the editor-pinned related articles (drafts may be pinned: they show once public)."""
    require_token(actor.viewer)
    article = await _article_for_write(session, article_id, actor)
    require_writable(actor.viewer, article)
    errors = UserErrors()
    if len(related_ids) > MAX_RELATED_PINS:
        errors.add(
            ["relatedIds"], f"At most {MAX_RELATED_PINS} related articles.", ErrorCode.INVALID
        )
    pks: dict[int, int] = {}  # pk -> index in the input
    for index, global_id in enumerate(related_ids):
        path = ["relatedIds", str(index)]
        pk = pk_of(global_id, "Article")
        if pk is None:
            errors.add(path, f"No article with id {global_id!r}.", ErrorCode.NOT_FOUND)
        elif pk == article.id:
            errors.add(path, "An article cannot be related to itself.", ErrorCode.INVALID)
        elif pk in pks:
            errors.add(path, "This article is listed twice.", ErrorCode.DUPLICATE)
        else:
            pks[pk] = index
    found = set()
    if pks:
        found = set(await session.scalars(select(Article.id).where(Article.id.in_(pks))))
    for pk, index in pks.items():
        if pk not in found:
            errors.add(
                ["relatedIds", str(index)],
                f"No article with id {related_ids[index]!r}.",
                ErrorCode.NOT_FOUND,
            )
    errors.raise_any()
    before = ArticleState.of(article)
    article = await _write(session, article, {}, None, actor.now)
    await session.execute(delete(RelatedPin).where(RelatedPin.article_id == article.id))
    if pks:
        await session.execute(
            insert(RelatedPin),
            [
                {"article_id": article.id, "position": position, "related_id": pk}
                for position, pk in enumerate(pks)
            ],
        )
    # Its own list changed, with its version: the article's (a list hangs off its article).
    await _changed(session, actor, before, article)
    return article


@dataclass(frozen=True)
class _Changes:
    values: dict[str, Any]
    tag_ids: list[int] | None


async def _article_for_write(session: AsyncSession, article_id: str, actor: Actor) -> Article:
    """The article, locked for the write; NOT_FOUND also for one the token may not see
    (another author's draft, to a writer), so a refusal never tells that it exists."""
    pk = pk_of(article_id, "Article")
    article = None
    if pk is not None:
        article = await session.scalar(
            select(Article).where(Article.id == pk).with_for_update(key_share=True),
            execution_options={"populate_existing": True},
        )
    if article is None or hidden_from(actor.viewer, article, actor.now):
        raise Rejected(
            [UserError(("id",), f"No article with id {article_id!r}.", ErrorCode.NOT_FOUND)]
        )
    return article


def _conflict(expected: int, stored: int | None = None) -> UserError:
    now_at = f" (it is at version {stored})" if stored is not None else ""
    return UserError(
        ("expectedVersion",),
        f"The article changed since version {expected}{now_at}: "
        "reload it and apply your change again.",
        ErrorCode.CONFLICT,
    )


async def _write(
    session: AsyncSession,
    article: Article,
    values: dict[str, Any],
    expected_version: int | None,
    now: datetime,
) -> Article:
    """The guarded UPDATE: it succeeds only on the version that was read."""
    written: Article | None = await session.scalar(
        update(Article)
        .where(Article.id == article.id, Article.version == article.version)
        .values(**values, version=Article.version + 1, updated_at=now)
        .returning(Article),
        execution_options={"populate_existing": True, "synchronize_session": False},
    )
    if written is None:
        if expected_version is not None:
            raise Rejected([_conflict(expected_version)])
        raise Raced(f"article {article.id} changed while being written")
    return written


async def _changed(
    session: AsyncSession,
    actor: Actor,
    before: ArticleState | None,
    article: Article,
    *,
    related: set[int] | None = None,
    tags_before: Sequence[int] | None = None,
    tags_after: Sequence[int] | None = None,
) -> None:
    """Record what the write to ``article`` made stale (``before``: as it was read), and
    its event (``resolvers.events.outbox``)."""
    after = ArticleState.of(article)
    stale = await after_article_write(
        session,
        before=before,
        after=after,
        now=actor.now,
        related_lists=related or (),
        tags_before=tags_before,
        tags_after=tags_after,
    )
    event_type = outbox.article_event_type(before, after, actor.now)
    event = await outbox.article_event(
        session, article, event_type=event_type, stale=stale, now=actor.now
    )
    await record(session, stale, now=actor.now)
    await outbox.write(session, event)
    published = event_type is EventType.ARTICLE_PUBLISHED
    await announce(session, Announcement(article.id, published=published))


async def _replace_tags(
    session: AsyncSession, article_id: int, tag_ids: Sequence[int]
) -> list[int]:
    """Its tags replaced by ``tag_ids``; returns those it had."""
    had = await session.scalars(
        delete(ArticleTag).where(ArticleTag.article_id == article_id).returning(ArticleTag.tag_id)
    )
    kept = list(had)
    await _add_tags(session, article_id, tag_ids)
    return kept


async def _add_tags(session: AsyncSession, article_id: int, tag_ids: Sequence[int]) -> None:
    if tag_ids:
        await session.execute(
            insert(ArticleTag), [{"article_id": article_id, "tag_id": tag} for tag in tag_ids]
        )


def _slug_sources(article_id: int | None) -> list[Select[str]]:
    """Slugs other articles hold: current ones and former ones that still resolve."""
    current = select(Article.slug)
    former = select(ArticleSlug.slug)
    if article_id is not None:
        current = current.where(Article.id != article_id)
        former = former.where(ArticleSlug.article_id != article_id)
    return [current, former]


async def _validated(
    session: AsyncSession, fields: ArticleFields, *, current: Article | None
) -> _Changes:
    """The column values to write, or ``Rejected`` with every problem of the input."""
    errors = UserErrors()
    values: dict[str, Any] = {}
    creating = current is None

    title = _title(fields.title, creating, errors)
    if title is not None:
        values["title"] = title

    body = fields.body
    if body is None and creating:
        errors.add(["body"], "A body is required.", ErrorCode.REQUIRED)
    if body is not None:
        values["body"] = sanitize_html(body)
        values["word_count"] = word_count(values["body"])

    excerpt = _excerpt(fields.excerpt, values.get("body"), current)
    if excerpt is not None:
        values["excerpt"] = excerpt

    references, tag_ids = await _references(session, fields, creating=creating, errors=errors)
    values.update(references)

    slug = await _slug(session, fields.slug, title, current, errors)
    if slug is not None:
        values["slug"] = slug

    errors.raise_any()
    return _Changes(values, tag_ids)


def _title(given: str | None, creating: bool, errors: UserErrors) -> str | None:
    if given is None:
        if creating:
            errors.add(["title"], "A title is required.", ErrorCode.REQUIRED)
        return None
    title = given.strip()
    if not title:
        errors.add(["title"], "The title must not be empty.", ErrorCode.REQUIRED)
        return None
    if len(title) > MAX_TITLE_LENGTH:
        message = f"The title may have at most {MAX_TITLE_LENGTH} characters."
        errors.add(["title"], message, ErrorCode.INVALID)
        return None
    return title


def _excerpt(given: str | None, new_body: str | None, current: Article | None) -> str | None:
    """The excerpt to store, or None to keep the current one.

    Given (as plain text) it is kept; empty or missing it is derived from the body, and an
    excerpt that was derived follows the body when the body changes.
    """
    if given is not None and (text := plain_text(given)):
        return text
    if current is None:
        return excerpt_from_body(new_body or "")
    if given is not None:
        return excerpt_from_body(new_body if new_body is not None else current.body)
    if new_body is not None and current.excerpt == excerpt_from_body(current.body):
        return excerpt_from_body(new_body)
    return None


async def _references(
    session: AsyncSession, fields: ArticleFields, *, creating: bool, errors: UserErrors
) -> tuple[dict[str, int], list[int] | None]:
    """Author, category and tag ids checked, all in one statement: column values and tag pks."""
    lookups: list[Select[str, int]] = []
    wanted: dict[str, tuple[str, str, int]] = {}  # key -> (field, global id, pk)
    for field, key, model in (
        ("authorId", "author_id", Author),
        ("categoryId", "category_id", Category),
    ):
        global_id = getattr(fields, key)
        if global_id is None:
            if creating:
                errors.add([field], f"`{field}` is required.", ErrorCode.REQUIRED)
            continue
        pk = pk_of(global_id, model.__name__)
        if pk is None:
            errors.add([field], _unknown(model.__name__, global_id), ErrorCode.NOT_FOUND)
            continue
        wanted[key] = (field, global_id, pk)
        lookups.append(select(literal(model.__name__), model.id).where(model.id == pk))
    tag_pks: dict[int, int] = {}  # pk -> index in the input; a tag given twice is kept once
    for index, global_id in enumerate(fields.tag_ids or ()):
        pk = pk_of(global_id, "Tag")
        if pk is None:
            errors.add(["tagIds", str(index)], _unknown("Tag", global_id), ErrorCode.NOT_FOUND)
        else:
            tag_pks.setdefault(pk, index)
    if tag_pks:
        lookups.append(select(literal("Tag"), Tag.id).where(Tag.id.in_(tag_pks)))

    found: set[tuple[str, int]] = set()
    if lookups:
        statement = lookups[0] if len(lookups) == 1 else union_all(*lookups)
        found = {(kind, pk) for kind, pk in await session.execute(statement)}
    values: dict[str, int] = {}
    for key, (field, global_id, pk) in wanted.items():
        type_name = "Author" if key == "author_id" else "Category"
        if (type_name, pk) in found:
            values[key] = pk
        else:
            errors.add([field], _unknown(type_name, global_id), ErrorCode.NOT_FOUND)
    for pk, index in tag_pks.items():
        if ("Tag", pk) not in found:
            assert fields.tag_ids is not None
            message = _unknown("Tag", fields.tag_ids[index])
            errors.add(["tagIds", str(index)], message, ErrorCode.NOT_FOUND)
    if fields.tag_ids is None:
        return values, None
    return values, [pk for pk in tag_pks if ("Tag", pk) in found]


def _unknown(type_name: str, global_id: str) -> str:
    return f"No {type_name.lower()} with id {global_id!r}."


async def _slug(
    session: AsyncSession,
    given: str | None,
    title: str | None,
    current: Article | None,
    errors: UserErrors,
) -> str | None:
    """The slug to store, or None to keep the current one (or when the input is invalid)."""
    article_id = current.id if current is not None else None
    sources = _slug_sources(article_id)
    if given is not None:
        if current is not None and given == current.slug:
            return None
        error = await slug_error(session, given, sources, max_length=MAX_SLUG_LENGTH)
        if error is None:
            return given
        errors.append(error)
        return None
    if title is None:
        return None
    if current is not None:
        # A draft whose slug came from its title follows a new title; a published article's
        # slug never moves with its title (links to it are out in the wild).
        if current.status != ArticleStatus.DRAFT.value:
            return None
        if not numbered_from(current.slug, slugify(current.title) or _FALLBACK_SLUG):
            return None
        base = slugify(title) or _FALLBACK_SLUG
        if numbered_from(current.slug, base):
            return None
    base = slugify(title) or _FALLBACK_SLUG
    return await unique_slug(session, base, sources)
