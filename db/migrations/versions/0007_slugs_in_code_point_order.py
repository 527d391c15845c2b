"""slugs compared by code point on PostgreSQL, so a prefix search reads their index

Revision ID: 0007_slugs_in_code_point_order
Revises: 0006_former_slug_order
Create Date: 2026-12-02

Picking ``base-2``, ``base-3`` for a title already taken asks for every slug starting with
``base-`` (``resolvers.slugs``). Under the database's collation, linguistic or ``C.UTF-8``,
no index serves that: at a million articles each create and each update read the whole
table. The slug columns take the ``C`` collation (``db.dialects.code_point_string``), so
their unique indexes are in code point order, where the prefix is one range. SQLite
compares by code point already (``BINARY``): nothing to do there.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from db.dialects import POSTGRESQL, database_of

revision: str = "0007_slugs_in_code_point_order"
down_revision: str | None = "0006_former_slug_order"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each table's slug column and its length (db.models).
_SLUGS = {"articles": 300, "article_slugs": 300, "authors": 200, "categories": 200, "tags": 200}


def _collate(collation: str) -> None:
    if database_of(op.get_bind()) is not POSTGRESQL:
        return
    for table, length in _SLUGS.items():
        # Rebuilds the column's indexes in the new order.
        op.execute(
            f"ALTER TABLE {table} ALTER COLUMN slug TYPE VARCHAR({length}) COLLATE {collation}"
        )


def upgrade() -> None:
    _collate('"C"')


def downgrade() -> None:
    _collate('pg_catalog."default"')
