"""an order for former slugs, so an export lists them oldest first

Revision ID: 0006_former_slug_order
Revises: 0005_name_sort_keys
Create Date: 2026-12-09

``article_slugs`` gets ``position`` (``db.models.ArticleSlug``: 1 for an article's oldest
former slug) and a unique index on ``(article_id, position)``, which also serves the lookups
the index on ``article_id`` alone served, so that one goes. Nothing recorded which of the
slugs already there is older: they are numbered in slug order (code points, sorted here
rather than by a database whose collation may differ), the order exports wrote them in.

The table is rebuilt on SQLite to make the column NOT NULL; no other table references it,
so the rebuild cascades to nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

import sqlalchemy as sa
from alembic import op

revision: str = "0006_former_slug_order"
down_revision: str | None = "0005_name_sort_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_TABLE = "article_slugs"
_BY_ARTICLE = "ix_article_slugs_article_id"
_BY_POSITION = "ix_article_slugs_article_id_position"


def upgrade() -> None:
    with op.batch_alter_table(_TABLE) as batch:
        batch.add_column(sa.Column("position", sa.Integer(), nullable=True))
    _number_existing()
    with op.batch_alter_table(_TABLE) as batch:
        batch.alter_column("position", existing_type=sa.Integer(), nullable=False)
        batch.drop_index(_BY_ARTICLE)
        batch.create_index(_BY_POSITION, ["article_id", "position"], unique=True)


def _number_existing() -> None:
    table = sa.table(
        _TABLE,
        sa.column("slug", sa.String()),
        sa.column("article_id", sa.Integer()),
        sa.column("position", sa.Integer()),
    )
    bind = op.get_bind()
    rows: list[tuple[int, str]] = sorted(
        (article_id, slug)
        for article_id, slug in bind.execute(sa.select(table.c.article_id, table.c.slug))
    )
    numbered = [
        {"former": slug, "number": number}
        for _, slugs in groupby(rows, key=lambda row: row[0])
        for number, (_, slug) in enumerate(slugs, start=1)
    ]
    if numbered:
        bind.execute(
            sa.update(table)
            .where(table.c.slug == sa.bindparam("former"))
            .values(position=sa.bindparam("number")),
            numbered,
        )


def downgrade() -> None:
    with op.batch_alter_table(_TABLE) as batch:
        batch.drop_index(_BY_POSITION)
        batch.create_index(_BY_ARTICLE, ["article_id"], unique=False)
        batch.drop_column("position")
