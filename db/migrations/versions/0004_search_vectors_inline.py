"""search vectors stored in the row, not out of line

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

PostgreSQL only. Search reads ``search_document`` row by row wherever it walks articles
newest first (the candidates, the sample that chooses between walk and index, the scores of
the candidates; see ``resolvers/search/postgresql.py``). An article's vector is some 3 KB,
which its default storage (EXTENDED) moves out of line into the TOAST table once a row
passes 2 KB: every read is then an index lookup and two chunk fetches, most of what a walk
costs a row. Storage MAIN keeps it in the row unless the row would not fit a page (the body,
EXTENDED, goes out of line first), so reading vectors costs a fraction of what it did out of
line (bench/results/search.md). The heap grows by the vectors' size and the TOAST table
shrinks by as much.

The setting applies to rows written from now on. Rows already there keep their vectors out
of line until they are next written; ``VACUUM FULL articles`` (which locks the table while
it rewrites it) moves them all at once. SQLite needs nothing: FTS5 keeps its own index.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from db.dialects import POSTGRESQL, database_of

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_VECTORS = ("search_document", "search_title")


def upgrade() -> None:
    if database_of(op.get_bind()) is POSTGRESQL:
        for column in _VECTORS:
            op.execute(f"ALTER TABLE articles ALTER COLUMN {column} SET STORAGE MAIN")


def downgrade() -> None:
    if database_of(op.get_bind()) is POSTGRESQL:
        for column in _VECTORS:
            op.execute(f"ALTER TABLE articles ALTER COLUMN {column} SET STORAGE EXTENDED")
