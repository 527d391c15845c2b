"""The three reference operations (article page, home, category page) the benchmarks,
statement-count tests and GraphiQL's saved tabs run: a front end's typical reads. The
documents are the files in masthead/operations, so that GraphQL tools can read them too."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ARTICLE_PAGE", "CATEGORY_PAGE", "HOME"]

_OPERATIONS = Path(__file__).parent / "operations"


def _operation(name: str) -> str:
    return (_OPERATIONS / f"{name}.graphql").read_text()


ARTICLE_PAGE = _operation("ArticlePage")
HOME = _operation("Home")
CATEGORY_PAGE = _operation("CategoryPage")
