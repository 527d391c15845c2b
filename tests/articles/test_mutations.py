"""The write API (SPEC, Writing) through the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import (
    Article,
    ArticleSlug,
    ArticleTag,
    Author,
    Category,
    RelatedPin,
    Tag,
    utcnow,
)
from resolvers.access.viewer import Role
from resolvers.global_ids import decode_global_id, encode_global_id
from tests.support.auth import bearer
from tests.support.factories import make_article, make_author, make_category, make_tag
from tests.support.graphql import error_codes, graphql

ARTICLE_FIELDS = """
    id slug title excerpt body status publishedAt version wordCount readingTimeMinutes
    author { slug } category { slug } tags { slug }
"""
ERRORS = "errors { field message code }"

CREATE_ARTICLE = f"""
mutation Create($input: CreateArticleInput!) {{
  createArticle(input: $input) {{ article {{ {ARTICLE_FIELDS} }} {ERRORS} }}
}}
"""
UPDATE_ARTICLE = f"""
mutation Update($id: ID!, $input: UpdateArticleInput!, $expectedVersion: Int) {{
  updateArticle(id: $id, input: $input, expectedVersion: $expectedVersion) {{
    article {{ {ARTICLE_FIELDS} }} {ERRORS}
  }}
}}
"""
PUBLISH_ARTICLE = f"""
mutation Publish($id: ID!, $publishAt: DateTime) {{
  publishArticle(id: $id, publishAt: $publishAt) {{ article {{ {ARTICLE_FIELDS} }} {ERRORS} }}
}}
"""
UNPUBLISH_ARTICLE = f"""
mutation Unpublish($id: ID!) {{
  unpublishArticle(id: $id) {{ article {{ {ARTICLE_FIELDS} }} {ERRORS} }}
}}
"""
DELETE_ARTICLE = f"""
mutation Delete($id: ID!) {{ deleteArticle(id: $id) {{ deletedId {ERRORS} }} }}
"""
SET_RELATED_POSTS = f"""
mutation Related($id: ID!, $relatedIds: [ID!]!) {{
  setRelatedPosts(id: $id, relatedIds: $relatedIds) {{
    article {{ version relatedPosts {{ slug }} }} {ERRORS}
  }}
}}
"""
CREATE_CATEGORY = f"""
mutation CreateCategory($input: CategoryInput!) {{
  createCategory(input: $input) {{
    category {{ id slug name description parent {{ slug }} }} {ERRORS}
  }}
}}
"""
UPDATE_CATEGORY = f"""
mutation UpdateCategory($id: ID!, $input: UpdateCategoryInput!) {{
  updateCategory(id: $id, input: $input) {{
    category {{ id slug name description parent {{ slug }} }} {ERRORS}
  }}
}}
"""
DELETE_CATEGORY = f"""
mutation DeleteCategory($id: ID!) {{ deleteCategory(id: $id) {{ deletedId {ERRORS} }} }}
"""
CREATE_AUTHOR = f"""
mutation CreateAuthor($input: AuthorInput!) {{
  createAuthor(input: $input) {{ author {{ id slug name bio avatarUrl }} {ERRORS} }}
}}
"""
UPDATE_AUTHOR = f"""
mutation UpdateAuthor($id: ID!, $input: UpdateAuthorInput!) {{
  updateAuthor(id: $id, input: $input) {{ author {{ id slug name bio avatarUrl }} {ERRORS} }}
}}
"""
DELETE_AUTHOR = f"""
mutation DeleteAuthor($id: ID!) {{ deleteAuthor(id: $id) {{ deletedId {ERRORS} }} }}
"""
CREATE_TAG = f"""
mutation CreateTag($input: TagInput!) {{
  createTag(input: $input) {{ tag {{ id slug name }} {ERRORS} }}
}}
"""
UPDATE_TAG = f"""
mutation UpdateTag($id: ID!, $input: UpdateTagInput!) {{
  updateTag(id: $id, input: $input) {{ tag {{ id slug name }} {ERRORS} }}
}}
"""
DELETE_TAG = f"""
mutation DeleteTag($id: ID!) {{ deleteTag(id: $id) {{ deletedId {ERRORS} }} }}
"""
ARTICLE_BY_SLUG = """
query BySlug($slug: String!) { article(slug: $slug) { id slug title } }
"""


def gid(type_name: str, pk: int) -> str:
    return encode_global_id(type_name, pk)


@dataclass
class World:
    client: httpx.AsyncClient
    sessionmaker: async_sessionmaker[AsyncSession]
    author: Author
    other_author: Author
    category: Category
    tags: list[Tag]
    admin: dict[str, str]
    editor: dict[str, str]
    writer: dict[str, str]

    async def run(
        self, query: str, variables: dict[str, Any], headers: dict[str, str] | None
    ) -> dict[str, Any]:
        return await graphql(self.client, query, variables, headers=headers)

    async def payload(
        self, query: str, variables: dict[str, Any], headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """The one mutation's payload; the request itself must not fail."""
        body = await self.run(query, variables, headers if headers is not None else self.editor)
        assert "errors" not in body, body["errors"]
        (payload,) = body["data"].values()
        result: dict[str, Any] = payload
        return result

    async def create(self, headers: dict[str, str] | None = None, **fields: Any) -> dict[str, Any]:
        """An article created through the API (must succeed)."""
        input = {
            "title": "A title",
            "body": "<p>Body text.</p>",
            "authorId": gid("Author", self.author.id),
            "categoryId": gid("Category", self.category.id),
            **fields,
        }
        payload = await self.payload(CREATE_ARTICLE, {"input": input}, headers)
        assert payload["errors"] == [], payload["errors"]
        article: dict[str, Any] = payload["article"]
        return article

    async def count(self, model: type[Any]) -> int:
        async with self.sessionmaker() as session:
            return await session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
