"""Writing categories, authors and tags (admin tokens only).

Fields of the update inputs are three-valued: ``UNCHANGED`` (not given: keep), None
(given as null: clear, where the column may be empty) or a value. A missing or null slug
keeps the current one on update (slugs are in links) and is generated on create.

Each write's last step records what it made stale for cached answers
(``resolvers.cache_tags``), in its transaction.
"""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import delete, exists, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from db.dialects import database_of
from db.models import Article, ArticleTag, Author, Category, Tag
from resolvers.access.permissions import require_admin
from resolvers.articles import related_lists
from resolvers.cache_invalidations import record
from resolvers.cache_tags import (
    ArticleState,
    Staleness,
    after_category_write,
    after_named_write,
    after_tag_delete,
)
from resolvers.errors import ErrorCode, Rejected, UserError, UserErrors
from resolvers.events import outbox
from resolvers.slugs import slug_error, slugify, unique_slug
from resolvers.transaction import Actor
from resolvers.write_inputs import (
    UNCHANGED,
    AuthorFields,
    CategoryFields,
    TagFields,
    Unchanged,
    pk_of,
)

__all__ = [
    "create_author",
    "create_category",
    "create_tag",
    "delete_author",
    "delete_category",
    "delete_tag",
    "update_author",
    "update_category",
    "update_tag",
]

MAX_NAME_LENGTH = 200
MAX_SLUG_LENGTH = 200
MAX_URL_LENGTH = 1000

Named = TypeVar("Named", Author, Category, Tag)


# Two transactions each moving a category under the other would each see no cycle; on
# PostgreSQL moves take this transaction-scoped lock, on SQLite the write lock serialises them.
_CATEGORY_TREE_LOCK = "category-tree"


# --- categories -----------------------------------------------------------------------


async def create_category(
    session: AsyncSession, actor: Actor, *, fields: CategoryFields
) -> Category:
    require_admin(actor.viewer, "create categories")
    values = await _category_values(session, fields, current=None)
    category = Category(**values)
    session.add(category)
    await session.flush()
    stale = await after_category_write(
        session, category_id=category.id, before=None, after=(category.slug, category.parent_id)
    )
    await _recorded(session, actor, category, stale)
    return category


async def update_category(
    session: AsyncSession, actor: Actor, *, category_id: str, fields: CategoryFields
) -> Category:
    """Rename, re-slug, describe or move a category; making it its own ancestor is a CYCLE."""
    require_admin(actor.viewer, "update categories")
    category = await _for_write(session, Category, category_id)
    before = (category.slug, category.parent_id)
    values = await _category_values(session, fields, current=category)
    moves = values.get("parent_id", category.parent_id) not in (None, category.parent_id)
    if moves:
        await database_of(session).lock(session, _CATEGORY_TREE_LOCK)
    written = await _write(session, Category, category, values)
    if moves and await _in_cycle(session, category.id):
        raise Rejected([_cycle()])
    stale = await after_category_write(
        session, category_id=written.id, before=before, after=(written.slug, written.parent_id)
    )
    await _recorded(session, actor, written, stale)
    return written


async def delete_category(session: AsyncSession, actor: Actor, *, category_id: str) -> int:
    """Only an empty category goes: one with articles or subcategories is IN_USE."""
    require_admin(actor.viewer, "delete categories")
    category = await _for_write(session, Category, category_id)
    if await session.scalar(select(exists().where(Article.category_id == category.id))):
        raise Rejected([_in_use("category", "articles")])
    if await session.scalar(select(exists().where(Category.parent_id == category.id))):
        raise Rejected([_in_use("category", "subcategories")])
    await session.execute(delete(Category).where(Category.id == category.id))
    stale = await after_category_write(
        session, category_id=category.id, before=(category.slug, category.parent_id), after=None
    )
    await _recorded(session, actor, category, stale, deleted=True)
    return category.id


# --- authors --------------------------------------------------------------------------


async def create_author(session: AsyncSession, actor: Actor, *, fields: AuthorFields) -> Author:
    require_admin(actor.viewer, "create authors")
    values = await _author_values(session, fields, current=None)
    author = Author(**values)
    session.add(author)
    await session.flush()
    stale = after_named_write("Author", author.id, before=None, after=author.slug)
    await _recorded(session, actor, author, stale)
    return author


async def update_author(
    session: AsyncSession, actor: Actor, *, author_id: str, fields: AuthorFields
) -> Author:
    require_admin(actor.viewer, "update authors")
    author = await _for_write(session, Author, author_id)
    before = author.slug
    values = await _author_values(session, fields, current=author)
    written = await _write(session, Author, author, values)
    stale = after_named_write("Author", written.id, before=before, after=written.slug)
    await _recorded(session, actor, written, stale)
    return written


