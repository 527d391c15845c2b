"""Where the shared corpus tools are: ``../shared/corpus`` beside the repository, or
``MASTHEAD_CORPUS_DIR``. Tests may use them; the product never does."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CORPUS_DIR", "GENERATOR", "QUERIES"]

CORPUS_DIR = Path(
    os.environ.get("MASTHEAD_CORPUS_DIR")
    or Path(__file__).resolve().parents[3] / "shared" / "corpus"
)
GENERATOR = CORPUS_DIR / "generate.py"
QUERIES = CORPUS_DIR / "queries"