async def world(client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]) -> World:
    author = await make_author(sessionmaker, name="Ada Lovelace", slug="ada")
    other = await make_author(sessionmaker, name="Grace Hopper", slug="grace")
    category = await make_category(sessionmaker, name="Procurement", slug="procurement")
    tags = [
        await make_tag(sessionmaker, name="Budget", slug="budget"),
        await make_tag(sessionmaker, name="Tenders", slug="tenders"),
    ]
    return World(
        client=client,
        sessionmaker=sessionmaker,
        author=author,
        other_author=other,
        category=category,
        tags=tags,
        admin=await bearer(sessionmaker, Role.ADMIN),
        editor=await bearer(sessionmaker, Role.EDITOR),
        writer=await bearer(sessionmaker, Role.WRITER, author),
    )


# --- creating articles -------------------------------------------------------------------


async def test_create_article_starts_as_a_draft_with_derived_fields(world: World) -> None:
    body = (
        "<p onclick='steal()'>Public buyers spent more this year. Much more.</p>"
        "<script>alert('x')</script><p>" + " ".join(["word"] * 395) + "</p>"
    )
    article = await world.create(
        title="Über die Straße: 2024!",
        body=body,
        tagIds=[gid("Tag", world.tags[1].id), gid("Tag", world.tags[0].id)],
    )
    assert article["slug"] == "uber-die-strasse-2024"
    assert article["status"] == "DRAFT"
    assert article["publishedAt"] is None
    assert article["version"] == 1
    assert "script" not in article["body"] and "onclick" not in article["body"]
    assert article["excerpt"] == "Public buyers spent more this year."
    assert article["wordCount"] == 8 + 395
    assert article["readingTimeMinutes"] == 3
    assert article["author"] == {"slug": "ada"}
    assert article["category"] == {"slug": "procurement"}
    assert article["tags"] == [{"slug": "budget"}, {"slug": "tenders"}]


async def test_given_excerpt_and_slug_are_kept(world: World) -> None:
    article = await world.create(slug="my-own-slug", excerpt="A <b>short</b> summary.")
    assert article["slug"] == "my-own-slug"
    assert article["excerpt"] == "A short summary."


async def test_generated_slugs_are_made_unique(world: World) -> None:
    slugs = [(await world.create(title="Budget news"))["slug"] for _ in range(3)]
    assert slugs == ["budget-news", "budget-news-2", "budget-news-3"]
    assert (await world.create(title="中文标题"))["slug"] == "article"
    assert (await world.create(title="中文标题"))["slug"] == "article-2"


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"title": ""}, ["title"], "REQUIRED"),
        ({"title": "   "}, ["title"], "REQUIRED"),
        ({"title": "x" * 501}, ["title"], "INVALID"),
        ({"authorId": gid("Author", 999_999)}, ["authorId"], "NOT_FOUND"),
        ({"authorId": "not-an-id"}, ["authorId"], "NOT_FOUND"),
        ({"categoryId": gid("Author", 1)}, ["categoryId"], "NOT_FOUND"),
        ({"tagIds": ["x", gid("Tag", 999_999)]}, ["tagIds", "0"], "NOT_FOUND"),
        ({"slug": "Not URL safe"}, ["slug"], "INVALID"),
        ({"slug": "double--hyphen"}, ["slug"], "INVALID"),
        ({"slug": ""}, ["slug"], "INVALID"),
        ({"slug": "taken"}, ["slug"], "DUPLICATE"),
    ],
)
async def test_invalid_input_names_the_field_and_writes_nothing(
    world: World, change: dict[str, Any], field: list[str], code: str
) -> None:
    await make_article(
        world.sessionmaker, author=world.author, category=world.category, slug="taken"
    )
    input = {
        "title": "Fine",
        "body": "<p>x</p>",
        "authorId": gid("Author", world.author.id),
        "categoryId": gid("Category", world.category.id),
        **change,
    }
    payload = await world.payload(CREATE_ARTICLE, {"input": input})
    assert payload["article"] is None
    assert any(e["field"] == field and e["code"] == code for e in payload["errors"]), payload
    assert await world.count(Article) == 1
    assert await world.count(ArticleTag) == 0


