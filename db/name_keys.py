"""The keys that authors, categories and tags are listed by: names as people read them.

A key ignores case and accents ("analysis" before "European Union", "Élodie" next to
"Elodie") and is bytes, because both databases compare bytes the same way whatever their
settings: SQLite's BLOBs and PostgreSQL's ``bytea`` by memcmp, the shorter first on a tie.
Text would not do: PostgreSQL sorts it by the database's collation, SQLite by code point.

A key is the folded name, a zero byte, then the name exactly as written: names that fold
alike sit together, in code point order of their spelling, and only rows of the very same
name need a further tie-break (their id). The folded part never holds a zero byte (control
characters are dropped), so the zero byte ends it below any character that could follow.

Keys are stored, so changing the folding needs a migration that rewrites them all.
"""

from __future__ import annotations

import unicodedata

__all__ = ["MAX_FOLDED_LENGTH", "folded_name", "name_key"]

# Compatibility decomposition can make a name many times longer ("ﷺ" is 18 letters): the
# folded part is cut here, so that a key always fits PostgreSQL's limit for index entries.
MAX_FOLDED_LENGTH = 200

# Letters with a stroke, and the ligatures æ and œ, have no decomposition to take the marks
# off; the Unicode Collation Algorithm sorts them with the plain letters, as readers do.
_PLAIN_LETTERS = str.maketrans(
    {"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "ŧ": "t", "æ": "ae", "œ": "oe"}
)


def folded_name(name: str) -> str:
    """``name`` without case, accents or control characters, as it is compared."""
    # Decomposed before and after case folding: folding can itself produce accented letters.
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", name).casefold())
    kept = "".join(c for c in decomposed if unicodedata.category(c) not in ("Mn", "Cc"))
    return kept.translate(_PLAIN_LETTERS)[:MAX_FOLDED_LENGTH]


def name_key(name: str) -> bytes:
    """The sort key stored with ``name``: its folded form, then the exact name."""
    return folded_name(name).encode() + b"\x00" + name.encode()
