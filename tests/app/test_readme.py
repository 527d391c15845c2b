"""The README's examples, run as a reader runs them after a fresh ``make serve``.

Which examples run:

- Every ``sh`` block runs, unless ``NOT_RUN`` names it (by the start of its first
  line) with the reason. They run in README order in one bash session, as a reader
  following the README in one terminal would: ``TOKEN`` set in one is there for the next.
- Every ``graphql`` block is posted to the server, with the variables of a
  ``Variables `{...}`:`` line right after it, unless ``NOT_RUN`` names it.
- Other blocks (``json``, ``nginx``, plain ones) are illustrations; a ``json`` block right
  after a ``graphql`` one is its expected answer.

What is checked:

- A shell block is split into paragraphs at blank lines. A comment ending a paragraph,
  right under its last command, shows what the paragraph prints. A JSON one (``# {...}``)
  must equal the last line printed: the same keys, lists and values, where ``…`` in a
  string stands for any text and global ids (``id``) are compared by type only (they
  number rows); the answer may add the ``extensions`` the README leaves out. Any other
  comment must appear in the output.
- A command exiting non-zero fails the test unless ``EXPECTED_EXIT`` names it with its
  status; a curl answer carrying ``errors`` fails it unless its paragraph shows that answer.
- A GraphQL query must answer without errors, and as its ``json`` block shows by shape (the
  same keys, list items and value types): the demo content's dates, and with them orders
  and cursors, depend on the day it was loaded.

The setting is a fresh checkout after ``make serve``: a temporary directory holds
``.venv`` (a link to the virtualenv running the tests, whose ``bin`` is first on ``PATH``)
and, as the default ``MASTHEAD_DATABASE_URL``, ``masthead.db``. No ``MASTHEAD_`` variable
is set, for the examples either: they run as a user types them (the production one depends
on the URL being unset). ``masthead db upgrade``, ``masthead demo`` and ``masthead serve``
on a free port of 127.0.0.1 stand for ``make serve``, and ``localhost:8000`` in the
examples is rewritten to that port.

SQLite only: this tests the documentation as a user meets it after ``make serve``, which is
SQLite; the behaviour on PostgreSQL is what the rest of the suite tests.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sysconfig
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import OperationDefinitionNode, OperationType, parse

from tests.support.cli import ROOT

README = ROOT / "README.md"

NOT_RUN = {
    "make serve": "`make serve` is what this test does itself, and serves until stopped; "
    "`make test` is the whole suite",
    "masthead serve [": "a synopsis: brackets, N and SLUG are placeholders",
    "$ masthead import": "a transcript of importing a file the README does not give",
    "export MASTHEAD_DATABASE_URL=postgresql": "needs a PostgreSQL server",
    "export MASTHEAD_ENV=production": "needs PostgreSQL at db.internal, and serves until stopped",
    'python "${MASTHEAD_CORPUS_DIR': "needs the shared corpus tools and builds a database of "
    "100,000 articles: a benchmark, not an example",
    "mutation CreateDraft": "three operations with placeholder variables, for GraphiQL; the "
    "curl example runs the first two",
    "jq -c '": "a webhook receiver's purge at a CDN: needs an event and the CDN's credentials",
}

# Commands the README shows failing, with their exit status: 2 is the CLI's for a database
# or settings it cannot work with.
EXPECTED_EXIT = {
    "MASTHEAD_DATABASE_URL=sqlite:///new.db masthead demo": 2,
    "MASTHEAD_ENV=production masthead serve": 2,
}

_SCRIPTS = Path(sysconfig.get_path("scripts"))
_LOCAL_SERVER = re.compile(r"\b(?:localhost|127\.0\.0\.1):8000\b")
_MARK = "\x1e"  # record separator: brackets the paragraph markers in the output
_RUN_TIMEOUT = 90


@dataclass(frozen=True)
class _Block:
    language: str
    line: int  # of the first line inside the fence, counted from 1
    text: str
    after: str  # the prose up to the next block


def _blocks() -> list[_Block]:
    lines = README.read_text(encoding="utf-8").splitlines()
    found: list[tuple[str, int, int, int]] = []  # language, first line, end line, indent
    i = 0
    while i < len(lines):
        opening = re.fullmatch(r"( *)```(\w*)\s*", lines[i])
        if opening is None:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        found.append((opening[2], i + 1, end, len(opening[1])))
        i = end + 1
    blocks = []
    for n, (language, first, end, indent) in enumerate(found):
        # Blocks inside list items are indented like the item's text.
        text = "\n".join(line[indent:] for line in lines[first:end])
        upto = found[n + 1][1] - 1 if n + 1 < len(found) else len(lines)
        blocks.append(_Block(language, first + 1, text, "\n".join(lines[end + 1 : upto])))
    return blocks


def _first_line(block: _Block) -> str:
    return block.text.strip().splitlines()[0].strip() if block.text.strip() else ""


def _not_run(block: _Block) -> str | None:
    first = _first_line(block)
    return next((reason for key, reason in NOT_RUN.items() if first.startswith(key)), None)


# --- comparing answers -------------------------------------------------------------------


def _same_string(expected: str, actual: str) -> bool:
    pattern = ".*".join(re.escape(part) for part in expected.split("…"))
    return re.fullmatch(pattern, actual, re.DOTALL) is not None


def _difference(expected: Any, actual: Any, *, exact: bool, path: str = "") -> str | None:
    """Where ``actual`` differs from the README's ``expected``, or None.

    ``exact`` compares values and list lengths; otherwise only the shape (keys, types) and
    the first items of lists, which the README cuts short.
    """
    where = path or "the answer"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where}: {actual!r} is not an object"
        # The README leaves every answer's `extensions` out (its cost), unless it is the point.
        keys = set(actual) - ({"extensions"} - set(expected) if not path else set())
        if set(expected) != keys:
            return f"{where}: keys {sorted(keys)}, the README shows {sorted(expected)}"
        for key, value in expected.items():
            found = _difference(value, actual[key], exact=exact, path=f"{path}.{key}")
            if found is not None:
                return found
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{where}: {actual!r} is not a list"
        # An empty list must stay empty: `"errors": []` says the mutation wrote.
        cut_short = not exact and bool(expected)
        if len(actual) < len(expected) if cut_short else len(actual) != len(expected):
            return f"{where}: {len(actual)} items, the README shows {len(expected)}"
        for n, (value, got) in enumerate(zip(expected, actual, strict=False)):
            found = _difference(value, got, exact=exact, path=f"{path}[{n}]")
            if found is not None:
                return found
        return None
    if isinstance(expected, str) and isinstance(actual, str):
        if not exact or path.endswith(".id") or _same_string(expected, actual):
            return None
    elif isinstance(expected, bool) or isinstance(actual, bool) or expected is None:
        if expected == actual and type(expected) is type(actual):
            return None
    elif (
        isinstance(expected, int | float)
        and isinstance(actual, int | float)
        and (not exact or expected == actual)
    ):
        return None
    return f"{where}: {actual!r}, the README shows {expected!r}"


def _error_answers(value: Any) -> bool:
    """Whether an answer carries errors, top-level or in a mutation's payload."""
    if isinstance(value, dict):
        return bool(value.get("errors")) or any(_error_answers(v) for v in value.values())
    if isinstance(value, list):
        return any(_error_answers(v) for v in value)
    return False