async def test_every_problem_is_reported_at_once(world: World) -> None:
    input = {"title": "", "body": "", "authorId": "x", "categoryId": "y", "slug": "A B"}
    payload = await world.payload(CREATE_ARTICLE, {"input": input})
    fields = {tuple(e["field"]) for e in payload["errors"]}
    assert fields == {("title",), ("authorId",), ("categoryId",), ("slug",)}


@pytest.mark.parametrize(
    "text",
    ["a NUL\x00inside", "\x00", "a lone \ud800 surrogate", "\udfff"],
    ids=["nul", "only-nul", "lone-high-surrogate", "lone-low-surrogate"],
)
async def test_unstorable_text_in_an_input_is_bad_user_input_and_writes_nothing(
    world: World, text: str
) -> None:
    # PostgreSQL's text cannot hold NUL and no database a lone surrogate: refused alike on
    # both, before anything is written, rather than stored on one and a crash on the other.
    author = gid("Author", world.author.id)
    article = {"title": "Fine", "body": "<p>x</p>", "authorId": author,
               "categoryId": gid("Category", world.category.id)}  # fmt: skip
    writes: list[tuple[str, dict[str, Any], dict[str, str]]] = [
        (CREATE_ARTICLE, {"input": {**article, "title": text}}, world.editor),
        (CREATE_ARTICLE, {"input": {**article, "body": f"<p>{text}</p>"}}, world.editor),
        (UPDATE_AUTHOR, {"id": author, "input": {"bio": text}}, world.admin),
        (CREATE_TAG, {"input": {"name": text}}, world.admin),
    ]
    for query, variables, headers in writes:
        body = await graphql(world.client, query, variables, headers=headers, escaped=True)
        assert "data" not in body, variables
        assert error_codes(body) == ["BAD_USER_INPUT"], variables
        assert "which is not text that can be stored" in body["errors"][0]["message"]
    # Written into the document instead, NUL is refused alike; a lone surrogate's escape is
    # no GraphQL string at all, so that document does not even parse.
    inline = f"mutation {{ createTag(input: {{name: {json.dumps(text)}}}) {{ tag {{ id }} }} }}"
    body = await graphql(world.client, inline, headers=world.admin, escaped=True)
    surrogate = any("\ud800" <= char <= "\udfff" for char in text)
    assert error_codes(body) == ["GRAPHQL_PARSE_FAILED" if surrogate else "BAD_USER_INPUT"]
    assert await world.count(Article) == 0
    assert await world.count(Tag) == 2
    async with world.sessionmaker() as session:
        bio = await session.scalar(select(Author.bio).where(Author.id == world.author.id))
    assert bio == world.author.bio


# --- tokens and roles ----------------------------------------------------------------------


async def test_writing_without_a_token_is_unauthenticated(world: World) -> None:
    input = {"title": "T", "body": "", "authorId": gid("Author", world.author.id),
             "categoryId": gid("Category", world.category.id)}  # fmt: skip
    body = await world.run(CREATE_ARTICLE, {"input": input}, None)
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None
    body = await world.run(CREATE_TAG, {"input": {"name": "x"}}, None)
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert await world.count(Article) == 0


