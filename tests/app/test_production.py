"""MASTHEAD_ENV=production: no IDE, no introspection, and no start with unsafe settings."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from masthead.app import create_app
from masthead.settings import Settings
from tests.support.cli import masthead
from tests.support.graphql import graphql


def _production(**values: object) -> Settings:
    return Settings(env="production", _env_file=None, **values)  # type: ignore[call-arg, arg-type]  # pydantic-settings init kwargs


async def test_production_hides_the_ide_and_the_schema(database_url: str) -> None:
    app = create_app(_production(database_url=database_url))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        page = await client.get("/graphql", headers={"accept": "text/html"})
        body = await graphql(client, "{ __schema { queryType { name } } }")
    await app.state.engine.dispose()
    assert page.status_code == 404
    assert "introspection" in body["errors"][0]["message"].lower()


def test_production_keeps_what_is_set_explicitly(database_url: str) -> None:
    settings = _production(database_url=database_url, graphiql=True)
    assert settings.graphiql is True and settings.introspection is False


@pytest.mark.parametrize(
    ("values", "reason"),
    [({}, "MASTHEAD_DATABASE_URL is not set"), ({"log_sql": True}, "MASTHEAD_LOG_SQL")],
)
def test_production_refuses_unsafe_settings(
    database_url: str, values: dict[str, object], reason: str
) -> None:
    if "log_sql" in values:
        values = {**values, "database_url": database_url}
    with pytest.raises(ValidationError, match=reason):
        _production(**values)


def test_the_cli_refuses_to_serve_with_unsafe_settings() -> None:
    result = masthead("serve", database_url=None, environment={"MASTHEAD_ENV": "production"})
    assert result.returncode == 2
    assert "MASTHEAD_ENV=production refuses to start" in result.stderr
    assert "Traceback" not in result.stderr
