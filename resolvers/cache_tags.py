"""Cache tags: what an anonymous answer was computed from, and what a write makes stale.

An answer carries one tag per node it shows and one per list it shows; a committed write
names every tag whose answers it changed, and caches drop exactly those answers (Masthead's
own, ``resolvers.cache_invalidations``; a CDN's, purged from a webhook). The scheme:

=========================  ==============================================================
``article:12``             the article (also ``author:3``, ``category:5``, ``tag:9``)
``article:12:related``     its ``relatedPosts`` (and ``relatedPostsExplained``)
``category:5:articles``    the articles of the category's subtree, and their count (also
                           ``author:3:articles``, ``tag:9:articles``)
``articles``               ``Query.articles``, whatever its filter and order
``search``                 ``Query.search``
``newest``                 the newest public articles, which fill short related lists
``authors``                ``Query.authors`` (also ``tags``); ``categories``: the tree
                           (``Query.categories``, ``children``, ``ancestors``)
``changes``                ``Query.changes``: stale whenever an event is written
                           (``resolvers.events.outbox``)
``article:missing``        a lookup that found nothing (also ``author:missing``, ...):
                           an object published or renamed may answer it now
``all``                    every answer: purged when content changed behind the API
                           (``masthead import``, ``masthead cache clear``)
=========================  ==============================================================

Every write computes its :class:`Staleness` here (``after_*``) and records it in its
transaction (``cache_invalidations.record``). A node's own fields and its place in a page go
together: a write to an article that is or
was published (public or scheduled) makes stale the article, every list it is or was in
(its categories up to the root, its author, its tags, ``articles``, ``search``), the related
lists it entered or left (``related_lists.refresh_candidate``), those pinning it when it
becomes or stops being public, ``newest`` when its publication changes, and lookups that
may find it now. A draft's writes change nothing an anonymous reader sees. A related list
always hangs off its article, so changes to the article's own list (its pins, tags,
category) are the article's; ``article:12:related`` is for what other articles' writes do
to it.

What a change to a scheduled article does when its instant comes needs no write: cached
answers are kept only until the next scheduled publish (``publishing_schedule``), and a
write that schedules or moves a publication makes stale what the publication will change.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Integer, Row, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Article, ArticleStatus, ArticleTag, RelatedPin, public_at
from resolvers.taxonomy.categories import ancestry

__all__ = [
    "ALL",
    "ARTICLES",
    "AUTHORS",
    "CATEGORIES",
    "CHANGES",
    "NEWEST",
    "SEARCH",
    "TAGS",
    "AnswerTags",
    "ArticleState",
    "NodeType",
    "Staleness",
    "after_article_write",
    "after_category_write",
    "after_named_write",
    "after_tag_delete",
    "article_list",
    "missing",
    "node",
    "related",
]

NodeType = Literal["Article", "Author", "Category", "Tag"]
ListOwner = Literal["Author", "Category", "Tag"]

ALL = "all"
ARTICLES = "articles"
SEARCH = "search"
NEWEST = "newest"
AUTHORS = "authors"
CATEGORIES = "categories"
TAGS = "tags"
CHANGES = "changes"


def node(type_name: NodeType, pk: int) -> str:
    """The tag of one node: ``article:12``."""
    return f"{type_name.lower()}:{pk}"


def related(article_id: int) -> str:
    """The tag of an article's related posts: ``article:12:related``."""
    return f"article:{article_id}:related"


def article_list(owner: ListOwner, pk: int) -> str:
    """The tag of a category's (subtree), author's or tag's articles: ``tag:9:articles``."""
    return f"{owner.lower()}:{pk}:articles"


def missing(type_name: NodeType) -> str:
    """The tag of lookups of a type that found nothing: ``article:missing``."""
    return f"{type_name.lower()}:missing"


class AnswerTags:
    """The tags of one answer being computed (``Context.answer_tags``): ``all``, and each
    node and list as a field resolves it."""

    def __init__(self) -> None:
        self._tags = {ALL}

    def __iter__(self) -> Iterator[str]:
        return iter(self._tags)

    def __len__(self) -> int:
        return len(self._tags)

    def add(self, tag: str) -> None:
        self._tags.add(tag)


