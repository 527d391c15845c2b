"""titles' own full-text vectors, for bounded search ranking

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

Search scores only a bounded set of candidates: the newest matches overall and the newest
matches in the title (see ``resolvers/search/bounds.py``). The second needs the titles'
words on their own, in two ways: walked newest first, checked row by row (a common word),
or looked up in an index (a rare one).

PostgreSQL: a stored generated ``tsvector`` of the title alone (the configuration of
``search_document``, so a title match is a document match) with a GIN index. Stored rather
than an expression index: checking a row then reads a vector of a few dozen bytes instead of
running the parser, ``unaccent`` and the stemmer over the title, which is what makes the
walk worth it (bench/results/search.md). SQLite needs nothing: the FTS5 table of 0002
answers ``{title} : (...)`` column filters from the index it already has.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from db.dialects import POSTGRESQL, database_of

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if database_of(op.get_bind()) is POSTGRESQL:
        op.execute(
            "ALTER TABLE articles ADD COLUMN search_title tsvector GENERATED ALWAYS AS ("
            "to_tsvector('masthead_search', title)) STORED"
        )
        op.execute("CREATE INDEX ix_articles_search_title ON articles USING gin (search_title)")


def downgrade() -> None:
    if database_of(op.get_bind()) is POSTGRESQL:
        op.execute("DROP INDEX ix_articles_search_title")
        op.execute("ALTER TABLE articles DROP COLUMN search_title")
