"""One helper to send a GraphQL operation through the real ASGI app."""

from __future__ import annotations

import json
from typing import Any

import httpx


async def graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
    escaped: bool = False,
) -> dict[str, Any]:
    """POST the operation; returns the whole JSON body (``data`` and maybe ``errors``).

    ``escaped`` writes the body with JSON's ``\\u`` escapes, as a client sends text that has
    no UTF-8 form (a lone surrogate), which httpx's ``json=`` cannot encode."""
    request = {"query": query, "variables": variables or {}}
    if escaped:
        content = json.dumps(request).encode()
        headers = {**(headers or {}), "content-type": "application/json"}
        response = await client.post("/graphql", content=content, headers=headers)
    else:
        response = await client.post("/graphql", json=request, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def data(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The ``data`` of an operation that must not fail."""
    body = await graphql(client, query, variables)
    assert "errors" not in body, body["errors"]
    result: dict[str, Any] = body["data"]
    return result


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]
