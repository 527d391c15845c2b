"""GraphiQL served from Masthead's own origin: the page at ``GET /graphql`` for browsers and
its files under ``/graphql/ide/``, with no request to another host.

GraphiQL's prebuilt files (React, GraphiQL, the explorer plugin) come from the npm registry:
``make install`` runs ``npm ci`` in ``masthead/graphiql_assets`` (versions pinned by its
lock, each tarball checked against the lock's hash) and then ``python -m masthead.graphiql``,
which copies the files into ``static/vendor/`` after checking each against the SHA-384 in
``integrity.json``. The page names the same hashes as Subresource Integrity and sends
``Content-Security-Policy: default-src 'self'`` (plus ``font-src data:``, GraphiQL's CSS
inlining its fonts): nothing on it runs inline. Without the files the page says to run
``make install`` instead of loading anything."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from starlette.responses import HTMLResponse
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from masthead.examples import ARTICLE_PAGE, CATEGORY_PAGE, HOME

__all__ = [
    "ASSETS",
    "CONTENT_SECURITY_POLICY",
    "PREFIX",
    "GraphiQLPage",
    "assets_mount",
    "install_vendor_files",
    "saved_tabs",
]

ASSETS = Path(__file__).parent / "graphiql_assets"
PREFIX = "/graphql/ide"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
# The page's files in the order it loads them: GraphiQL's (vendor/), then Masthead's own.
_STYLES = ("vendor/graphiql.min.css", "vendor/plugin-explorer.css", "masthead-graphiql.css")
_SCRIPTS = (
    "vendor/react.production.min.js",
    "vendor/react-dom.production.min.js",
    "vendor/graphiql.min.js",
    "vendor/plugin-explorer.umd.js",
    "masthead-graphiql.js",
)
_WELCOME = """\
# Masthead's GraphQL API. Run an operation with Ctrl-Enter (or the ▶ button);
# Ctrl-Space completes, the explorer (left) builds queries by ticking fields.
#
# Anonymous readers see published articles only. Editors see drafts too (the
# Drafts tab): paste {"Authorization": "Bearer <your token>"} in its Headers
# tab below (`masthead token create` makes one).
#
# The other tabs hold the reference operations a front end runs: ArticlePage,
# Home and CategoryPage (their variables are slugs from `masthead demo`).

query Latest {
  articles(first: 5) {
    edges {
      node {
        title
        slug
        status
        publishedAt
        author { name }
        category { name }
      }
    }
  }
}
"""
_DRAFTS = """\
# Drafts are for editors and admins: without a token this answers UNAUTHENTICATED.
# Paste {"Authorization": "Bearer <your token>"} in the Headers tab below.
query Drafts {
  articles(first: 10, filter: { status: [DRAFT] }) {
    edges {
      node { title slug status updatedAt author { name } }
    }
  }
}
"""
_LIVE = """\
# A subscription, over WebSocket at this URL: run it, then publish an article (the
# mutations in "Writing content" of the README); each one appears here as it goes public.
subscription Live {
  articlePublished { title slug publishedAt category { name } }
}
"""
# The reference operations, with variables naming content `masthead demo` loads.
_OPERATIONS: tuple[tuple[str, dict[str, str]], ...] = (
    (ARTICLE_PAGE, {"slug": "what-interest-rates-could-mean-for-nairobi"}),
    (HOME, {}),
    (CATEGORY_PAGE, {"slug": "companies"}),
)


def _integrity(path: Path) -> str:
    """The Subresource Integrity value of a file: ``sha384-`` and its digest in base64."""
    digest = hashlib.sha384(path.read_bytes()).digest()
    return "sha384-" + base64.b64encode(digest).decode("ascii")


def _vendor_manifest(assets: Path) -> dict[str, dict[str, str]]:
    """``integrity.json``: each vendored file's name, where npm puts it, and its hash."""
    manifest: dict[str, dict[str, str]] = json.loads((assets / "integrity.json").read_text())
    return manifest


def saved_tabs() -> list[dict[str, str]]:
    """GraphiQL's tabs: a default query, drafts, a subscription, then the reference
    operations with variables."""
    tabs = [{"query": _WELCOME}, {"query": _DRAFTS}, {"query": _LIVE}]
    for query, variables in _OPERATIONS:
        tab = {"query": query}
        if variables:
            tab["variables"] = json.dumps(variables, indent=2)
        tabs.append(tab)
    return tabs


