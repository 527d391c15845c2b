"""Caps on query depth, aliases and size, and switching introspection off."""

from __future__ import annotations

import time

import httpx
import pytest
from graphql import get_introspection_query
from starlette.applications import Starlette

from masthead.app import create_app
from masthead.examples import ARTICLE_PAGE, HOME
from masthead.settings import Settings
from tests.support.graphql import data, graphql
from tests.support.statements import StatementCounter


def _nested(parents: int) -> str:
    """``article > category > parent x n > name``: depth n + 2 below the root field."""
    return (
        '{ article(slug: "x") { category '
        + "{ parent " * parents
        + "{ name }"
        + " }" * parents
        + " } }"
    )


DEEP_ENOUGH = _nested(10)  # depth 12, the default cap
TOO_DEEP = _nested(11)


async def test_a_query_over_the_depth_cap_is_refused_before_any_sql(
    client: httpx.AsyncClient, statements: StatementCounter
) -> None:
    await data(client, DEEP_ENOUGH)
    statements.reset()
    body = await graphql(client, TOO_DEEP)
    assert body["errors"][0]["message"].startswith("'anonymous' exceeds maximum operation depth")
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert statements.count == 0


async def test_too_many_aliases_are_refused(
    client: httpx.AsyncClient, statements: StatementCounter
) -> None:
    query = "{ " + " ".join(f"a{i}: categories {{ slug }}" for i in range(31)) + " }"
    statements.reset()
    body = await graphql(client, query)
    assert "aliases found. Allowed: 30" in body["errors"][0]["message"]
    assert statements.count == 0
    allowed = "{ " + " ".join(f"a{i}: categories {{ slug }}" for i in range(30)) + " }"
    assert len(await data(client, allowed)) == 30


async def test_too_many_tokens_are_refused(client: httpx.AsyncClient) -> None:
    query = "{ " + " ".join("__typename" for _ in range(6000)) + " }"
    body = await graphql(client, query)
    assert "more than 5000 tokens" in body["errors"][0]["message"]


async def test_graphiqls_introspection_query_passes_the_caps(client: httpx.AsyncClient) -> None:
    schema = (await data(client, get_introspection_query()))["__schema"]
    assert schema["queryType"]["name"] == "Query"