async def delete_author(session: AsyncSession, actor: Actor, *, author_id: str) -> int:
    """Only an author without articles goes (IN_USE otherwise); its writer tokens go too."""
    require_admin(actor.viewer, "delete authors")
    author = await _for_write(session, Author, author_id)
    if await session.scalar(select(exists().where(Article.author_id == author.id))):
        raise Rejected([_in_use("author", "articles")])
    await session.execute(delete(Author).where(Author.id == author.id))
    stale = after_named_write("Author", author.id, before=author.slug, after=None)
    await _recorded(session, actor, author, stale, deleted=True)
    return author.id


# --- tags -----------------------------------------------------------------------------


async def create_tag(session: AsyncSession, actor: Actor, *, fields: TagFields) -> Tag:
    require_admin(actor.viewer, "create tags")
    values = await _tag_values(session, fields, current=None)
    tag = Tag(**values)
    session.add(tag)
    await session.flush()
    stale = after_named_write("Tag", tag.id, before=None, after=tag.slug)
    await _recorded(session, actor, tag, stale)
    return tag


async def update_tag(session: AsyncSession, actor: Actor, *, tag_id: str, fields: TagFields) -> Tag:
    require_admin(actor.viewer, "update tags")
    tag = await _for_write(session, Tag, tag_id)
    before = tag.slug
    values = await _tag_values(session, fields, current=tag)
    written = await _write(session, Tag, tag, values)
    stale = after_named_write("Tag", written.id, before=before, after=written.slug)
    await _recorded(session, actor, written, stale)
    return written


async def delete_tag(session: AsyncSession, actor: Actor, *, tag_id: str) -> int:
    """The tag goes and is taken off its articles (each of them is written: version + 1)."""
    require_admin(actor.viewer, "delete tags")
    await related_lists.keeping_lists(session)
    tag = await _for_write(session, Tag, tag_id)
    # Its articles' candidates change; others rank them the same (they lack the tag).
    await related_lists.drop_lists_of_tag(session, tag.id)
    tagged = select(ArticleTag.article_id).where(ArticleTag.tag_id == tag.id)
    written = await session.execute(
        update(Article)
        .where(Article.id.in_(tagged))
        .values(version=Article.version + 1, updated_at=actor.now)
        .returning(
            Article.id,
            Article.slug,
            Article.status,
            Article.published_at,
            Article.category_id,
            Article.author_id,
            Article.unpublish_at,
        ),
        execution_options={"synchronize_session": False},
    )
    articles = [ArticleState(*row) for row in written]
    await session.execute(delete(ArticleTag).where(ArticleTag.tag_id == tag.id))
    await session.execute(delete(Tag).where(Tag.id == tag.id))
    stale = await after_tag_delete(session, tag.id, articles)
    await _recorded(session, actor, tag, stale, deleted=True)
    return tag.id


# --- shared ---------------------------------------------------------------------------


async def _recorded(
    session: AsyncSession,
    actor: Actor,
    row: Category | Author | Tag,
    stale: Staleness,
    *,
    deleted: bool = False,
) -> None:
    """The write's last step: what it made stale, and its event (``resolvers.events``)."""
    type_name = _TYPE_NAMES[type(row)]
    event = await outbox.taxonomy_event(
        session, type_name, row, deleted=deleted, stale=stale, now=actor.now
    )
    await record(session, stale, now=actor.now)
    await outbox.write(session, event)


_TYPE_NAMES: dict[type, outbox.TaxonomyType] = {
    Category: "Category",
    Author: "Author",
    Tag: "Tag",
}


async def _for_write(session: AsyncSession, model: type[Named], global_id: str) -> Named:
    pk = pk_of(global_id, model.__name__)
    row = await session.get(model, pk, populate_existing=True) if pk is not None else None
    if row is None:
        message = f"No {model.__name__.lower()} with id {global_id!r}."
        raise Rejected([UserError(("id",), message, ErrorCode.NOT_FOUND)])
    return row


async def _write(
    session: AsyncSession, model: type[Named], row: Named, values: dict[str, Any]
) -> Named:
    for key, value in values.items():
        setattr(row, key, value)
    await session.flush()
    return row


