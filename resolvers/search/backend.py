"""The interface each database's full-text search implements.

The index itself (an FTS5 table on SQLite, weighted ``tsvector`` columns on PostgreSQL) is
built and kept in step by the migrations. Every statement here is a building block that
:mod:`resolvers.search.ranking` combines the same way on both databases.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from sqlalchemy import CTE, ColumnElement, Select, SelectBase, case

from resolvers.search.text import SearchText

__all__ = ["MATERIALIZED", "SearchBackend", "score"]

# A CTE prefix: computed once, never inlined into the statement around it.
MATERIALIZED = "MATERIALIZED"


def score(relevance: ColumnElement[float], titled: ColumnElement[bool]) -> ColumnElement[float]:
    """A result's score, in [0, 2): 1 and more where the title holds every word.

    ``relevance`` (``bm25`` or ``ts_rank``, 0 or more) weighs the whole text, where a long
    body full of the words can outweigh a short title holding them all; so it only orders
    the results within each tier, squeezed into [0, 1) (``r / (1 + r)`` keeps its order).
    """
    return case((titled, 1.0), else_=0.0) + relevance / (relevance + 1.0)


class SearchBackend(ABC):
    @abstractmethod
    def candidates(
        self, text: SearchText, conditions: Sequence[ColumnElement[bool]]
    ) -> tuple[SelectBase, SelectBase]:
        """Ids of the ``recent`` and the ``titled`` candidates (``resolvers.search.bounds``).

        ``conditions`` are the article filter's, the visibility rule first.
        """

    @abstractmethod
    def scores(self, text: SearchText, candidates: CTE) -> Select[Any]:
        """``id`` and ``score`` (higher is better) of each candidate, :func:`score`."""

    @abstractmethod
    def marked(self, text: SearchText, article_ids: Sequence[int]) -> Select[Any]:
        """``id``, title, excerpt and body text with matches between ``highlights.OPEN``
        and ``highlights.CLOSE``, for the articles of ``article_ids`` that match."""
