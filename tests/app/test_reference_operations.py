"""The reference operations the tests and bench/ use are the shared ones, word for word."""

from __future__ import annotations

import pytest
from graphql import parse, print_ast

from masthead import examples as reference_operations
from tests.support.shared_corpus import QUERIES


@pytest.mark.parametrize(
    ("name", "document"),
    [
        ("ArticlePage", reference_operations.ARTICLE_PAGE),
        ("Home", reference_operations.HOME),
        ("CategoryPage", reference_operations.CATEGORY_PAGE),
    ],
)
def test_reference_operations_match_the_shared_ones(name: str, document: str) -> None:
    shared = QUERIES / f"{name}.graphql"
    if not shared.exists():
        pytest.skip(f"no shared reference operations at {QUERIES} (MASTHEAD_CORPUS_DIR)")
    assert print_ast(parse(document)) == print_ast(parse(shared.read_text()))
