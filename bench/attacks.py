"""Hostile anonymous requests against a live Masthead: status, time, the worker's memory.

    python bench/attacks.py http://127.0.0.1:8000/graphql <worker pid>

Run it against a server with MASTHEAD_RATE_LIMIT=0 (it sends everything from one address).
Results: bench/results/hardening.md.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

_JSON = {"content-type": "application/json"}
_MB = 1024 * 1024


def _rss_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024
    return -1


def _code(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return response.text[:40]
    errors = body.get("errors") if isinstance(body, dict) else None
    return str(errors[0]["extensions"]["code"]) if errors else "ok"


def _tag_filter(count: int) -> str:
    slugs = json.dumps([f"tag-{i}" for i in range(count)])
    return "{ articles(filter: {tagSlugs: %s}) { totalCount } }" % slugs  # noqa: UP031  # braces


def _fan_out(levels: int) -> str:
    fragments = ["fragment F0 on Article { id title }"] + [
        f"fragment F{i} on Article {{ ...F{i - 1} ...F{i - 1} slug }}" for i in range(1, levels + 1)
    ]
    return f'{{ article(slug: "x") {{ ...F{levels} }} }} ' + " ".join(fragments)


def _chunks() -> Iterator[bytes]:
    for _ in range(100):
        yield b"a" * _MB


def _attacks() -> list[tuple[str, dict[str, Any]]]:
    level = "articles(first: 100) { nodes { author { %s } } }"
    deep = "{ " + level % (level % (level % "name")) + " }"
    big = b'{"query": "{ tags { totalCount } }", "x": "' + b"a" * (100 * _MB) + b'"}'
    odd_slug = '{"query":"query($s:String!){ article(slug:$s){ id } }","variables":{"s":"x%s"}}'
    return [
        ("tagSlugs x5000", {"json": {"query": _tag_filter(5000)}}),
        ("tagSlugs x1000", {"json": {"query": _tag_filter(1000)}}),
        ("tagSlugs x200", {"json": {"query": _tag_filter(200)}}),
        ("fragment fan-out n=22", {"json": {"query": _fan_out(22)}}),
        ("fragment fan-out n=40", {"json": {"query": _fan_out(40)}}),
        ("nested articles(first: 100)", {"json": {"query": deep}}),
        ("100 MB body (Content-Length)", {"content": big, "headers": _JSON}),
        ("100 MB body (chunked)", {"content": _chunks(), "headers": _JSON}),
        ("JSON null", {"content": b"null", "headers": _JSON}),
        ("JSON 42", {"content": b"42", "headers": _JSON}),
        ("invalid UTF-8", {"content": b'{"query":"\xff"}', "headers": _JSON}),
        (
            "JSON nested 100,000 deep",
            {"content": b"[" * 100_000 + b"]" * 100_000, "headers": _JSON},
        ),
        ("misspelt field", {"json": {"query": '{ artcle(slug: "x") { id } }'}}),
        (
            "lone surrogate in a slug",
            {"content": (odd_slug % "\\ud800").encode(), "headers": _JSON},
        ),
        ("NUL in a slug", {"content": (odd_slug % "\\u0000").encode(), "headers": _JSON}),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("pid", type=int, help="the worker's process id, for its memory")
    args = parser.parse_args()
    print(f"worker RSS at start: {_rss_mb(args.pid)} MB")
    print("| request | answer | time | body | worker RSS |")
    print("|---|---|---|---|---|")
    for name, request in _attacks():
        started = time.perf_counter()
        try:
            response = httpx.post(args.url, timeout=120, **request)
            answer, size = f"{response.status_code} {_code(response)}", len(response.content)
        except httpx.HTTPError as error:
            answer, size = type(error).__name__, 0
        took = (time.perf_counter() - started) * 1000
        print(f"| {name} | {answer} | {took:.0f} ms | {size} B | {_rss_mb(args.pid)} MB |")


if __name__ == "__main__":
    main()