@dataclass
class Staleness:
    """What a committed write changed, as anonymous readers see it: its :meth:`cache_tags`
    are what caches must drop (a webhook event's ``cacheTags``), its ids the pages whose
    content changed (an event's ``affected``: ``articles`` and ``related_lists``, ``categories``
    and ``category_lists``, ...)."""

    articles: set[int] = field(default_factory=set)
    authors: set[int] = field(default_factory=set)
    categories: set[int] = field(default_factory=set)
    tags: set[int] = field(default_factory=set)
    # Articles whose related posts changed, besides those of ``articles``.
    related_lists: set[int] = field(default_factory=set)
    # Whose article lists (and counts) changed: categories (each subtree), authors, tags.
    category_lists: set[int] = field(default_factory=set)
    author_lists: set[int] = field(default_factory=set)
    tag_lists: set[int] = field(default_factory=set)
    # Named lists: ARTICLES, SEARCH, NEWEST, AUTHORS, CATEGORIES, TAGS, ALL.
    lists: set[str] = field(default_factory=set)
    # Types whose lookups that found nothing may find something now.
    missing: set[NodeType] = field(default_factory=set)

    @classmethod
    def everything(cls) -> Staleness:
        """Every answer (content changed behind the API)."""
        return cls(lists={ALL})

    def cache_tags(self) -> frozenset[str]:
        found = set(self.lists)
        found.update(node("Article", pk) for pk in self.articles)
        found.update(node("Author", pk) for pk in self.authors)
        found.update(node("Category", pk) for pk in self.categories)
        found.update(node("Tag", pk) for pk in self.tags)
        found.update(related(pk) for pk in self.related_lists)
        found.update(article_list("Category", pk) for pk in self.category_lists)
        found.update(article_list("Author", pk) for pk in self.author_lists)
        found.update(article_list("Tag", pk) for pk in self.tag_lists)
        found.update(missing(type_name) for type_name in self.missing)
        return frozenset(found)


@dataclass(frozen=True)
class ArticleState:
    """An article as it stood before or after a write: what its cache tags depend on."""

    id: int
    slug: str
    status: str
    published_at: datetime | None
    category_id: int
    author_id: int
    unpublish_at: datetime | None = None

    @classmethod
    def of(cls, article: Article | Row[Any]) -> ArticleState:
        return cls(
            article.id,
            article.slug,
            article.status,
            article.published_at,
            article.category_id,
            article.author_id,
            article.unpublish_at,
        )

    @property
    def published(self) -> bool:
        """Public, or scheduled to be: what caches may show now or at its instant."""
        return self.status == ArticleStatus.PUBLISHED.value and self.published_at is not None

    def public(self, now: datetime) -> bool:
        return public_at(now, self.status, self.published_at, self.unpublish_at)


# Kinds of rows of the facts statement.
_CATEGORY, _PINNED_BY, _TAG = 0, 1, 2


async def _facts(
    session: AsyncSession,
    *,
    article_id: int | None,
    category_ids: Collection[int],
    pinned_by: bool,
    article_tags: bool,
) -> dict[int, set[int]]:
    """In one statement: the categories and their ancestors; the articles pinning the
    article (``pinned_by``); its tags (``article_tags``)."""
    tree = ancestry(list(category_ids))
    parts = [select(literal(_CATEGORY, Integer), tree.c.id)]
    if pinned_by and article_id is not None:
        parts.append(
            select(literal(_PINNED_BY, Integer), RelatedPin.article_id).where(
                RelatedPin.related_id == article_id
            )
        )
    if article_tags and article_id is not None:
        parts.append(
            select(literal(_TAG, Integer), ArticleTag.tag_id).where(
                ArticleTag.article_id == article_id
            )
        )
    found: dict[int, set[int]] = {_CATEGORY: set(), _PINNED_BY: set(), _TAG: set()}
    statement = parts[0] if len(parts) == 1 else union_all(*parts)
    for kind, pk in await session.execute(statement):
        found[kind].add(pk)
    return found