def _missing_files(assets: Path) -> list[str]:
    """Vendored files absent, or not the bytes ``integrity.json`` pins."""
    vendor = assets / "static" / "vendor"
    return [
        name
        for name, entry in _vendor_manifest(assets).items()
        if not (vendor / name).is_file() or _integrity(vendor / name) != entry["integrity"]
    ]


@dataclass(frozen=True)
class _Built:
    body: str
    status: int


class GraphiQLPage:
    """The page: built once the files are in place, or a page saying how to install them
    (looked at again on each request until they are)."""

    def __init__(self, assets: Path = ASSETS) -> None:
        self._assets = assets
        self._built: _Built | None = None

    def response(self) -> HTMLResponse:
        """The page as a response, with its Content-Security-Policy."""
        built = self._built or self._build()
        return HTMLResponse(
            built.body,
            status_code=built.status,
            headers={
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
            },
        )

    def _build(self) -> _Built:
        missing = _missing_files(self._assets)
        if missing:
            return _Built(_missing_page(missing), 503)
        static = self._assets / "static"
        manifest = _vendor_manifest(self._assets)
        pinned = {f"vendor/{name}": entry["integrity"] for name, entry in manifest.items()}

        def integrity(name: str) -> str:
            return pinned.get(name) or _integrity(static / name)

        styles = "\n".join(
            f'    <link rel="stylesheet" href="{PREFIX}/{name}" integrity="{integrity(name)}">'
            for name in _STYLES
        )
        scripts = "\n".join(
            f'    <script src="{PREFIX}/{name}" integrity="{integrity(name)}"></script>'
            for name in _SCRIPTS
        )
        tabs = html.escape(json.dumps(saved_tabs()), quote=True)
        body = _PAGE.format(prefix=PREFIX, styles=styles, scripts=scripts, tabs=tabs)
        self._built = _Built(body, 200)
        return self._built


_PAGE = """\
<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>Masthead GraphiQL</title>
    <link rel="icon" href="{prefix}/favicon.svg" type="image/svg+xml">
{styles}
  </head>
  <body>
    <div id="graphiql" data-tabs="{tabs}">Loading GraphiQL…</div>
{scripts}
  </body>
</html>
"""

_MISSING = """\
<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>Masthead GraphiQL: not installed</title>
  </head>
  <body>
    <h1>GraphiQL's files are not installed</h1>
    <p>Masthead serves GraphiQL from its own origin, never from a CDN, and these files
    are missing or not the pinned versions: {missing}.</p>
    <p>Run <code>make install</code> (it needs <code>npm</code> and the npm registry once:
    it runs <code>npm ci</code> in <code>masthead/graphiql_assets</code> and copies the
    files in place), then reload this page.</p>
    <p>The API itself works: POST or GET <code>/graphql</code> with a query.</p>
  </body>
</html>
"""


def _missing_page(missing: list[str]) -> str:
    return _MISSING.format(missing=", ".join(html.escape(name) for name in missing))


def assets_mount(assets: Path = ASSETS) -> Mount:
    """The route serving the page's files (Masthead's and the vendored ones)."""
    return Mount(PREFIX, StaticFiles(directory=assets / "static", check_dir=False))


def install_vendor_files(assets: Path = ASSETS) -> Mapping[str, int]:
    """Copy GraphiQL's files from ``npm ci``'s ``node_modules`` into ``static/vendor``,
    each checked against its hash in ``integrity.json`` first; their sizes by name."""
    vendor = assets / "static" / "vendor"
    vendor.mkdir(parents=True, exist_ok=True)
    sizes: dict[str, int] = {}
    for name, entry in _vendor_manifest(assets).items():
        source = assets / "node_modules" / entry["from"]
        if not source.is_file():
            raise SystemExit(f"{source} is missing: run npm ci --prefix {assets}")
        found = _integrity(source)
        if found != entry["integrity"]:
            raise SystemExit(f"{source} is {found}, integrity.json pins {entry['integrity']}")
        shutil.copyfile(source, vendor / name)
        sizes[name] = source.stat().st_size
    return sizes


if __name__ == "__main__":
    for file, size in install_vendor_files().items():
        print(f"GraphiQL: {file} ({size} bytes, hash checked)", file=sys.stderr)