async def test_writer_writes_only_its_own_drafts(world: World) -> None:
    own = await world.create(world.writer, title="Mine")
    # Another author's article, and creating one for another author: forbidden.
    other = await world.create(title="Theirs", authorId=gid("Author", world.other_author.id))
    input = {"title": "Not mine", "body": "", "authorId": gid("Author", world.other_author.id),
             "categoryId": gid("Category", world.category.id)}  # fmt: skip
    assert error_codes(await world.run(CREATE_ARTICLE, {"input": input}, world.writer)) == [
        "FORBIDDEN"
    ]
    # Another author's draft answers as an id that does not exist: nothing tells it is there.
    changed = {"id": other["id"], "input": {"title": "Hijacked"}}
    hidden = await world.payload(UPDATE_ARTICLE, changed, world.writer)
    missing = {"id": gid("Article", 10**6), "input": {"title": "Hijacked"}}
    absent = await world.payload(UPDATE_ARTICLE, missing, world.writer)
    for payload in (hidden, absent):
        assert payload["article"] is None
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [(["id"], "NOT_FOUND")]
    assert hidden["errors"][0]["message"] == f"No article with id {other['id']!r}."
    # Handing its own draft to another author: forbidden.
    handed = {"id": own["id"], "input": {"authorId": gid("Author", world.other_author.id)}}
    assert error_codes(await world.run(UPDATE_ARTICLE, handed, world.writer)) == ["FORBIDDEN"]
    # Never publishes, unpublishes or deletes.
    for mutation in (PUBLISH_ARTICLE, UNPUBLISH_ARTICLE, DELETE_ARTICLE):
        body = await world.run(mutation, {"id": own["id"]}, world.writer)
        assert error_codes(body) == ["FORBIDDEN"]
    # Its own draft it may edit; once published, no longer.
    edited = await world.payload(UPDATE_ARTICLE, {"id": own["id"], "input": {"title": "Mine 2"}},
                                 world.writer)  # fmt: skip
    assert edited["article"]["title"] == "Mine 2"
    await world.payload(PUBLISH_ARTICLE, {"id": own["id"]})
    again = {"id": own["id"], "input": {"title": "Mine 3"}}
    assert error_codes(await world.run(UPDATE_ARTICLE, again, world.writer)) == ["FORBIDDEN"]
    related = {"id": own["id"], "relatedIds": []}
    assert error_codes(await world.run(SET_RELATED_POSTS, related, world.writer)) == ["FORBIDDEN"]
    # Categories, authors and tags are admin-only.
    for role in (world.writer, world.editor):
        assert error_codes(await world.run(CREATE_TAG, {"input": {"name": "x"}}, role)) == [
            "FORBIDDEN"
        ]
    async with world.sessionmaker() as session:
        titles = set(await session.scalars(select(Article.title)))
        version = await session.scalar(select(Article.version).where(Article.title == "Theirs"))
    assert titles == {"Mine 2", "Theirs"}
    assert version == 1
    assert await world.count(Tag) == 2


async def test_writer_may_not_edit_another_authors_public_article_nor_find_a_hidden_one(
    world: World,
) -> None:
    other = await world.create(title="Theirs", authorId=gid("Author", world.other_author.id))
    await world.payload(PUBLISH_ARTICLE, {"id": other["id"]})
    changed = {"id": other["id"], "input": {"title": "Hijacked"}}
    # Public, so the writer may see it: refused for its role, not answered as missing.
    assert error_codes(await world.run(UPDATE_ARTICLE, changed, world.writer)) == ["FORBIDDEN"]
    # Past its unpublishing instant, before the worker has changed its status: no longer
    # public, so hidden from the writer like a draft.
    decoded = decode_global_id(other["id"])
    assert decoded is not None
    _, pk = decoded
    now = utcnow()
    async with world.sessionmaker.begin() as session:
        article = await session.get_one(Article, pk)
        article.published_at = now - timedelta(hours=2)
        article.unpublish_at = now - timedelta(hours=1)
    hidden = await world.payload(UPDATE_ARTICLE, changed, world.writer)
    assert [(e["field"], e["code"]) for e in hidden["errors"]] == [(["id"], "NOT_FOUND")]
    async with world.sessionmaker() as session:
        assert await session.scalar(select(Article.title).where(Article.id == pk)) == "Theirs"


async def test_editor_sees_drafts_anonymous_readers_do_not(world: World) -> None:
    draft = await world.create(title="Secret plans")
    query = """query($id: ID!, $slug: String!) {
      article(id: $id) { slug } bySlug: article(slug: $slug) { slug } node(id: $id) { id }
      articles(filter: {status: [DRAFT]}) { totalCount nodes { slug } }
    }"""
    variables = {"id": draft["id"], "slug": draft["slug"]}
    seen = await world.run(query, variables, world.editor)
    assert "errors" not in seen, seen
    assert seen["data"]["article"] == {"slug": "secret-plans"}
    assert seen["data"]["bySlug"] == {"slug": "secret-plans"}
    assert seen["data"]["node"] == {"id": draft["id"]}
    assert seen["data"]["articles"]["totalCount"] == 1
    anonymous = await world.run(query.replace("articles(filter: {status: [DRAFT]})",
                                              "articles"), variables, None)  # fmt: skip
    assert "errors" not in anonymous, anonymous
    assert anonymous["data"]["article"] is None
    assert anonymous["data"]["bySlug"] is None
    assert anonymous["data"]["node"] is None
    assert anonymous["data"]["articles"]["totalCount"] == 0


