"""Words too common to search for, dropped from every query on both databases.

PostgreSQL's ``english`` dictionary drops these from documents and queries alike (its
``english.stop``, the Snowball list); FTS5 keeps every word. Dropping them from the query
on both makes a query behave the same everywhere: "the" alone finds nothing, and the
``s`` of "procurement's" (a word of its own to both tokenizers) asks for nothing more than
"procurement" does.
"""

from __future__ import annotations

__all__ = ["STOP_WORDS"]

# One string, as the list is usually written: a literal of 127 quoted words would fill pages.
STOP_WORDS = frozenset(
    """
    i me my myself we our ours ourselves you your yours yourself yourselves he him his
    himself she her hers herself it its itself they them their theirs themselves what which
    who whom this that these those am is are was were be been being have has had having do
    does did doing a an the and but if or because as until while of at by for with about
    against between into through during before after above below to from up down in out on
    off over under again further then once here there when where why how all any both each
    few more most other some such no nor not only own same so than too very s t can will
    just don should now
    """.split()  # noqa: SIM905
)