async def test_introspection_can_be_switched_off(settings: Settings) -> None:
    app: Starlette = create_app(settings.model_copy(update={"introspection": False}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        body = await graphql(client, "{ __schema { queryType { name } } }")
        assert "introspection" in body["errors"][0]["message"].lower()
        assert (await data(client, "{ categories { slug } }")) == {"categories": []}
    await app.state.engine.dispose()


BUILDER_PAGE = """
{ articles(first: 100) { nodes {
    title author { name } category { name } tags { name }
    relatedPosts(first: 20) { title author { name } }
} } }
"""
RELATED_THREE_DEEP = """
{ articles(first: 100) { nodes {
    relatedPosts(first: 20) { relatedPosts(first: 20) { relatedPosts(first: 20) { slug } } }
} } }
"""


def _fan_out(levels: int) -> str:
    """Each fragment spreads the one before twice: ``2^levels`` fields once written out."""
    fragments = ["fragment F0 on Article { id title }"] + [
        f"fragment F{i} on Article {{ ...F{i - 1} ...F{i - 1} slug }}" for i in range(1, levels + 1)
    ]
    return f'{{ article(slug: "x") {{ ...F{levels} }} }} ' + " ".join(fragments)


async def test_every_answer_reports_its_cost(client: httpx.AsyncClient) -> None:
    body = await graphql(client, ARTICLE_PAGE, {"slug": "none"})
    cost = body["extensions"]["cost"]
    assert (cost["requestedQueryCost"], cost["maximumAvailable"]) == (23, 10_000)
    # The default budget, 50,000 a minute, less this query.
    assert cost["throttleStatus"] == {"currentlyAvailable": 49_977, "restoreRate": 833.33}
    body = await graphql(client, HOME)
    assert body["extensions"]["cost"]["requestedQueryCost"] == 82


async def test_what_a_page_fetches_is_admitted_and_what_none_needs_is_refused(
    client: httpx.AsyncClient, statements: StatementCounter
) -> None:
    body = await graphql(client, BUILDER_PAGE)
    assert "errors" not in body, body
    assert body["extensions"]["cost"]["requestedQueryCost"] == 5_301
    statements.reset()
    refused = await graphql(client, RELATED_THREE_DEEP)
    assert "data" not in refused
    assert refused["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert "costs 842101" in refused["errors"][0]["message"]
    assert refused["extensions"]["cost"]["requestedQueryCost"] == 842_101
    assert statements.count == 0


async def test_cost_follows_variables_and_fragments(client: httpx.AsyncClient) -> None:
    query = """
    query Page($n: Int = 3) { articles(first: $n) { ...Listed } }
    fragment Listed on ArticleConnection { nodes { tags { slug } } }
    """
    # The connection, then n articles with 10 tags each (the estimate for a tag list).
    for variables, cost in (({}, 1 + 3 * 11), ({"n": 50}, 1 + 50 * 11)):
        body = await graphql(client, query, variables)
        assert body["extensions"]["cost"]["requestedQueryCost"] == cost


async def test_fragments_fanning_out_are_refused_in_milliseconds(
    client: httpx.AsyncClient, statements: StatementCounter
) -> None:
    statements.reset()
    started = time.perf_counter()
    body = await graphql(client, _fan_out(40))
    assert time.perf_counter() - started < 1.0
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "fields once its fragments are spread" in body["errors"][0]["message"]
    assert statements.count == 0
    assert "errors" not in await graphql(client, _fan_out(8))  # 2^9 - 1 fields: fine


async def test_depth_and_aliases_count_through_fragments(client: httpx.AsyncClient) -> None:
    deep = (
        'query Deep { ...Q } fragment Q on Query { article(slug: "x") { category '
        + "{ parent " * 11
        + "{ name }"
        + " }" * 11
        + " } }"
    )
    body = await graphql(client, deep)
    assert body["errors"][0]["message"] == "'Deep' exceeds maximum operation depth of 12"
    aliased = (
        "{ ...A ...A } fragment A on Query { "
        + " ".join(f"a{i}: tags {{ totalCount }}" for i in range(16))
        + " }"
    )
    body = await graphql(client, aliased)
    assert body["errors"][0]["message"] == "32 aliases found. Allowed: 30"


def _strings(count: int) -> str:
    return ", ".join(f'"s{i}"' for i in range(count))


def _tag_filter(count: int) -> str:
    return "{ articles(filter: {tagSlugs: [" + _strings(count) + "]}) { totalCount } }"


@pytest.mark.parametrize(
    ("query", "variables", "message"),
    [
        (
            _tag_filter(1_000),
            {},
            "`tagSlugs` may hold at most 10 items, got 1000.",
        ),
        (
            "query Q($f: ArticleFilter) { articles(filter: $f) { totalCount } }",
            {"f": {"tagSlugs": [f"t{i}" for i in range(11)]}},
            "`tagSlugs` may hold at most 10 items, got 11.",
        ),
        (
            "query Q($s: [ArticleStatus!]) { articles(filter: {status: $s}) { totalCount } }",
            {"s": ["DRAFT", "PUBLISHED", "DRAFT"]},
            "`status` may hold at most 2 items, got 3.",
        ),
        (
            'mutation { setRelatedPosts(id: "x", relatedIds: ['
            + _strings(21)
            + "]) { errors { message } } }",
            {},
            "`relatedIds` may hold at most 20 items, got 21.",
        ),
        (
            'mutation { createArticle(input: {title: "t", body: "b", authorId: "a", '
            'categoryId: "c", tagIds: [' + _strings(21) + "]}) { errors { message } } }",
            {},
            "`tagIds` may hold at most 20 items, got 21.",
        ),
        (
            'mutation U($input: UpdateArticleInput!) { updateArticle(id: "x", input: $input) '
            "{ errors { message } } }",
            {"input": {"tagIds": [f"t{i}" for i in range(21)]}},
            "`tagIds` may hold at most 20 items, got 21.",
        ),
    ],
)
async def test_list_arguments_are_capped_before_any_sql(
    client: httpx.AsyncClient,
    statements: StatementCounter,
    query: str,
    variables: dict[str, object],
    message: str,
) -> None:
    statements.reset()
    body = await graphql(client, query, variables)
    assert "data" not in body
    assert body["errors"][0]["message"] == message
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert statements.count == 0
    assert (await data(client, _tag_filter(10))) == {"articles": {"totalCount": 0}}


MISSPELT_VARIABLES = [
    ("query Q($o: ArticleOrder!) { articles(orderBy: $o) { totalCount } }", {"o": "NEWST"}),
]
MISSPELT = [
    '{ artcle(slug: "x") { id } }',
    '{ article(slg: "x") { id } }',
    '{ article(slug: "x") { titel } }',
    "{ articles(orderBy: NEWST) { totalCount } }",
    '{ article(slug: "x") { ... on Artcle { id } } }',
    'mutation { deleteTg(id: "x") { deletedId } }',
    "query Q($f: ArticleFiltr) { articles(filter: $f) { totalCount } }",
]


async def test_without_introspection_no_name_is_suggested(settings: Settings) -> None:
    quiet = create_app(settings.model_copy(update={"introspection": False}))
    chatty = create_app(settings)
    for app, suggests in ((quiet, False), (chatty, True)):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            for query, variables in [*((query, {}) for query in MISSPELT), *MISSPELT_VARIABLES]:
                errors = (await graphql(client, query, variables))["errors"]
                assert errors, query
                messages = " ".join(error["message"] for error in errors)
                assert ("Did you mean" in messages) is suggests, (query, messages)
                assert errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        await app.state.engine.dispose()


async def test_a_page_size_given_as_a_float_is_counted_as_given(client: httpx.AsyncClient) -> None:
    query = "query($n: Int) { articles(first: $n) { nodes { title } } }"
    for n in (100, 100.0):
        body = await graphql(client, query, {"n": n})
        assert body["extensions"]["cost"]["requestedQueryCost"] == 101


async def test_fragments_chained_past_any_need_are_refused_not_crashed(
    client: httpx.AsyncClient,
) -> None:
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(500))
    body = await graphql(client, "{ ...F0 } " + chain + " fragment F500 on Query { __typename }")
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "nested more than 64 deep" in body["errors"][0]["message"]


async def test_refusals_are_4xx_for_graphql_response_json(client: httpx.AsyncClient) -> None:
    accept = {"accept": "application/graphql-response+json"}
    for query in (RELATED_THREE_DEEP, _tag_filter(11), _fan_out(40)):
        response = await client.post("/graphql", json={"query": query}, headers=accept)
        assert response.status_code == 400, response.text
        assert "data" not in response.json()


async def test_what_fails_validation_spends_nothing(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"rate_limit": 100}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for _ in range(3):  # each would cost 82, were it valid
            invalid = await client.post("/graphql", json={"query": HOME.replace("slug", "slg")})
            assert invalid.json()["errors"][0]["extensions"]["code"] == (
                "GRAPHQL_VALIDATION_FAILED"
            )
        assert (await client.post("/graphql", json={"query": HOME})).status_code == 200
    await app.state.engine.dispose()


async def test_a_document_sent_again_is_measured_as_it_was(client: httpx.AsyncClient) -> None:
    # Measures are kept per document and variables: each pair keeps its own cost, whatever
    # was sent in between, and a refusal is not kept as an admission.
    query = "query Page($n: Int = 3) { articles(first: $n) { nodes { tags { slug } } } }"
    for variables, cost in (({}, 34), ({"n": 50}, 551), ({}, 34), ({"n": 50}, 551)):
        body = await graphql(client, query, variables)
        assert body["extensions"]["cost"]["requestedQueryCost"] == cost
    for _ in range(2):
        refused = await graphql(client, TOO_DEEP)
        assert refused["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "errors" not in await graphql(client, DEEP_ENOUGH)
