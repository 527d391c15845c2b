"""graphql-codegen, the real npm package, makes TypeScript types from ``masthead schema``
and the reference operations (masthead/operations), and a front end's code using them
compiles with ``tsc --strict``; code misreading a nullable field does not. The tools are
npm packages: ``npm ci --prefix tests/codegen`` installs them (``.ci/run`` does); without
node or the packages the test is skipped."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from tests.support.cli import ROOT, masthead

CODEGEN = ROOT / "tests" / "codegen"


async def _run(*args: str, environment: dict[str, str] | None = None) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *args,
        cwd=CODEGEN,
        env={**os.environ, **(environment or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(100):
        out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


def _tsc(*files: Path) -> list[str]:
    compiler = str(CODEGEN / "node_modules" / ".bin" / "tsc")
    return [
        compiler,
        "--strict",
        "--noEmit",
        "--target",
        "es2022",
        "--module",
        "esnext",
        "--moduleResolution",
        "bundler",
    ] + [str(file) for file in files]


async def test_codegen_types_compile_with_tsc_strict(tmp_path: Path) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed: graphql-codegen runs on it")
    bin_dir = CODEGEN / "node_modules" / ".bin"
    if not (bin_dir / "graphql-codegen").exists():
        pytest.skip("graphql-codegen is not installed: npm ci --prefix tests/codegen")
    printed = masthead("schema", database_url=None)
    assert printed.returncode == 0, printed.stderr
    schema = tmp_path / "schema.graphql"
    schema.write_text(printed.stdout)
    generated = tmp_path / "graphql.ts"

    status, out = await _run(
        str(bin_dir / "graphql-codegen"),
        "--config",
        "codegen.yml",
        environment={"SCHEMA": str(schema), "OUT": str(generated)},
    )
    assert status == 0, out
    types = generated.read_text()
    for name in ("ArticlePageQuery", "HomeQuery", "CategoryPageQuery", "ArticleStatus"):
        assert f"export type {name} =" in types

    # The front end's code sits beside the types it imports (./graphql).
    for file in ("pages.ts", "misread.ts"):
        shutil.copyfile(CODEGEN / file, tmp_path / file)
    status, out = await _run(*_tsc(tmp_path / "pages.ts"))
    assert status == 0, out
    status, out = await _run(*_tsc(tmp_path / "misread.ts"))
    assert status != 0
    assert "error TS18047: 'data.article' is possibly 'null'." in out
