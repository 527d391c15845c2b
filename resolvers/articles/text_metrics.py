"""Measures of an article body's text: words, reading time, a plain-text excerpt."""

from __future__ import annotations

import math
import re
from html.parser import HTMLParser

__all__ = ["excerpt_from_body", "plain_text", "reading_time_minutes", "word_count"]

WORDS_PER_MINUTE = 200

# A word keeps its inner apostrophes, hyphens and decimal points ("it's", "e-invoicing",
# "3.5"), so punctuation and numbers split the way a reader would count them.
_WORD = re.compile("\\w+(?:['\u2019.-]\\w+)*")
_SPACE = re.compile(r"\s+")
# A sentence ends at . ! or ? (optionally inside a closing quote or bracket) before a space.
_SENTENCE_END = re.compile("[.!?][\"'\u201d\u2019)]*(?=\\s|$)")

# Tags that end a line of text: without a break here "<p>one</p><p>two</p>" would read "onetwo".
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "td", "th", "tr",
        "ul",
    }
)  # fmt: skip
_HIDDEN_TAGS = frozenset({"script", "style", "template"})


class _TextExtractor(HTMLParser):
    """Collects the text a browser would show; ``convert_charrefs`` unescapes entities."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def plain_text(html: str) -> str:
    """The body's visible text, blocks separated by single spaces."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return _SPACE.sub(" ", "".join(extractor.parts)).strip()


def word_count(html: str) -> int:
    """Words in the body's visible text."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return sum(len(_WORD.findall(part)) for part in extractor.parts)


def reading_time_minutes(words: int) -> int:
    """Whole minutes to read ``words`` at 200 words a minute, never less than one."""
    return max(1, math.ceil(words / WORDS_PER_MINUTE))


def excerpt_from_body(html: str, limit: int = 240) -> str:
    """The body's first sentence as plain text, cut at a word and ended with "…" if too long."""
    text = plain_text(html)
    end = _SENTENCE_END.search(text)
    sentence = text[: end.end()] if end else text
    if len(sentence) <= limit:
        return sentence
    cut = sentence[: limit - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:-\u2013\u2014") + "\u2026"