# --- the site the examples run against ---------------------------------------------------


@dataclass(frozen=True)
class _Site:
    home: Path
    port: int
    environment: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _environment(home: Path) -> dict[str, str]:
    # A reader's fresh shell: no MASTHEAD_ settings, the virtualenv's commands found first,
    # and no proxy between curl and the local server.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MASTHEAD_")}
    local = "127.0.0.1,localhost"
    environment.update(
        PATH=f"{home / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        NO_PROXY=local,
        no_proxy=local,
    )
    return environment


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Site]:
    home = tmp_path_factory.mktemp("readme")
    if not (_SCRIPTS / "masthead").exists():
        pytest.fail(f"no `masthead` beside the Python running the tests ({_SCRIPTS})")
    (home / ".venv").symlink_to(_SCRIPTS.parent, target_is_directory=True)
    environment = _environment(home)
    for command in (["db", "upgrade"], ["demo"]):
        done = subprocess.run(
            ["masthead", *command],
            cwd=home,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    port = _free_port()
    with (home / "serve.log").open("w") as log:
        server = subprocess.Popen(
            ["masthead", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=home,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_ready(server, port, home / "serve.log")
        yield _Site(home, port, environment)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_until_ready(server: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    with httpx.Client(trust_env=False, timeout=1) as http:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                pytest.fail(f"`masthead serve` exited {server.returncode}:\n{log.read_text()}")
            try:
                if http.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    pytest.fail(f"`masthead serve` was not ready within 30 s:\n{log.read_text()}")


# --- shell examples ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Paragraph:
    line: int
    code: str
    shown: list[str]  # the comment lines that show its output, without "# "

    @property
    def shown_json(self) -> Any:
        """The answer the paragraph shows as JSON, or None."""
        text = " ".join(self.shown)
        return json.loads(text) if text.startswith(("{", "[")) else None


def _paragraphs(block: _Block) -> list[_Paragraph]:
    """The block's paragraphs, split at blank lines where bash sees whole commands."""
    paragraphs: list[_Paragraph] = []
    start, body = block.line, list[str]()
    for n, line in enumerate([*block.text.splitlines(), ""]):
        if line.strip():
            start = start if body else block.line + n
            body.append(line)
        elif body and _parses("\n".join(body)):
            paragraphs.append(_paragraph(start, body))
            body = []
        elif body:
            body.append(line)  # a blank line inside a quoted string: the command goes on
    assert not body, f"README line {start}: the shell example does not parse"
    return paragraphs


def _paragraph(start: int, body: list[str]) -> _Paragraph:
    shown = 0
    while shown < len(body) - 1 and body[-1 - shown].lstrip().startswith("#"):
        shown += 1
    output = [line.lstrip()[1:].strip() for line in body[len(body) - shown :]]
    return _Paragraph(start, "\n".join(body[: len(body) - shown]), output)


def _parses(code: str) -> bool:
    check = subprocess.run(
        ["bash", "-n"], input=code, capture_output=True, text=True, timeout=10, check=False
    )
    return check.returncode == 0


def _script(paragraphs: list[_Paragraph], answers: Path, port: int) -> str:
    answers_dir = shlex.quote(str(answers))
    # Each failing command is recorded (its status, paragraph and text), not fatal, as in an
    # interactive shell; pipefail so a failing curl or masthead is not hidden by a pipe.
    # curl is wrapped to keep a copy of every answer; -q keeps ~/.curlrc out of it.
    lines = [
        "set -o pipefail",
        f"__readme_answers={answers_dir}",
        "__readme_paragraph=0",
        'trap \'printf "%s\\0%s\\0%s\\0" "$?" "$__readme_paragraph" "$BASH_COMMAND"'
        ' >> "$__readme_answers/failures"\' ERR',
        'curl() { command curl -q "$@" | tee "$(mktemp '
        '"$__readme_answers/answer.$__readme_paragraph.XXXXXX")"; }',
    ]
    for n, paragraph in enumerate(paragraphs):
        lines += [
            f"__readme_paragraph={n}",
            f"printf '\\n{_MARK}%s{_MARK}\\n' {n}",
            _LOCAL_SERVER.sub(f"127.0.0.1:{port}", paragraph.code),
        ]
    lines.append(f"printf '\\n{_MARK}end{_MARK}\\n'")
    return "\n".join(lines) + "\n"


def _run(script: Path, site: _Site) -> str:
    shell = subprocess.Popen(
        ["bash", "--noprofile", "--norc", str(script)],
        cwd=site.home,
        env=site.environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # so that a timeout can stop whatever an example started
    )
    try:
        output, _ = shell.communicate(timeout=_RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(shell.pid, signal.SIGKILL)
        output, _ = shell.communicate()
        pytest.fail(f"the examples did not finish within {_RUN_TIMEOUT} s:\n{output.decode()}")
    return output.decode()


def _check_output(paragraph: _Paragraph, output: str) -> str | None:
    """How the paragraph's output differs from what the README shows, or None."""
    expected = paragraph.shown_json
    if expected is None:
        missing = [line for line in paragraph.shown if line not in output]
        return f"the output lacks {missing}:\n{output}" if missing else None
    printed = output.strip().splitlines()
    try:
        answer = json.loads(printed[-1] if printed else "")
    except json.JSONDecodeError:
        return f"the README shows JSON, the output is:\n{output}"
    return _difference(expected, answer, exact=True)


def _check_answers(paragraph: _Paragraph, answers: list[Path]) -> list[str]:
    problems = []
    for path in answers:
        text = path.read_text()
        if not text:
            continue  # curl wrote its answer elsewhere (-o)
        try:
            answer = json.loads(text)
        except json.JSONDecodeError:
            problems.append(f"curl got no JSON: {text[:500]}")
            continue
        if _error_answers(answer) and not _error_answers(paragraph.shown_json):
            problems.append(f"curl got errors where the README shows none: {text[:500]}")
    return problems


def _failures(path: Path) -> list[tuple[int, int, str]]:
    """The commands that failed: exit status, paragraph, command text."""
    fields = path.read_bytes().decode().split("\0")[:-1] if path.exists() else []
    return [
        (int(status), int(paragraph), command.strip())
        for status, paragraph, command in zip(fields[0::3], fields[1::3], fields[2::3], strict=True)
    ]


def test_the_shell_examples_run_as_written(site: _Site, tmp_path: Path) -> None:
    blocks = [b for b in _blocks() if b.language == "sh" and _not_run(b) is None]
    assert blocks, "the README has no shell example to run"
    paragraphs = [paragraph for block in blocks for paragraph in _paragraphs(block)]
    answers = tmp_path / "answers"
    answers.mkdir()
    script = tmp_path / "examples.sh"
    script.write_text(_script(paragraphs, answers, site.port))
    output = _run(script, site)

    pieces = re.split(f"\n{_MARK}(\\d+|end){_MARK}\n", output)
    printed = dict(zip(pieces[1::2], pieces[2::2], strict=True))
    assert "end" in printed, f"the examples stopped early:\n{output}"
    problems: list[str] = []
    unmet = dict(EXPECTED_EXIT)
    for status, n, command in _failures(answers / "failures"):
        if unmet.pop(command, None) != status:
            problems.append(
                f"README line {paragraphs[n].line}: `{command}` exited {status}:\n"
                f"{printed.get(str(n), '')}"
            )
    problems += [f"`{command}` did not exit {status}" for command, status in unmet.items()]
    for n, paragraph in enumerate(paragraphs):
        found = [_check_output(paragraph, printed.get(str(n), ""))]
        found += _check_answers(paragraph, sorted(answers.glob(f"answer.{n}.*")))
        problems += [f"README line {paragraph.line}: {p}" for p in found if p is not None]
    assert not problems, "\n\n".join(problems)


# --- GraphQL examples --------------------------------------------------------------------


def _variables(block: _Block) -> dict[str, Any]:
    given = re.match(r"\s*Variables `(.+)`:", block.after)
    return json.loads(given[1]) if given else {}


def _expected_answer(block: _Block, following: _Block | None) -> Any:
    """The answer a ``json`` block right after the query (or its variables) shows, or None."""
    between = re.sub(r"\s*Variables `.+`:", "", block.after).strip()
    if following is None or following.language != "json" or between:
        return None
    return json.loads(following.text)


def test_the_graphql_examples_answer_as_shown(site: _Site) -> None:
    blocks = _blocks()
    problems: list[str] = []
    with httpx.Client(trust_env=False, timeout=10) as http:
        for block, following in zip(blocks, [*blocks[1:], None], strict=True):
            if block.language != "graphql" or _not_run(block) is not None:
                continue
            where = f"README line {block.line}"
            kinds = {
                d.operation
                for d in parse(block.text).definitions
                if isinstance(d, OperationDefinitionNode)
            }
            if kinds != {OperationType.QUERY}:
                problems.append(f"{where}: not a query: run it or add it to NOT_RUN")
                continue
            answer = http.post(
                site.url, json={"query": block.text, "variables": _variables(block)}
            ).json()
            if "errors" in answer:
                problems.append(f"{where}: {answer['errors']}")
                continue
            expected = _expected_answer(block, following)
            difference = None if expected is None else _difference(expected, answer, exact=False)
            if difference is not None:
                problems.append(f"{where}: {difference}")
    assert not problems, "\n\n".join(problems)


def test_every_example_not_run_is_in_the_readme() -> None:
    firsts = [_first_line(block) for block in _blocks()]
    stale = [key for key in NOT_RUN if not any(first.startswith(key) for first in firsts)]
    assert not stale, f"NOT_RUN names examples the README no longer has: {stale}"
