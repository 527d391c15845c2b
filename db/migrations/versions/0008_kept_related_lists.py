"""kept related-posts lists: each article's ranking computed once and kept exact

Revision ID: 0008_kept_related_lists
Revises: 0007_slugs_in_code_point_order
Create Date: 2026-12-02

``related_lists`` (one row per article whose ranking is kept, with the floor it was cut at)
and ``related_entries`` (its scored candidates), described in
``resolvers.articles.related_lists``. Both start empty: lists are computed when first read.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_kept_related_lists"
down_revision: str | None = "0007_slugs_in_code_point_order"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "related_lists",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("floor_score", sa.Integer(), nullable=False),
        sa.Column("floor_published_at", sa.DateTime(), nullable=True),
        sa.Column("floor_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_related_lists_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_related_lists")),
    )
    with op.batch_alter_table("related_lists", schema=None) as batch_op:
        batch_op.create_index(
            "ix_related_lists_category_floor", ["category_id", "floor_score"], unique=False
        )

    op.create_table(
        "related_entries",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("related_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["related_lists.article_id"],
            name=op.f("fk_related_entries_article_id_related_lists"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["related_id"],
            ["articles.id"],
            name=op.f("fk_related_entries_related_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", "related_id", name=op.f("pk_related_entries")),
    )
    with op.batch_alter_table("related_entries", schema=None) as batch_op:
        batch_op.create_index("ix_related_entries_related", ["related_id"], unique=False)


def downgrade() -> None:
    op.drop_table("related_entries")
    op.drop_table("related_lists")
