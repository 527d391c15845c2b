"""Full-text search: query text, ranking, highlights, and one backend per database."""

from resolvers.search.ranking import (
    SearchHit,
    SearchPage,
    search_count,
    search_highlights,
    search_page,
)
from resolvers.search.text import MAX_QUERY_WORDS, SearchText

__all__ = [
    "MAX_QUERY_WORDS",
    "SearchHit",
    "SearchPage",
    "SearchText",
    "search_count",
    "search_highlights",
    "search_page",
]
