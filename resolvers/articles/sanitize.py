"""Article bodies are sanitized on write with nh3 (the Rust ``ammonia`` allow-list sanitizer).

What is stored is what is served, so nothing that can run code in a reader's browser may
get in: scripts and styles go with their content, event-handler and ``style`` attributes
go, and URLs keep only safe schemes (never ``javascript:``, ``vbscript:`` or ``data:``).
"""

from __future__ import annotations

import nh3

__all__ = ["sanitize_html"]

# nh3's defaults (ammonia's conservative allow-list of formatting tags) plus the table
# footer they leave out.
_TAGS = nh3.ALLOWED_TAGS | {"tfoot"}
_ATTRIBUTES = {
    **{tag: set(names) for tag, names in nh3.ALLOWED_ATTRIBUTES.items()},
    "a": {"href", "hreflang", "title"},
    "img": {"alt", "height", "src", "title", "width", "loading"},
    "abbr": {"title"},
    "time": {"datetime"},
    "ol": {"start", "reversed"},
    "td": {"colspan", "rowspan", "headers"},
    "th": {"colspan", "rowspan", "headers", "scope"},
}
_URL_SCHEMES = {"http", "https", "mailto", "tel"}
# Removed together with everything inside them, not just unwrapped.
_CONTENT_TAGS = {"script", "style", "template", "iframe", "object", "embed", "noscript"}


def sanitize_html(html: str) -> str:
    """``html`` with everything that could run code removed; harmless markup kept."""
    return nh3.clean(
        html,
        tags=_TAGS,
        clean_content_tags=_CONTENT_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        strip_comments=True,
        link_rel="noopener noreferrer",
    )