async def after_article_write(
    session: AsyncSession,
    *,
    before: ArticleState | None,
    after: ArticleState | None,
    now: datetime,
    related_lists: Collection[int] = (),
    tags_before: Collection[int] | None = None,
    tags_after: Collection[int] | None = None,
) -> Staleness:
    """What a write to one article made stale (see the module): ``before`` is None for a
    create, ``after`` for a delete; ``related_lists`` are the articles whose kept related
    lists it changed; the article's tags, unless given (``tags_before``/``tags_after`` when
    the write replaced them), are read as they are now. In the write's transaction (a delete:
    before it deletes)."""
    states = [state for state in (before, after) if state is not None]
    if not any(state.published for state in states):
        return Staleness()
    article_id = states[0].id
    was_public = before is not None and before.public(now)
    is_public = after is not None and after.public(now)
    facts = await _facts(
        session,
        article_id=article_id,
        category_ids={state.category_id for state in states},
        pinned_by=was_public != is_public,
        article_tags=tags_before is None or (after is not None and tags_after is None),
    )
    tags = set(facts[_TAG])
    tags.update(tags_before or ())
    tags.update(tags_after or ())
    stale = Staleness(
        articles={article_id},
        related_lists=set(related_lists) | facts[_PINNED_BY],
        category_lists=facts[_CATEGORY],
        author_lists={state.author_id for state in states},
        tag_lists=tags,
        lists={ARTICLES, SEARCH},
    )
    publication = [(state.published, state.published_at, state.unpublish_at) for state in states]
    if len(publication) == 1 or publication[0] != publication[1]:
        stale.lists.add(NEWEST)
    # Lookups by id or slug may find it now (or at its instant).
    if after is not None and after.published:
        moved = before is None or (before.published, before.published_at, before.slug) != (
            after.published,
            after.published_at,
            after.slug,
        )
        if moved:
            stale.missing.add("Article")
    return stale


async def after_category_write(
    session: AsyncSession,
    *,
    category_id: int,
    before: tuple[str, int | None] | None,
    after: tuple[str, int | None] | None,
) -> Staleness:
    """What a create, update or delete of a category made stale; ``before`` and ``after``
    are its ``(slug, parent_id)`` (None where it did not exist). A move changes the article
    lists of every category above it, before and after."""
    stale = Staleness(categories={category_id}, lists={CATEGORIES})
    if before is None:
        stale.missing.add("Category")
    if before is None or after is None:
        return stale
    if before[0] != after[0]:
        # Lookups and filters by slug: the new one finds it, the old one no longer does.
        stale.missing.add("Category")
        stale.lists.update((ARTICLES, SEARCH))
    if before[1] != after[1]:
        parents = {parent for parent in (before[1], after[1]) if parent is not None}
        facts = await _facts(
            session, article_id=None, category_ids=parents, pinned_by=False, article_tags=False
        )
        stale.category_lists = facts[_CATEGORY]
        stale.lists.update((ARTICLES, SEARCH))
    return stale


def after_named_write(
    type_name: Literal["Author", "Tag"], pk: int, *, before: str | None, after: str | None
) -> Staleness:
    """What a create, update or delete of an author or tag made stale (``before`` and
    ``after`` are its slug, None where it did not exist); a tag's delete is
    :func:`after_tag_delete`."""
    named = AUTHORS if type_name == "Author" else TAGS
    stale = Staleness(lists={named})
    (stale.authors if type_name == "Author" else stale.tags).add(pk)
    if before is None or (after is not None and before != after):
        stale.missing.add(type_name)
    if before is not None and after is not None and before != after:
        stale.lists.update((ARTICLES, SEARCH))  # filters by slug
    return stale


async def after_tag_delete(
    session: AsyncSession, tag_id: int, articles: Iterable[ArticleState]
) -> Staleness:
    """What deleting a tag made stale: the tag, its list, the lists filtered by it, and each
    published article that carried it (written: its tags, version and update time changed,
    so lists in ``UPDATED`` order too)."""
    stale = Staleness(tags={tag_id}, tag_lists={tag_id}, lists={TAGS, ARTICLES, SEARCH})
    shown = [article for article in articles if article.published]
    if not shown:
        return stale
    stale.articles.update(article.id for article in shown)
    stale.author_lists.update(article.author_id for article in shown)
    facts = await _facts(
        session,
        article_id=None,
        category_ids={article.category_id for article in shown},
        pinned_by=False,
        article_tags=False,
    )
    stale.category_lists = facts[_CATEGORY]
    return stale
