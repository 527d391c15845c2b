"""Running the ``masthead`` command line as a user runs it: a subprocess in the repository."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["ROOT", "masthead"]

ROOT = Path(__file__).resolve().parents[2]


def masthead(
    *args: str, database_url: str | None, environment: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``masthead *args`` against ``database_url`` (None: no URL set at all)."""
    env = {**os.environ, **(environment or {})}
    env.pop("MASTHEAD_DATABASE_URL", None)
    if database_url is not None:
        env["MASTHEAD_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "masthead.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