async def _named_values(
    session: AsyncSession,
    model: type[Named],
    name: str | Unchanged | None,
    slug: str | Unchanged | None,
    *,
    current: Named | None,
    errors: UserErrors,
) -> dict[str, Any]:
    """``name`` and ``slug`` checked (problems go to ``errors``); the values to write. A
    name left out is kept (an update's); given as null or blank, it is REQUIRED."""
    values: dict[str, Any] = {}
    name = "" if name is None else name
    if name is UNCHANGED:
        if current is None:
            errors.add(["name"], "A name is required.", ErrorCode.REQUIRED)
    elif not (name := name.strip()):
        errors.add(["name"], "A name is required.", ErrorCode.REQUIRED)
    elif len(name) > MAX_NAME_LENGTH:
        message = f"A name may have at most {MAX_NAME_LENGTH} characters."
        errors.add(["name"], message, ErrorCode.INVALID)
    else:
        values["name"] = name
    others = select(model.slug)
    if current is not None:
        others = others.where(model.id != current.id)
    kind = model.__name__.lower()
    if isinstance(slug, str) and (current is None or slug != current.slug):
        error = await slug_error(session, slug, [others], max_length=MAX_SLUG_LENGTH)
        if error is None:
            values["slug"] = slug
        else:
            errors.append(error)
    elif current is None and "name" in values:
        values["slug"] = await unique_slug(session, slugify(values["name"]) or kind, [others])
    return values


async def _category_values(
    session: AsyncSession, fields: CategoryFields, *, current: Category | None
) -> dict[str, Any]:
    errors = UserErrors()
    values = await _named_values(
        session, Category, fields.name, fields.slug, current=current, errors=errors
    )
    if fields.description is not UNCHANGED:
        values["description"] = fields.description
    elif current is None:
        values["description"] = None
    parent_id = fields.parent_id
    if parent_id is None or (parent_id is UNCHANGED and current is None):
        values["parent_id"] = None
    elif parent_id is not UNCHANGED:
        pk = pk_of(parent_id, "Category")
        if pk is not None:
            pk = await session.scalar(select(Category.id).where(Category.id == pk))
        if pk is None:
            message = f"No category with id {parent_id!r}."
            errors.add(["parentId"], message, ErrorCode.NOT_FOUND)
        elif current is not None and pk == current.id:
            errors.add(["parentId"], _cycle().message, ErrorCode.CYCLE)
        else:
            values["parent_id"] = pk
    errors.raise_any()
    return values


async def _author_values(
    session: AsyncSession, fields: AuthorFields, *, current: Author | None
) -> dict[str, Any]:
    errors = UserErrors()
    values = await _named_values(
        session, Author, fields.name, fields.slug, current=current, errors=errors
    )
    if fields.bio is not UNCHANGED:
        values["bio"] = fields.bio
    elif current is None:
        values["bio"] = None
    avatar_url = fields.avatar_url
    if avatar_url is UNCHANGED:
        if current is None:
            values["avatar_url"] = None
    elif avatar_url is None or _is_web_url(avatar_url):
        values["avatar_url"] = avatar_url
    else:
        message = f"The avatar URL must be an http(s) URL of at most {MAX_URL_LENGTH} characters."
        errors.add(["avatarUrl"], message, ErrorCode.INVALID)
    errors.raise_any()
    return values


async def _tag_values(
    session: AsyncSession, fields: TagFields, *, current: Tag | None
) -> dict[str, Any]:
    errors = UserErrors()
    values = await _named_values(
        session, Tag, fields.name, fields.slug, current=current, errors=errors
    )
    errors.raise_any()
    return values


def _is_web_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return len(url) <= MAX_URL_LENGTH and parts.scheme in ("http", "https") and bool(parts.netloc)


async def _in_cycle(session: AsyncSession, category_id: int) -> bool:
    """Whether walking up from the category reaches it again (after its move)."""
    start = select(Category.parent_id.label("id")).where(Category.id == category_id)
    chain = start.cte("chain", recursive=True)
    above = aliased(Category)
    # UNION, not UNION ALL: on a cycle the walk stops once it comes round again.
    chain = chain.union(
        select(above.parent_id).where(above.id == chain.c.id, above.parent_id.is_not(None))
    )
    found = await session.scalar(select(literal(1)).where(chain.c.id == category_id).limit(1))
    return found is not None


def _cycle() -> UserError:
    return UserError(
        ("parentId",),
        "A category cannot be placed under itself or its own subcategory.",
        ErrorCode.CYCLE,
    )


def _in_use(kind: str, what: str) -> UserError:
    return UserError(
        ("id",), f"The {kind} still has {what}: move or delete them first.", ErrorCode.IN_USE
    )
