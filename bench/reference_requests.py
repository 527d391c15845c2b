"""The reference operations (``masthead.examples``) as a served benchmark sends them: variables
drawn from the database, as POST bodies or as GETs of automatic persisted queries."""

from __future__ import annotations

import hashlib
import json
import random
import urllib.parse
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from db.engine import create_engine, create_sessionmaker
from db.models import Article, Category, utcnow
from masthead.examples import ARTICLE_PAGE, CATEGORY_PAGE, HOME

__all__ = ["OPERATIONS", "Samples", "bodies", "persisted_paths", "registering_body", "samples"]

# Operation name -> document.
OPERATIONS: dict[str, str] = {
    "ArticlePage": ARTICLE_PAGE,
    "Home": HOME,
    "CategoryPage": CATEGORY_PAGE,
}


@dataclass(frozen=True)
class Samples:
    """Slugs the requests rotate over: public articles drawn at random (seeded), so that no
    single row stays hot, and every category."""

    articles: list[str]
    categories: list[str]

    def variables(self, operation: str) -> list[dict[str, Any]]:
        if operation == "ArticlePage":
            return [{"slug": slug} for slug in self.articles]
        if operation == "CategoryPage":
            return [{"slug": slug} for slug in self.categories]
        return [{}]


async def samples(database_url: str, count: int, seed: int) -> Samples:
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            articles = list(
                await session.scalars(
                    select(Article.slug).where(Article.is_public(utcnow())).order_by(Article.id)
                )
            )
            categories = list(await session.scalars(select(Category.slug).order_by(Category.id)))
    finally:
        await engine.dispose()
    return Samples(random.Random(seed).sample(articles, min(count, len(articles))), categories)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def bodies(operation: str, variables: list[dict[str, Any]]) -> list[str]:
    """POST bodies, one per set of variables."""
    query = OPERATIONS[operation]
    return [_json({"query": query, "operationName": operation, "variables": v}) for v in variables]


def _extensions(operation: str) -> dict[str, Any]:
    digest = hashlib.sha256(OPERATIONS[operation].encode()).hexdigest()
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def registering_body(operation: str, variables: dict[str, Any]) -> str:
    """A POST carrying the query and its hash, which registers the hash (Apollo's protocol)."""
    return _json(
        {
            "query": OPERATIONS[operation],
            "operationName": operation,
            "variables": variables,
            "extensions": _extensions(operation),
        }
    )


def persisted_paths(operation: str, variables: list[dict[str, Any]], *, query: bool) -> list[str]:
    """GET paths of ``/graphql`` naming the query by its hash, with the query text too when
    ``query`` (which registers it in whichever process answers)."""
    paths = []
    for v in variables:
        parameters = {
            "operationName": operation,
            "variables": _json(v),
            "extensions": _json(_extensions(operation)),
        }
        if query:
            parameters["query"] = OPERATIONS[operation]
        paths.append("/graphql?" + urllib.parse.urlencode(parameters))
    return paths
