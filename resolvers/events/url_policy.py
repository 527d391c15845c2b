"""Which webhook URLs Masthead may send to (SPEC, Events; server-side request forgery).

URLs are ``http`` or ``https`` with a host. In production (``guard_addresses``) a URL whose
host resolves to a loopback, private, link-local or otherwise non-public address is refused
unless the host is listed in ``allowed_hosts`` (``MASTHEAD_WEBHOOK_ALLOWED_HOSTS``): checked
when a webhook is saved and again before each delivery, since a name may resolve elsewhere
later. Deliveries never follow redirects (``delivery``), so a public URL cannot bounce a
request inward either.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["UrlPolicy"]

MAX_URL_LENGTH = 2000


@dataclass(frozen=True)
class UrlPolicy:
    guard_addresses: bool = False
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)

    async def refusal(self, url: str) -> str | None:
        """Why ``url`` may not receive webhooks, or None when it may."""
        if len(url) > MAX_URL_LENGTH:
            return f"A webhook URL has at most {MAX_URL_LENGTH} characters."
        try:
            parts = urlsplit(url)
            host = parts.hostname
            port = parts.port
        except ValueError:
            return "Not a valid URL."
        if parts.scheme not in ("http", "https") or not host:
            return "A webhook URL is http:// or https:// with a host."
        if not self.guard_addresses or host.lower() in self.allowed_hosts:
            return None
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                host, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
            )
        except OSError:
            return f"The host {host!r} does not resolve."
        for *_, address in found:
            ip = ipaddress.ip_address(address[0])
            if not ip.is_global or ip.is_multicast:
                return (
                    f"The host {host!r} resolves to a non-public address ({ip}); list it in "
                    "MASTHEAD_WEBHOOK_ALLOWED_HOSTS to allow it."
                )
        return None
