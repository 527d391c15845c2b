"""What a user types into search, reduced to its words: operators and quotes are just text.

A word is a run of letters and digits, so punctuation inside a word splits it the way both
indexes split the text they hold: "procurement's" is "procurement" and "s", "trade-off"
is "trade" and "off", for straight and curly apostrophes alike. Words in
:data:`STOP_WORDS` are then dropped, as PostgreSQL drops them from what it indexes.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from resolvers.errors import BadUserInput
from resolvers.search.stop_words import STOP_WORDS

__all__ = ["MAX_QUERY_WORDS", "SearchText"]

MAX_QUERY_WORDS = 32

# Words as both tokenizers see them: runs of letters and digits (unicode61's default token
# characters; PostgreSQL's parser splits on the same punctuation for plain words).
_WORD = re.compile(r"[^\W_]+")


def _folded(word: str) -> str:
    """The word without case or accents, as both indexes compare it."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@dataclass(frozen=True)
class SearchText:
    """The distinct words of a query (first spelling kept) that are not stop words; every
    one must match, and a query of stop words alone matches nothing."""

    words: tuple[str, ...]

    @classmethod
    def parse(cls, query: str) -> SearchText:
        """BAD_USER_INPUT when empty or too long; punctuation alone gives no words."""
        if not query.strip():
            raise BadUserInput("`query` must not be empty.")
        seen: dict[str, str] = {}
        # Composed first: an accent typed as a mark of its own (as macOS keyboards send it)
        # is not a word character, and would split "naïve" into "nai" and "ve".
        for word in _WORD.findall(unicodedata.normalize("NFKC", query)):
            folded = _folded(word)
            if folded not in STOP_WORDS:
                seen.setdefault(folded, word)
        if len(seen) > MAX_QUERY_WORDS:
            raise BadUserInput(f"`query` has more than {MAX_QUERY_WORDS} different words.")
        return cls(tuple(seen.values()))

    @property
    def fts5(self) -> str:
        # Each word a quoted FTS5 string: within quotes AND, OR, NOT, NEAR, *, ^, : are text.
        return " ".join(f'"{word}"' for word in self.words)

    @property
    def plain(self) -> str:
        return " ".join(self.words)

    @property
    def fingerprint(self) -> str:
        """Ties a cursor to its search, so another search's cursor is refused, not misread."""
        key = "\x1f".join(_folded(word) for word in self.words)
        return hashlib.blake2b(key.encode(), digest_size=6).hexdigest()