# --- updating ------------------------------------------------------------------------------


async def test_update_changes_only_what_is_given_and_increments_version(world: World) -> None:
    article = await world.create(title="First", body="<p>One two three.</p>",
                                 tagIds=[gid("Tag", world.tags[0].id)])  # fmt: skip
    payload = await world.payload(
        UPDATE_ARTICLE,
        {"id": article["id"], "input": {"body": "<p>Four five. Six <img src=x onerror=y>.</p>"}},
    )
    updated = payload["article"]
    assert updated["version"] == 2
    assert updated["title"] == "First"
    assert updated["body"] == '<p>Four five. Six <img src="x">.</p>'
    assert updated["wordCount"] == 3
    assert updated["excerpt"] == "Four five."  # a derived excerpt follows the body
    assert updated["tags"] == [{"slug": "budget"}]
    payload = await world.payload(
        UPDATE_ARTICLE, {"id": article["id"], "input": {"excerpt": "Mine.", "tagIds": []}}
    )
    assert payload["article"]["excerpt"] == "Mine."
    assert payload["article"]["tags"] == []
    payload = await world.payload(
        UPDATE_ARTICLE, {"id": article["id"], "input": {"body": "<p>Seven.</p>"}}
    )
    assert payload["article"]["excerpt"] == "Mine."  # a given excerpt stays
    assert payload["article"]["version"] == 4


async def test_a_draft_slug_follows_its_title_a_published_one_never(world: World) -> None:
    article = await world.create(title="Untitled draft")
    payload = await world.payload(
        UPDATE_ARTICLE, {"id": article["id"], "input": {"title": "Budget 2025"}}
    )
    assert payload["article"]["slug"] == "budget-2025"
    await world.payload(PUBLISH_ARTICLE, {"id": article["id"]})
    payload = await world.payload(
        UPDATE_ARTICLE, {"id": article["id"], "input": {"title": "Budget 2026"}}
    )
    assert payload["article"]["slug"] == "budget-2025"
    # A slug given explicitly stays, whatever the title does.
    custom = await world.create(title="Some title", slug="custom")
    payload = await world.payload(
        UPDATE_ARTICLE, {"id": custom["id"], "input": {"title": "Other title"}}
    )
    assert payload["article"]["slug"] == "custom"


async def test_a_published_article_keeps_answering_at_its_old_slug(world: World) -> None:
    article = await world.create(title="Old name")
    await world.payload(PUBLISH_ARTICLE, {"id": article["id"]})
    payload = await world.payload(
        UPDATE_ARTICLE, {"id": article["id"], "input": {"slug": "new-name"}}
    )
    assert payload["errors"] == []
    assert payload["article"]["slug"] == "new-name"
    for slug in ("old-name", "new-name"):
        body = await world.run(ARTICLE_BY_SLUG, {"slug": slug}, None)
        assert body["data"]["article"] == {
            "id": article["id"], "slug": "new-name", "title": "Old name"
        }  # fmt: skip
    # The old slug stays reserved for it: nobody else may take it, nor be generated into it.
    other = await world.create(title="Other")
    taken = await world.payload(UPDATE_ARTICLE, {"id": other["id"], "input": {"slug": "old-name"}})
    assert taken["errors"][0]["code"] == "DUPLICATE"
    assert (await world.create(title="Old name"))["slug"] == "old-name-2"
    # Taking its own old slug back makes it current again.
    back = await world.payload(UPDATE_ARTICLE, {"id": article["id"], "input": {"slug": "old-name"}})
    assert back["article"]["slug"] == "old-name"
    async with world.sessionmaker() as session:
        former = set(await session.scalars(select(ArticleSlug.slug)))
    assert former == {"new-name"}


