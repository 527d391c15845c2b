"""The changes feed over GraphQL (SPEC, Events: Changes feed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import strawberry

from db import models
from resolvers.cache_tags import CHANGES
from resolvers.events import changes
from resolvers.events.changes import CHANGE_ORDER, ChangeKind, ChangeRow
from resolvers.global_ids import encode_global_id
from resolvers.pagination import PageRequest
from schema.types import Article, Author, Category, Connection, Info, Node, Tag, connection

__all__ = ["Change", "ChangeKind", "ChangesQuery"]

strawberry.enum(
    ChangeKind,
    name="ChangeKind",
    description="What became of a node: changed or new (`UPSERT`), or gone for the caller "
    "(`REMOVE`: deleted, or no longer public).",
)


@strawberry.type(description="One change of one node, as the caller may see it.")
class Change:
    kind: ChangeKind = strawberry.field(description="Upsert or remove.")
    typename: str = strawberry.field(description="`Article`, `Category`, `Author` or `Tag`.")
    id: strawberry.ID = strawberry.field(description="The node's global id.")
    slug: str | None = strawberry.field(description="Its slug at the change.")
    node: Node | None = strawberry.field(
        description="The node as it is now, if the caller may see it; null when gone or hidden."
    )
    occurred_at: datetime = strawberry.field(description="When the change was made.")

    @classmethod
    def shown(cls, info: Info, row: ChangeRow) -> Change:
        return cls(
            kind=row.kind,
            typename=row.typename,
            id=strawberry.ID(encode_global_id(row.typename, row.subject_id)),
            slug=row.slug,
            node=_node(info, row.node),
            occurred_at=row.occurred_at.replace(tzinfo=UTC),
        )


def _node(
    info: Info, row: models.Article | models.Author | models.Category | models.Tag | None
) -> Node | None:
    if isinstance(row, models.Article):
        return Article.shown(info, row)
    if isinstance(row, models.Author):
        return Author.shown(info, row)
    if isinstance(row, models.Category):
        return Category.shown(info, row)
    if isinstance(row, models.Tag):
        return Tag.shown(info, row)
    return None


@strawberry.type
class ChangesQuery:
    @strawberry.field(
        description="What changed, in commit order, as the caller may see it: keep the last "
        "`endCursor` and ask again with `after` to get exactly what changed since."
    )
    async def changes(
        self,
        info: Info,
        after: Annotated[
            str | None, strawberry.argument(description="The cursor of the last change seen.")
        ] = None,
        first: Annotated[
            int | None, strawberry.argument(description="How many (at most 100).")
        ] = 100,
    ) -> Connection[Change]:
        context = info.context
        request = PageRequest(first=first, after=after)
        page = await context.read(
            lambda session: changes.changes_page(
                session, request=request, viewer=context.viewer, now=context.now
            )
        )
        context.shows(CHANGES)
        after_id = CHANGE_ORDER.decode(after)[0] if after is not None else None
        return connection(
            page,
            lambda row: Change.shown(info, row),
            lambda: context.read(lambda session: changes.change_count(session, after=after_id)),
        )
