"""The committed ``schema.graphql`` is the live schema: integrators diff it between releases."""

from __future__ import annotations

from pathlib import Path

from schema.schema import schema

SDL = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_committed_sdl_matches_live_schema() -> None:
    assert SDL.read_text() == schema.as_str() + "\n", "run `make schema` and commit schema.graphql"