async def test_a_slug_left_again_is_the_newest_and_a_former_one_moves_to_its_owner(
    world: World,
) -> None:
    article = await world.create(title="Old name")
    await world.payload(PUBLISH_ARTICLE, {"id": article["id"]})
    for slug in ("new-name", "newer-name", "old-name", "newest-name"):
        await world.payload(UPDATE_ARTICLE, {"id": article["id"], "input": {"slug": slug}})
    article_id = _pk(article["id"])
    assert await _former_slugs_of(world, article_id) == ["new-name", "newer-name", "old-name"]
    # A former slug of another article that this one holds as current (written before
    # slugs were checked against former ones) becomes this one's newest when it leaves it.
    other = await make_article(
        world.sessionmaker, author=world.author, category=world.category, slug="other"
    )
    async with world.sessionmaker.begin() as session:
        session.add(ArticleSlug(slug="newest-name", article_id=other.id, position=1))
        session.add(ArticleSlug(slug="other-old", article_id=other.id, position=2))
    await world.payload(UPDATE_ARTICLE, {"id": article["id"], "input": {"slug": "final"}})
    assert await _former_slugs_of(world, article_id) == [
        "new-name", "newer-name", "old-name", "newest-name"
    ]  # fmt: skip
    assert await _former_slugs_of(world, other.id) == ["other-old"]


async def _former_slugs_of(world: World, article_id: int) -> list[str]:
    async with world.sessionmaker() as session:
        slugs = await session.scalars(
            select(ArticleSlug.slug)
            .where(ArticleSlug.article_id == article_id)
            .order_by(ArticleSlug.position)
        )
        return list(slugs)


async def test_a_draft_slug_change_leaves_no_former_slug(world: World) -> None:
    article = await world.create(title="Draft")
    await world.payload(UPDATE_ARTICLE, {"id": article["id"], "input": {"slug": "renamed"}})
    assert await world.count(ArticleSlug) == 0


async def test_stale_expected_version_is_a_conflict_and_writes_nothing(world: World) -> None:
    article = await world.create(title="Versioned")
    ok = await world.payload(
        UPDATE_ARTICLE, {"id": article["id"], "input": {"title": "V2"}, "expectedVersion": 1}
    )
    assert ok["article"]["version"] == 2
    stale = await world.payload(
        UPDATE_ARTICLE, {"id": article["id"], "input": {"title": "V3"}, "expectedVersion": 1}
    )
    assert stale["article"] is None
    assert stale["errors"][0]["code"] == "CONFLICT"
    assert stale["errors"][0]["field"] == ["expectedVersion"]
    async with world.sessionmaker() as session:
        row = await session.get(Article, _pk(article["id"]))
        assert row is not None
        assert (row.title, row.version) == ("V2", 2)


async def test_unknown_article_is_not_found(world: World) -> None:
    for mutation, variables in (
        (UPDATE_ARTICLE, {"id": gid("Article", 999_999), "input": {"title": "x"}}),
        (PUBLISH_ARTICLE, {"id": "garbage"}),
        (DELETE_ARTICLE, {"id": gid("Tag", world.tags[0].id)}),
    ):
        payload = await world.payload(mutation, variables)
        assert payload["errors"] == [
            {"field": ["id"], "message": payload["errors"][0]["message"], "code": "NOT_FOUND"}
        ]


# --- publishing ----------------------------------------------------------------------------


async def test_publish_now_scheduled_and_unpublish(world: World) -> None:
    article = await world.create(title="News")
    published = (await world.payload(PUBLISH_ARTICLE, {"id": article["id"]}))["article"]
    assert published["status"] == "PUBLISHED"
    assert published["version"] == 2
    public = await world.run(ARTICLE_BY_SLUG, {"slug": "news"}, None)
    assert public["data"]["article"]["slug"] == "news"
    # Publishing again keeps its publication time.
    again = (await world.payload(PUBLISH_ARTICLE, {"id": article["id"]}))["article"]
    assert again["publishedAt"] == published["publishedAt"]

    later = datetime.now(UTC) + timedelta(days=2)
    scheduled = (
        await world.payload(PUBLISH_ARTICLE, {"id": article["id"], "publishAt": later.isoformat()})
    )["article"]
    assert scheduled["status"] == "PUBLISHED"
    assert datetime.fromisoformat(scheduled["publishedAt"]) == later
    hidden = await world.run(ARTICLE_BY_SLUG, {"slug": "news"}, None)
    assert hidden["data"]["article"] is None  # scheduled: not public yet

    unpublished = (await world.payload(UNPUBLISH_ARTICLE, {"id": article["id"]}))["article"]
    assert unpublished["status"] == "DRAFT"
    assert unpublished["publishedAt"] is None
    assert unpublished["version"] == 5


async def test_delete_article(world: World) -> None:
    article = await world.create(title="Doomed", tagIds=[gid("Tag", world.tags[0].id)])
    other = await world.create(title="Other")
    await world.payload(SET_RELATED_POSTS, {"id": other["id"], "relatedIds": [article["id"]]})
    payload = await world.payload(DELETE_ARTICLE, {"id": article["id"]})
    assert payload == {"deletedId": article["id"], "errors": []}
    assert await world.count(Article) == 1
    assert await world.count(ArticleTag) == 0
    assert await world.count(RelatedPin) == 0
    again = await world.payload(DELETE_ARTICLE, {"id": article["id"]})
    assert again["errors"][0]["code"] == "NOT_FOUND"


