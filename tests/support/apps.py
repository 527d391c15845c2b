"""An app built with some settings changed, and a client speaking to it through ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from masthead.app import close, create_app
from masthead.settings import Settings

__all__ = ["client_of_app_with"]


@asynccontextmanager
async def client_of_app_with(
    settings: Settings, **values: object
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a fresh app made with ``settings`` changed by ``values``, closed after."""
    app = create_app(settings.model_copy(update=values))
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        await close(app)
