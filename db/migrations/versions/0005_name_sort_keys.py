"""sort keys for authors, categories and tags, so names list as people read them

Revision ID: 0005_name_sort_keys
Revises: 0004
Create Date: 2026-12-02

Each of the three tables gets ``name_key`` (``db.name_keys``: the name without case or
accents, then the name itself, as bytes) computed here for the rows already there, and an
index on ``(name_key, id)``, the order its lists are walked in.

SQLite adds a NOT NULL column only with a default, so there the column keeps the empty key
as its default: dropping it would mean rebuilding the table, and with foreign keys on,
dropping the old copy deletes what cascades from it (an author's API tokens) or is refused
(rows that articles still reference). Every write Masthead makes sets the key.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.dialects import POSTGRESQL, database_of
from db.name_keys import name_key

revision: str = "0005_name_sort_keys"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_TABLES = ("authors", "categories", "tags")


def upgrade() -> None:
    on_postgresql = database_of(op.get_bind()) is POSTGRESQL
    for name in _TABLES:
        op.add_column(
            name,
            sa.Column(
                "name_key",
                sa.LargeBinary(),
                nullable=on_postgresql,
                server_default=None if on_postgresql else sa.text("x''"),
            ),
        )
        _fill_keys(name)
        if on_postgresql:
            op.alter_column(name, "name_key", existing_type=sa.LargeBinary(), nullable=False)
        op.create_index(f"ix_{name}_name_key", name, ["name_key", "id"], unique=False)


def _fill_keys(name: str) -> None:
    table = sa.table(
        name,
        sa.column("id", sa.Integer()),
        sa.column("name", sa.String()),
        sa.column("name_key", sa.LargeBinary()),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(table.c.id, table.c.name)).all()
    if rows:
        bind.execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("row_id"))
            .values(name_key=sa.bindparam("key")),
            [{"row_id": row_id, "key": name_key(row_name)} for row_id, row_name in rows],
        )


def downgrade() -> None:
    for name in _TABLES:
        op.drop_index(f"ix_{name}_name_key", table_name=name)
        op.drop_column(name, "name_key")
