"""Highlights: short, escaped fragments of an article around its matches.

The database marks the matched words (with the same tokenizer and stemmer that matched),
between :data:`OPEN` and :data:`CLOSE`; the fragments are cut here, the same way for both.
Everything but the ``<mark>`` tags is escaped.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

__all__ = ["CLOSE", "MAX_HIGHLIGHTS", "OPEN", "fragments"]

MAX_HIGHLIGHTS = 3
# Markers the database puts around matched words; they cannot survive html.escape() as tags,
# so a stray one in the stored text at worst marks a wrong word, never injects markup.
OPEN, CLOSE = "\x02", "\x03"
_MARKERS = re.compile(f"([{OPEN}{CLOSE}])")
_ELLIPSIS = "\u2026"
# Characters of context kept on each side of a match in an excerpt or body fragment.
_CONTEXT = 60
# Tags become spaces in the indexed text ("a <em>link</em>." reads "a link ."): for display,
# none before closing punctuation or after an opening bracket.
_LOOSE_PUNCTUATION = (*((f" {mark}", mark) for mark in ".,;:!?)]"), ("( ", "("), ("[ ", "["))


@dataclass(frozen=True)
class _Marked:
    """A field's text (whitespace collapsed) and the spans the database marked in it."""

    text: str
    spans: list[tuple[int, int]]

    @classmethod
    def parse(cls, marked: str | None) -> _Marked:
        pieces: list[str] = []
        spans: list[tuple[int, int]] = []
        length = 0
        opened: int | None = None
        tidy = " ".join((marked or "").split())
        for loose, tight in _LOOSE_PUNCTUATION:
            tidy = tidy.replace(loose, tight)
        for piece in _MARKERS.split(tidy):
            if piece == OPEN:
                opened = length if opened is None else opened
            elif piece == CLOSE:
                if opened is not None and length > opened:
                    spans.append((opened, length))
                opened = None
            else:
                pieces.append(piece)
                length += len(piece)
        return cls("".join(pieces), spans)

    def without_prefix(self, prefix: str) -> _Marked:
        """Drop the matches inside a leading ``prefix`` (an excerpt repeating the body)."""
        if not prefix or not self.text.startswith(prefix):
            return self
        return _Marked(self.text, [span for span in self.spans if span[0] >= len(prefix)])

    def fragments(self, context: int, limit: int) -> list[str]:
        windows: list[tuple[int, int]] = []
        for start, end in self.spans:
            low, high = self._widen(start, end, context)
            if windows and low <= windows[-1][1]:
                windows[-1] = (windows[-1][0], high)
            else:
                windows.append((low, high))
        return [self._render(low, high) for low, high in windows[:limit]]

    def _widen(self, start: int, end: int, context: int) -> tuple[int, int]:
        """``context`` characters each side of a match, cut back to whole words."""
        low, high = max(0, start - context), min(len(self.text), end + context)
        if low > 0:
            space = self.text.find(" ", low, start)
            low = space + 1 if space >= 0 else start
        if high < len(self.text):
            space = self.text.rfind(" ", end, high)
            high = space if space >= 0 else end
        return low, high

    def _render(self, low: int, high: int) -> str:
        parts = [_ELLIPSIS] if low > 0 else []
        position = low
        for start, end in self.spans:
            if start < low or end > high:
                continue
            parts += [html.escape(self.text[position:start]), "<mark>"]
            parts += [html.escape(self.text[start:end]), "</mark>"]
            position = end
        parts.append(html.escape(self.text[position:high]))
        if high < len(self.text):
            parts.append(_ELLIPSIS)
        return "".join(parts)


def fragments(title: str | None, excerpt: str | None, body: str | None) -> list[str]:
    """Title first (whole), then the excerpt, then the body, at most MAX_HIGHLIGHTS in all."""
    marked_title, marked_excerpt = _Marked.parse(title), _Marked.parse(excerpt)
    marked_body = _Marked.parse(body).without_prefix(marked_excerpt.text)
    found = marked_title.fragments(len(marked_title.text), 1)
    found += marked_excerpt.fragments(_CONTEXT, MAX_HIGHLIGHTS)
    found += marked_body.fragments(_CONTEXT, MAX_HIGHLIGHTS)
    return found[:MAX_HIGHLIGHTS]