# --- related posts -------------------------------------------------------------------------


async def test_set_related_posts_pins_in_order_drafts_show_once_public(world: World) -> None:
    source = await world.create(title="Source")
    first = await world.create(title="First")
    draft = await world.create(title="Draft")
    for article in (source, first):
        await world.payload(PUBLISH_ARTICLE, {"id": article["id"]})
    payload = await world.payload(
        SET_RELATED_POSTS, {"id": source["id"], "relatedIds": [draft["id"], first["id"]]}
    )
    assert payload["errors"] == []
    assert payload["article"]["version"] == 3  # create, publish, pins
    assert payload["article"]["relatedPosts"] == [{"slug": "first"}]
    await world.payload(PUBLISH_ARTICLE, {"id": draft["id"]})
    query = "query($slug: String!) { article(slug: $slug) { relatedPosts { slug } } }"
    body = await world.run(query, {"slug": "source"}, None)
    assert body["data"]["article"]["relatedPosts"] == [{"slug": "draft"}, {"slug": "first"}]


async def test_set_related_posts_refuses_self_unknown_and_duplicates(world: World) -> None:
    source = await world.create(title="Source")
    other = await world.create(title="Other")
    await world.payload(SET_RELATED_POSTS, {"id": source["id"], "relatedIds": [other["id"]]})
    payload = await world.payload(
        SET_RELATED_POSTS,
        {
            "id": source["id"],
            "relatedIds": [source["id"], gid("Article", 999_999), other["id"], other["id"]],
        },
    )
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["relatedIds", "0"], "INVALID"),
        (["relatedIds", "3"], "DUPLICATE"),
        (["relatedIds", "1"], "NOT_FOUND"),
    ]
    async with world.sessionmaker() as session:
        pins = list(await session.scalars(select(RelatedPin.related_id)))
    assert pins == [_pk(other["id"])]  # the earlier pins are untouched


# --- categories, authors, tags -------------------------------------------------------------


async def test_category_tree_writes_and_cycles(world: World) -> None:
    root = (
        await world.payload(CREATE_CATEGORY, {"input": {"name": "Public Sector"}}, world.admin)
    )["category"]
    assert root["slug"] == "public-sector"
    child = (
        await world.payload(
            CREATE_CATEGORY,
            {"input": {"name": "Tenders", "parentId": root["id"], "description": "Bids"}},
            world.admin,
        )
    )["category"]
    assert child["parent"] == {"slug": "public-sector"}
    grandchild = (
        await world.payload(
            CREATE_CATEGORY, {"input": {"name": "EU", "parentId": child["id"]}}, world.admin
        )
    )["category"]
    for parent, id in ((grandchild, root), (root, root)):
        payload = await world.payload(
            UPDATE_CATEGORY, {"id": id["id"], "input": {"name": "X", "parentId": parent["id"]}},
            world.admin,
        )  # fmt: skip
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [(["parentId"], "CYCLE")]
    # Fields left out are kept, null clears: renaming keeps the parent and description.
    renamed = await world.payload(
        UPDATE_CATEGORY, {"id": child["id"], "input": {"name": "Bids"}}, world.admin
    )
    assert renamed["category"] == {**child, "name": "Bids"}
    moved = await world.payload(
        UPDATE_CATEGORY,
        {"id": grandchild["id"], "input": {"name": "EU", "parentId": None}},
        world.admin,
    )
    assert moved["category"]["parent"] is None
    async with world.sessionmaker() as session:
        root_row = await session.get(Category, _pk(root["id"]))
        assert root_row is not None and root_row.parent_id is None


async def test_deleting_a_category_or_author_in_use_is_refused(world: World) -> None:
    await world.create(title="Keeps them busy")
    sub = await make_category(world.sessionmaker, parent=world.category)
    for mutation, id in (
        (DELETE_CATEGORY, gid("Category", world.category.id)),
        (DELETE_AUTHOR, gid("Author", world.author.id)),
    ):
        payload = await world.payload(mutation, {"id": id}, world.admin)
        assert payload["deletedId"] is None
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [(["id"], "IN_USE")]
    assert await world.count(Category) == 2
    deleted = await world.payload(DELETE_CATEGORY, {"id": gid("Category", sub.id)}, world.admin)
    assert deleted == {"deletedId": gid("Category", sub.id), "errors": []}
    gone = await world.payload(
        DELETE_AUTHOR, {"id": gid("Author", world.other_author.id)}, world.admin
    )
    assert gone["errors"] == []


