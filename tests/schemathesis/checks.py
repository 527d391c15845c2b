"""Schemathesis checks for a GraphQL API whose refusals are GraphQL errors with codes.

Schemathesis' own ``not_a_server_error`` counts every GraphQL error as a failure, and most
generated operations are rightly refused (no token, made-up ids). What must never happen
is what these check: a 5xx, an error without ``extensions.code``, an internal error.
"""

from __future__ import annotations

from typing import Any

import schemathesis


@schemathesis.check
def answered_with_codes(ctx: Any, response: Any, case: Any) -> None:
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}: {response.text[:300]}")
    body = response.json()
    for error in body.get("errors", []) if isinstance(body, dict) else []:
        code = (error.get("extensions") or {}).get("code")
        if code is None:
            raise AssertionError(f"an error without extensions.code: {error}")
        if code == "INTERNAL_SERVER_ERROR":
            raise AssertionError(f"an internal error: {error}")
