"""What a user types into search, reduced to its words: operators and quotes are just text."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from resolvers.errors import BadUserInput

__all__ = ["MAX_QUERY_WORDS", "SearchText"]

MAX_QUERY_WORDS = 32

# Words as both tokenizers see them: runs of letters and digits (unicode61's default token
# characters; PostgreSQL's parser splits on the same punctuation for plain words).
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class SearchText:
    """The distinct words of a query (first spelling kept); every one must match."""

    words: tuple[str, ...]

    @classmethod
    def parse(cls, query: str) -> SearchText:
        """BAD_USER_INPUT when empty or too long; punctuation alone gives no words."""
        if not query.strip():
            raise BadUserInput("`query` must not be empty.")
        seen: dict[str, str] = {}
        for word in _WORD.findall(query):
            seen.setdefault(word.casefold(), word)
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
        key = "\x1f".join(word.casefold() for word in self.words)
        return hashlib.blake2b(key.encode(), digest_size=6).hexdigest()
