"""full-text search index over articles

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

Both databases index the same text: the title (weighted most), the excerpt, and the body
with its HTML tags stripped and the common entities decoded, so tag names and link URLs are
never found and ``&amp;`` is not a word. The index follows every write by itself, whatever
does the writing (the API, ``masthead import``, an editor with ``psql``/``sqlite3``), which a
write-path update in Python could not promise.

SQLite: an FTS5 table (``porter unicode61 remove_diacritics 2``: stemmed, case- and
accent-insensitive) with *external content* read from the view ``article_search_text``, so
no second copy of the text is stored, and ``highlight()`` returns the stripped text. SQLite
has no regular expressions, so a recursive CTE in that view does the stripping. Triggers keep
the index in step, reading the view too, so that what is removed is exactly what was
indexed. (``INSERT OR REPLACE`` into ``articles`` would bypass the delete trigger unless
``recursive_triggers`` is on; Masthead writes with ``ON CONFLICT DO UPDATE``, which fires the
update triggers.) Caution for later migrations: a batch (copy-and-rename) migration of
``articles`` on SQLite fails on the view ("no such table" at the rename) and would drop these
triggers with the old table; drop the search objects before it, recreate them and
``rebuild`` after.

PostgreSQL: a stored generated ``tsvector`` column with a GIN index. A generated column
cannot drift from the row and costs no trigger code; its expression must be immutable, so the
accent folding lives in a text search configuration (``english`` with ``unaccent`` before the
stemmer) rather than in a call to the (stable) ``unaccent()`` function. Where the extension
cannot be created (not installed, or no privilege), the configuration is a plain copy of
``english``: search still works, only accents then count; a superuser can later run
``CREATE EXTENSION unaccent``, alter the configuration's mapping as below and rewrite the
articles (``UPDATE articles SET title = title``) to refresh the column.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.dialects import POSTGRESQL, database_of

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger("alembic.runtime.migration")

# Entities a sanitizer writes for text; "&amp;" last, so "&amp;lt;" stays the text "&lt;".
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#39;", "'"), ("&nbsp;", " "))


def _decode_entities(expression: str) -> str:
    for entity, character in (*_ENTITIES, ("&amp;", "&")):
        quoted = character.replace("'", "''")
        expression = f"replace({expression}, '{entity}', '{quoted}')"
    return expression


def upgrade() -> None:
    if database_of(op.get_bind()) is POSTGRESQL:
        _postgresql_upgrade()
    else:
        _sqlite_upgrade()


def downgrade() -> None:
    if database_of(op.get_bind()) is POSTGRESQL:
        _postgresql_downgrade()
    else:
        _sqlite_downgrade()


# SQLite ---------------------------------------------------------------------------------------

# The text of ``articles.body``: everything outside "<...>" tags, the pieces joined by spaces.
# FTS5 reads external content with virtual tables forbidden (so no json_each() splitting), and
# a trigger cannot hold a CTE, so the triggers read this view rather than repeat it.
_SQLITE_BODY_TEXT = _decode_entities("""(
  WITH RECURSIVE piece (text, rest) AS (
    SELECT '', a.body
    UNION ALL
    SELECT
      CASE WHEN instr(rest, '<') = 0 THEN rest ELSE substr(rest, 1, instr(rest, '<') - 1) END,
      CASE
        WHEN instr(rest, '<') = 0 THEN ''
        WHEN instr(substr(rest, instr(rest, '<')), '>') = 0 THEN ''
        ELSE substr(rest, instr(rest, '<') + instr(substr(rest, instr(rest, '<')), '>'))
      END
    FROM piece WHERE rest <> ''
  )
  SELECT group_concat(text, ' ') FROM piece
)""")
_SQLITE_TEXT_VIEW = (
    "CREATE VIEW article_search_text (id, title, excerpt, body) AS "
    f"SELECT a.id, a.title, a.excerpt, {_SQLITE_BODY_TEXT} FROM articles AS a"
)

_SQLITE_INDEX_NEW = (
    "INSERT INTO article_search (rowid, title, excerpt, body) "
    "SELECT id, title, excerpt, body FROM article_search_text WHERE id = new.id;"
)
# An external-content index removes a row given the text it indexed, so the old text is
# read (before the write) through the same view.
_SQLITE_UNINDEX_OLD = (
    "INSERT INTO article_search (article_search, rowid, title, excerpt, body) "
    "SELECT 'delete', id, title, excerpt, body FROM article_search_text WHERE id = old.id;"
)
_SQLITE_TRIGGERS = {
    "article_search_insert": f"AFTER INSERT ON articles BEGIN {_SQLITE_INDEX_NEW} END",
    "article_search_delete": f"BEFORE DELETE ON articles BEGIN {_SQLITE_UNINDEX_OLD} END",
    # Only a change of the indexed text re-indexes: publishing or bumping a version does not.
    "article_search_unindex": (
        f"BEFORE UPDATE OF id, title, excerpt, body ON articles BEGIN {_SQLITE_UNINDEX_OLD} END"
    ),
    "article_search_reindex": (
        f"AFTER UPDATE OF id, title, excerpt, body ON articles BEGIN {_SQLITE_INDEX_NEW} END"
    ),
}


def _sqlite_upgrade() -> None:
    op.execute(_SQLITE_TEXT_VIEW)
    op.execute(
        "CREATE VIRTUAL TABLE article_search USING fts5("
        "title, excerpt, body, content='article_search_text', content_rowid='id', "
        "tokenize='porter unicode61 remove_diacritics 2')"
    )
    for name, definition in _SQLITE_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {definition}")
    op.execute("INSERT INTO article_search (article_search) VALUES ('rebuild')")


def _sqlite_downgrade() -> None:
    for name in _SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER {name}")
    op.execute("DROP TABLE article_search")
    op.execute("DROP VIEW article_search_text")


# PostgreSQL -----------------------------------------------------------------------------------


def _unaccent_available() -> bool:
    """Whether the ``unaccent`` extension is (or could now be) installed in this database."""
    bind = op.get_bind()
    installed = "SELECT 1 FROM pg_extension WHERE extname = 'unaccent'"
    if bind.execute(sa.text(installed)).first() is not None:
        return True
    available = "SELECT 1 FROM pg_available_extensions WHERE name = 'unaccent'"
    if bind.execute(sa.text(available)).first() is None:
        logger.warning("unaccent is not installed on this server: search will be accent-sensitive")
        return False
    savepoint = bind.begin_nested()
    try:
        bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS unaccent"))
    except sa.exc.DBAPIError as error:
        savepoint.rollback()
        logger.warning("cannot create unaccent (%s): search will be accent-sensitive", error.orig)
        return False
    savepoint.commit()
    return True


def _postgresql_upgrade() -> None:
    op.execute("CREATE TEXT SEARCH CONFIGURATION masthead_search (COPY = english)")
    if _unaccent_available():
        op.execute(
            "ALTER TEXT SEARCH CONFIGURATION masthead_search "
            "ALTER MAPPING FOR hword, hword_part, word WITH unaccent, english_stem"
        )
    stripped = "regexp_replace(html, '<[^>]*>', ' ', 'g')"
    op.execute(
        "CREATE FUNCTION masthead_html_text(html text) RETURNS text "
        "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
        f"RETURN {_decode_entities(stripped)}"
    )
    op.execute(
        "ALTER TABLE articles ADD COLUMN search_document tsvector GENERATED ALWAYS AS ("
        "setweight(to_tsvector('masthead_search', title), 'A') || "
        "setweight(to_tsvector('masthead_search', excerpt), 'B') || "
        "setweight(to_tsvector('masthead_search', masthead_html_text(body)), 'C')) STORED"
    )
    op.execute("CREATE INDEX ix_articles_search_document ON articles USING gin (search_document)")


def _postgresql_downgrade() -> None:
    op.execute("DROP INDEX ix_articles_search_document")
    op.execute("ALTER TABLE articles DROP COLUMN search_document")
    op.execute("DROP FUNCTION masthead_html_text(text)")
    op.execute("DROP TEXT SEARCH CONFIGURATION masthead_search")
    # The unaccent extension stays: it is a database-wide object others may rely on, and it
    # may have been there before this migration.