async def test_author_writes(world: World) -> None:
    created = await world.payload(
        CREATE_AUTHOR,
        {"input": {"name": "Émile Zola", "bio": "Novelist", "avatarUrl": "https://e.org/z.png"}},
        world.admin,
    )
    author = created["author"]
    assert (author["slug"], author["bio"]) == ("emile-zola", "Novelist")
    bad = await world.payload(
        UPDATE_AUTHOR,
        {"id": author["id"], "input": {"name": "Zola", "avatarUrl": "javascript:alert(1)",
                                       "slug": "ada"}},
        world.admin,
    )  # fmt: skip
    assert sorted((e["field"], e["code"]) for e in bad["errors"]) == [
        (["avatarUrl"], "INVALID"),
        (["slug"], "DUPLICATE"),
    ]
    cleared = await world.payload(
        UPDATE_AUTHOR, {"id": author["id"], "input": {"name": "Zola", "bio": None}}, world.admin
    )
    assert cleared["author"] == {**author, "name": "Zola", "bio": None}


async def test_updates_change_only_what_they_give(world: World) -> None:
    author = (
        await world.payload(
            CREATE_AUTHOR, {"input": {"name": "Ada", "bio": "Old", "slug": "ada-l"}}, world.admin
        )
    )["author"]
    bio_only = await world.payload(
        UPDATE_AUTHOR, {"id": author["id"], "input": {"bio": "New"}}, world.admin
    )
    assert bio_only["errors"] == []
    assert bio_only["author"] == {**author, "bio": "New"}
    no_name = await world.payload(
        UPDATE_AUTHOR, {"id": author["id"], "input": {"name": None}}, world.admin
    )
    assert [(e["field"], e["code"]) for e in no_name["errors"]] == [(["name"], "REQUIRED")]
    tag = (await world.payload(CREATE_TAG, {"input": {"name": "Trade"}}, world.admin))["tag"]
    renamed = await world.payload(
        UPDATE_TAG, {"id": tag["id"], "input": {"slug": "trade-talks"}}, world.admin
    )
    assert renamed["tag"] == {**tag, "slug": "trade-talks"}
    parent = (await world.payload(CREATE_CATEGORY, {"input": {"name": "World"}}, world.admin))[
        "category"
    ]
    child = (
        await world.payload(
            CREATE_CATEGORY, {"input": {"name": "Europe", "description": "EU"}}, world.admin
        )
    )["category"]
    moved = await world.payload(
        UPDATE_CATEGORY, {"id": child["id"], "input": {"parentId": parent["id"]}}, world.admin
    )
    assert moved["errors"] == []
    assert (moved["category"]["name"], moved["category"]["slug"]) == ("Europe", "europe")
    nothing = await world.payload(UPDATE_CATEGORY, {"id": child["id"], "input": {}}, world.admin)
    assert nothing["category"] == moved["category"]


async def test_tag_writes_and_delete_takes_it_off_articles(world: World) -> None:
    created = (await world.payload(CREATE_TAG, {"input": {"name": "Green Deal"}}, world.admin))[
        "tag"
    ]
    assert created["slug"] == "green-deal"
    duplicate = await world.payload(CREATE_TAG, {"input": {"name": "Green Deal"}}, world.admin)
    assert duplicate["tag"]["slug"] == "green-deal-2"
    taken = await world.payload(
        UPDATE_TAG, {"id": created["id"], "input": {"name": "G", "slug": "budget"}}, world.admin
    )
    assert [(e["field"], e["code"]) for e in taken["errors"]] == [(["slug"], "DUPLICATE")]
    empty = await world.payload(CREATE_TAG, {"input": {"name": " "}}, world.admin)
    assert [(e["field"], e["code"]) for e in empty["errors"]] == [(["name"], "REQUIRED")]

    article = await world.create(tagIds=[created["id"], gid("Tag", world.tags[0].id)])
    deleted = await world.payload(DELETE_TAG, {"id": created["id"]}, world.admin)
    assert deleted == {"deletedId": created["id"], "errors": []}
    async with world.sessionmaker() as session:
        row = await session.get(Article, _pk(article["id"]))
        tags = list(await session.scalars(select(ArticleTag.tag_id)))
    assert row is not None and row.version == 2
    assert tags == [world.tags[0].id]


def _pk(global_id: str) -> int:
    decoded = decode_global_id(global_id)
    assert decoded is not None
    return decoded[1]
