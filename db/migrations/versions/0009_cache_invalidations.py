"""the invalidation log of cached answers: when each cache tag last went stale

Revision ID: 0009_cache_invalidations
Revises: 0008_kept_related_lists
Create Date: 2026-12-02

``cache_invalidations`` (one row per cache tag a write has made stale, keyed by a 32-bit
hash of the tag, and the row of key 0 holding the log's sequence), described in
``resolvers.cache_invalidations``. It starts empty: nothing has been cached yet.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_cache_invalidations"
down_revision: str | None = "0008_kept_related_lists"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cache_invalidations",
        sa.Column("tag_key", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tag_key", name=op.f("pk_cache_invalidations")),
    )
    with op.batch_alter_table("cache_invalidations", schema=None) as batch_op:
        batch_op.create_index("ix_cache_invalidations_changed_at", ["changed_at"], unique=False)


def downgrade() -> None:
    op.drop_table("cache_invalidations")
